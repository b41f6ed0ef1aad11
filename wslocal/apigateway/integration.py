"""What API Gateway makes of a Lambda proxy integration's result.

Pure functions: a handler's return value becomes a ProxyResponse (nothing, or no
``statusCode``, counts as 200), an authorizer's becomes an AuthorizerDecision, and the
service's own error messages are built here.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

FORBIDDEN = "Forbidden"
INTERNAL_SERVER_ERROR = "Internal server error"
TOO_MANY_REQUESTS = "Too Many Requests"

_CLOSE_REASONS = {
    1000: "Normal closure",
    1001: "Going away",
    1005: "Client-side close frame status not set",
    1006: "Connection was closed abnormally",
    1009: "Message too big",
}


class MalformedResultError(ValueError):
    """The integration returned something API Gateway cannot use."""


@dataclass(frozen=True)
class ProxyResponse:
    status_code: int
    body: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return 200 <= self.status_code < 300


def proxy_response(result: Any) -> ProxyResponse:
    """Read a handler's return value as API Gateway does; raise MalformedResultError
    for one it would answer with "Internal server error"."""
    if result is None:
        return ProxyResponse(200)
    if not isinstance(result, dict):
        raise MalformedResultError(f"the handler returned a {type(result).__name__}, not an object")
    try:
        status = int(result.get("statusCode", 200))
    except (TypeError, ValueError):
        raise MalformedResultError(
            f"statusCode {result.get('statusCode')!r} is not a number"
        ) from None
    body = result.get("body")
    if body is not None and not isinstance(body, str):
        raise MalformedResultError("body must be a string")
    headers = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
    return ProxyResponse(status, body, headers)


def gateway_error(message: str, connection_id: str, request_id: str) -> str:
    """The message API Gateway itself sends to the client (Forbidden, Internal server error)."""
    return json.dumps({"message": message, "connectionId": connection_id, "requestId": request_id})


def close_reason(code: int, reason: str) -> str:
    """``disconnectReason`` for a close: the peer's reason text, or the standard one."""
    return reason or _CLOSE_REASONS.get(code, "")


@dataclass(frozen=True)
class AuthorizerDecision:
    status: int
    """200 to go on to $connect; 401 or 403 rejects the handshake; 500 when it failed."""
    context: Mapping[str, Any] | None = None


def authorizer_decision(result: Any, method_arn: str) -> AuthorizerDecision:
    """Read a REQUEST authorizer's IAM policy: Allow on the method ARN, and no Deny."""
    if not isinstance(result, dict) or not isinstance(result.get("policyDocument"), dict):
        return AuthorizerDecision(500)
    statements = result["policyDocument"].get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    effects = set()
    for statement in statements:
        resources = statement.get("Resource", [])
        resources = [resources] if isinstance(resources, str) else resources
        if any(fnmatch.fnmatchcase(method_arn, pattern) for pattern in resources):
            effects.add(str(statement.get("Effect", "")).capitalize())
    if "Deny" in effects or "Allow" not in effects:
        return AuthorizerDecision(403)
    context = {"principalId": result.get("principalId", "")}
    context.update(result.get("context") or {})
    return AuthorizerDecision(200, context)


def is_unauthorized(error: Mapping[str, Any]) -> bool:
    """An authorizer that raises ``Exception("Unauthorized")`` means 401, as on AWS."""
    return error.get("errorMessage") == "Unauthorized"
