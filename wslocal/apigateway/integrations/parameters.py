"""``RequestParameters``: the headers, query string and path parameters the integration
request gets, each from the request (``route.request.header.X``, REST's
``method.request.querystring.X``), the context (``context.connectionId``), a stage
variable (``stageVariables.x``) or a literal (``'application/json'``)."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from wslocal.apigateway.integrations.exceptions import IntegrationError

_TARGETS = ("header", "querystring", "path")
_REQUEST_PREFIXES = ("route.request.", "method.request.")


@dataclass(frozen=True)
class IntegrationParameters:
    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    path: Mapping[str, str] = field(default_factory=dict)


def integration_parameters(
    parameters: Mapping[str, str], event: Mapping[str, Any]
) -> IntegrationParameters:
    """The values of ``integration.request.{header,querystring,path}.<name>``; a source
    the request lacks gives no parameter, as API Gateway omits it."""
    found: dict[str, dict[str, str]] = {target: {} for target in _TARGETS}
    for destination, source in parameters.items():
        parts = destination.split(".", 3)
        if len(parts) != 4 or parts[:2] != ["integration", "request"] or parts[2] not in found:
            raise IntegrationError(f"RequestParameters: {destination!r} is not a parameter")
        value = parameter_value(source, event)
        if value is not None:
            found[parts[2]][parts[3]] = value
    return IntegrationParameters(found["header"], found["querystring"], found["path"])


def parameter_value(source: str, event: Mapping[str, Any]) -> str | None:
    if len(source) >= 2 and source.startswith("'") and source.endswith("'"):
        return source[1:-1]
    if source.startswith("context."):
        return _walk(event.get("requestContext") or {}, source.removeprefix("context."))
    if source.startswith("stageVariables."):
        return _walk(event.get("stageVariables") or {}, source.removeprefix("stageVariables."))
    for prefix in _REQUEST_PREFIXES:
        if source.startswith(prefix):
            where, _, name = source.removeprefix(prefix).partition(".")
            if where == "header":
                headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
                return _string(headers.get(name.lower()))
            if where == "querystring":
                return _string((event.get("queryStringParameters") or {}).get(name))
            if where == "path":
                return _string((event.get("pathParameters") or {}).get(name))
    raise IntegrationError(f"RequestParameters: {source!r} is not a source API Gateway reads")


def _request_body(event: Mapping[str, Any]) -> str:
    """The body the client sent: an HTTP API event carries a body whose content type is not
    text base64-encoded (for Lambda), but the mapping reads the request itself."""
    body = str(event.get("body") or "")
    if not event.get("isBase64Encoded"):
        return body
    try:
        return base64.b64decode(body).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return ""


def mapped_value(source: str, event: Mapping[str, Any]) -> str:
    """An HTTP API's mapping value: ``$request.header.x``, ``$request.querystring.x``,
    ``$request.path.x``, ``$request.body`` or ``$request.body.a.b``, ``$context.x``,
    ``$stageVariables.x``, or the text itself; what the request lacks is empty."""
    if source == "$request.body":
        return _request_body(event)
    if source.startswith("$request.body."):
        try:
            document = json.loads(_request_body(event))
        except ValueError:
            return ""
        value = _walk(document if isinstance(document, Mapping) else {}, source[14:], True)
        return value or ""
    for prefix, part in (
        ("$request.header.", "headers"),
        ("$request.querystring.", "queryStringParameters"),
        ("$request.path.", "pathParameters"),
    ):
        if source.startswith(prefix):
            name = source.removeprefix(prefix)
            found = {str(k).lower(): v for k, v in (event.get(part) or {}).items()}
            return _string(found.get(name.lower())) or ""
    if source.startswith("$context."):
        return _walk(event.get("requestContext") or {}, source.removeprefix("$context.")) or ""
    if source.startswith("$stageVariables."):
        name = source.removeprefix("$stageVariables.")
        return _walk(event.get("stageVariables") or {}, name) or ""
    return source


def _walk(document: Mapping[str, Any], path: str, as_json: bool = False) -> str | None:
    """The value at a dotted path; ``as_json``: a value that is not a string as JSON."""
    value: Any = document
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    if as_json and not isinstance(value, str):
        return json.dumps(value)
    return _string(value)


def _string(value: Any) -> str | None:
    return None if value is None else str(value)
