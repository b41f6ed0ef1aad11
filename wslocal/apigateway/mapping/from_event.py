"""A Lambda proxy event (what ``wslocal generate-event`` prints, or a captured one) read
as a mapping template's input: its body, its parameters and its ``requestContext`` as
``$context`` (the proxy event's requestContext carries the same names)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from wslocal.apigateway.mapping import MappingInput
from wslocal.exceptions import WslocalError


def mapping_input_from_event(
    event: Mapping[str, Any],
    stage_variables: Mapping[str, str] | None = None,
    context_overrides: Mapping[str, str] | None = None,
) -> MappingInput:
    """``event``'s body, path/query/header parameters, requestContext and stage variables;
    ``stage_variables`` add to or replace the event's, and ``context_overrides`` set
    ``$context`` values by dotted name (``identity.sourceIp``, ``authorizer.role``)."""
    if not isinstance(event, Mapping):
        raise WslocalError("the event must be a JSON object (a Lambda proxy event)")
    body = event.get("body") or ""
    if not isinstance(body, str):
        raise WslocalError("the event's body must be a string")
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(body, validate=True).decode("utf-8", errors="replace")
        except (binascii.Error, ValueError) as exc:
            raise WslocalError(f"the event's body is not base64: {exc}") from None
    context = _copy(event.get("requestContext") or {})
    for name, value in (context_overrides or {}).items():
        _set_dotted(context, name, value)
    return MappingInput(
        body=body,
        params={
            "path": _strings(event.get("pathParameters")),
            "querystring": _strings(event.get("queryStringParameters")),
            "header": _strings(event.get("headers")),
        },
        context=context,
        stage_variables=_strings(event.get("stageVariables")) | dict(stage_variables or {}),
    )


def _strings(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(key): str(item) for key, item in value.items()}


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(key): _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def _set_dotted(context: dict[str, Any], name: str, value: str) -> None:
    *parents, last = name.split(".")
    node = context
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[last] = value
