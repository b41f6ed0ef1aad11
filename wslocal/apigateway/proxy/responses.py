"""What a function's result means on the wire, for REST and HTTP APIs, and the answers
the API gives on its own (no route, too large, a failed or slow integration).

REST (payload 1.0) takes only ``statusCode``, ``headers``, ``multiValueHeaders``, ``body``
and ``isBase64Encoded``; anything else is a malformed response, 502. An HTTP API with
payload 2.0 infers: a result without ``statusCode`` is sent as 200 JSON (a string as
is), and ``cookies`` become ``Set-Cookie`` lines. A base64 body is decoded. A REST
response without a ``Content-Type`` is sent as ``application/json``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from wslocal.apigateway.proxy.events import is_binary_type
from wslocal.template.model import MockResponseModel, ProxyApiModel, ProxyRouteModel

Headers = list[tuple[str, str]]

_REST_FIELDS = {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"}
_V2_FIELDS = {*_REST_FIELDS, "cookies"}


@dataclass(frozen=True)
class ProxyResponse:
    status: int
    headers: Headers = field(default_factory=list)
    body: bytes = b""


def _message(status: int, message: str, key: str = "message") -> ProxyResponse:
    return ProxyResponse(
        status,
        [("Content-Type", "application/json")],
        json.dumps({key: message}).encode(),
    )


def no_route(api: ProxyApiModel) -> ProxyResponse:
    """REST: 403 Missing Authentication Token (the famous one); HTTP: 404."""
    if api.kind == "REST":
        return _message(403, "Missing Authentication Token")
    return _message(404, "Not Found")


def too_large(api: ProxyApiModel) -> ProxyResponse:
    """Over the 10 MB payload quota, answered before the body is read."""
    if api.kind == "REST":
        return _message(413, "Request Too Long")
    return _message(413, "Request Entity Too Large")


def integration_failed(api: ProxyApiModel) -> ProxyResponse:
    """The handler raised, crashed or its result was malformed."""
    if api.kind == "REST":
        return _message(502, "Internal server error")
    return _message(500, "Internal Server Error")


def integration_timed_out(api: ProxyApiModel) -> ProxyResponse:
    """The integration ran past its timeout (29 s REST, 30 s HTTP at most)."""
    if api.kind == "REST":
        return _message(504, "Endpoint request timed out")
    return _message(503, "Service Unavailable")


def mock_response(mock: MockResponseModel) -> ProxyResponse:
    return ProxyResponse(mock.status, list(mock.headers.items()), mock.body.encode())


class MalformedResultError(ValueError):
    """The function's result is not a proxy response; the caller answers 502/500."""


def function_response(
    api: ProxyApiModel, route: ProxyRouteModel, result: Any, *, accept: str | None = None
) -> ProxyResponse:
    """The HTTP response for ``result``; raises MalformedResultError. A REST API decodes
    a base64 body only when the request's first ``Accept`` type is one of its binary
    media types (else the client gets the base64 text); an HTTP API always does."""
    inferring = api.kind == "HTTP" and route.payload_format == "2.0"
    if inferring and not (isinstance(result, Mapping) and "statusCode" in result):
        body = result if isinstance(result, str) else json.dumps(result)
        return ProxyResponse(200, [("Content-Type", "application/json")], body.encode())
    if not isinstance(result, Mapping):
        raise MalformedResultError("the result is not an object")
    unknown = set(result) - (_V2_FIELDS if api.kind == "HTTP" else _REST_FIELDS)
    if unknown:
        raise MalformedResultError(f"unexpected fields {sorted(unknown)}")
    status = _status(result.get("statusCode"))
    headers = _headers(result.get("headers"), result.get("multiValueHeaders"))
    if inferring:
        headers += [("Set-Cookie", str(cookie)) for cookie in _list(result.get("cookies"))]
    if api.kind == "REST" and not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/json"))  # API Gateway's default
    decodes = api.kind == "HTTP" or is_binary_type(api, accept)
    return ProxyResponse(
        status, headers, _body(result.get("body"), result.get("isBase64Encoded"), decodes)
    )


def _status(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise MalformedResultError("statusCode is not a number")
    try:
        status = int(value)
    except ValueError:
        raise MalformedResultError("statusCode is not a number") from None
    if not 100 <= status <= 599:
        raise MalformedResultError(f"statusCode {status} is not an HTTP status")
    return status


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedResultError("a list was expected")
    return value


def _headers(single: Any, multi: Any) -> Headers:
    """Both sent; where a name is in both, multiValueHeaders' values win."""
    if single is not None and not isinstance(single, Mapping):
        raise MalformedResultError("headers is not an object")
    if multi is not None and not isinstance(multi, Mapping):
        raise MalformedResultError("multiValueHeaders is not an object")
    headers: Headers = []
    in_multi = {str(name).lower() for name in (multi or {})}
    for name, value in (single or {}).items():
        if str(name).lower() not in in_multi:
            headers.append((str(name), _scalar(value)))
    for name, values in (multi or {}).items():
        headers += [(str(name), _scalar(value)) for value in _list(values)]
    return headers


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise MalformedResultError("a header value is not a string")


def _body(body: Any, encoded: Any, decodes: bool) -> bytes:
    if body is None:
        return b""
    if not isinstance(body, str):
        raise MalformedResultError("body is not a string")
    if encoded is True or str(encoded).lower() == "true":
        try:
            decoded = base64.b64decode(body, validate=True)
        except binascii.Error:
            raise MalformedResultError("isBase64Encoded, but the body is not base64") from None
        if decodes:
            return decoded
    return body.encode("utf-8")
