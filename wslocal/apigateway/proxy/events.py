"""The Lambda proxy events of REST and HTTP APIs, field for field as API Gateway sends
them (compared with real captures: Powertools' ``apiGatewayProxyEvent_noVersionAuth.json``
for payload 1.0, ``apiGatewayProxyV2Event.json`` for 2.0).

Payload 1.0 (every REST API; an HTTP API route that asks for it, with ``version``):
``headers`` and ``queryStringParameters`` hold the last value, the ``multiValue*`` fields
all of them, absent ones are ``null``; ``path`` is without the stage, the context's
``path`` with it. Payload 2.0: lower-cased headers, repeated headers and query values
joined with commas, ``cookies`` taken out of the headers, empty fields left out.
Pure: ids and time are arguments.
"""

from __future__ import annotations

import base64
import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from wslocal.apigateway.events import request_time, single_and_multi
from wslocal.apigateway.proxy.routes import RouteMatch
from wslocal.template.model import ProxyApiModel
from wslocal.template.reader import api_id_for

Pairs = Sequence[tuple[str, str]]


@dataclass(frozen=True)
class ProxyRequest:
    """One HTTP request as the API received it."""

    method: str
    path: str
    """As sent, percent-encoded, stage included."""
    raw_query: str
    query: Pairs
    headers: Pairs
    body: bytes
    source_ip: str
    domain_name: str
    protocol: str = "HTTP/1.1"

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        found = None
        for key, value in self.headers:
            if key.lower() == wanted:
                found = value
        return found


@dataclass(frozen=True)
class Invocation:
    request_id: str
    """A REST API's is a UUID; an HTTP API's is shaped like ``JKJaXmPLvHcESHA=``."""
    now_ms: int
    account_id: str
    extended_request_id: str | None = None
    """A REST API's second id (``JKJaXmPLvHcESHA=``); None: the request id (HTTP)."""


_FRONT_END = ("x-forwarded-for", "x-forwarded-port", "x-forwarded-proto", "x-amzn-trace-id")


def front_end_headers(
    headers: Pairs, *, source_ip: str, server_port: int, trace: str, scheme: str = "http"
) -> list[tuple[str, str]]:
    """The client's headers plus those API Gateway's front end adds: the client's own
    ``X-Forwarded-For`` extended by its address, the port and scheme it came in on (the
    stage's: plain HTTP; AWS's: 443, https), and an X-Ray trace id unless the client
    sent one."""
    sent = {name.lower(): value for name, value in headers}
    forwarded = sent.get("x-forwarded-for")
    return [
        *((name, value) for name, value in headers if name.lower() not in _FRONT_END),
        ("X-Amzn-Trace-Id", sent.get("x-amzn-trace-id") or trace),
        ("X-Forwarded-For", f"{forwarded}, {source_ip}" if forwarded else source_ip),
        ("X-Forwarded-Port", str(server_port)),
        ("X-Forwarded-Proto", scheme),
    ]


_TEXT_TYPES = ("application/json", "application/xml", "application/javascript")


def media_type(value: str | None) -> str:
    """``image/png`` of ``Image/PNG; q=0.9, text/html``: the first type, lower-cased."""
    return (value or "").split(",", 1)[0].split(";", 1)[0].strip().lower()


def is_binary_type(api: ProxyApiModel, value: str | None) -> bool:
    """A REST API's ``BinaryMediaTypes`` (wildcards allowed) include ``value``'s type."""
    wanted = media_type(value)
    return bool(wanted) and any(fnmatch.fnmatch(wanted, t.lower()) for t in api.binary_media_types)


def is_binary(api: ProxyApiModel, request: ProxyRequest) -> bool:
    """REST: the body goes base64 when its Content-Type is one of the API's
    BinaryMediaTypes. HTTP APIs: unless its Content-Type is text, JSON, XML or
    JavaScript (a missing one, or form data, goes base64), as measured on AWS."""
    content_type = request.header("Content-Type")
    if api.kind == "HTTP":
        wanted = media_type(content_type)
        return not (wanted.startswith("text/") or wanted in _TEXT_TYPES)
    return is_binary_type(api, content_type)


def _body(api: ProxyApiModel, request: ProxyRequest) -> tuple[str | None, bool]:
    if not request.body:
        return None, False
    if is_binary(api, request):
        return base64.b64encode(request.body).decode(), True
    return request.body.decode("utf-8", "replace"), False


def _single_and_multi(pairs: Pairs) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    """As the WebSocket events have them, but ``null`` when there are none (REST)."""
    return single_and_multi(pairs) if pairs else (None, None)


def rest_event(
    api: ProxyApiModel,
    match: RouteMatch,
    request: ProxyRequest,
    invocation: Invocation,
    authorizer: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Payload 1.0: what every REST API sends, and an HTTP API route with version 1.0."""
    headers, multi_headers = _single_and_multi(request.headers)
    query, multi_query = _single_and_multi(request.query)
    body, encoded = _body(api, request)
    resource = match.route.path if match.route.path != "$default" else "$default"
    event: dict[str, Any] = {}
    if api.kind == "HTTP":
        event["version"] = "1.0"
    event |= {
        "resource": resource,
        "path": match.path,
        "httpMethod": request.method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "requestContext": {
            "accountId": invocation.account_id,
            "apiId": api.api_id,
            "domainName": request.domain_name,
            "domainPrefix": api.api_id,
            "extendedRequestId": invocation.extended_request_id or invocation.request_id,
            "httpMethod": request.method,
            "identity": _identity(request),
            "path": request.path,
            "protocol": request.protocol,
            "requestId": invocation.request_id,
            "requestTime": request_time(invocation.now_ms),
            "requestTimeEpoch": invocation.now_ms,
            "resourceId": None if api.kind == "HTTP" else _resource_id(api, resource),
            "resourcePath": resource,
            "stage": api.stage_name,
            **({"authorizer": dict(authorizer)} if authorizer is not None else {}),
        },
        "pathParameters": match.path_parameters or None,
        "stageVariables": dict(api.stage_variables) or None,
        "body": body,
        "isBase64Encoded": encoded,
    }
    return event


def _identity(request: ProxyRequest) -> dict[str, Any]:
    return {
        "accessKey": None,
        "accountId": None,
        "caller": None,
        "cognitoAuthenticationProvider": None,
        "cognitoAuthenticationType": None,
        "cognitoIdentityId": None,
        "cognitoIdentityPoolId": None,
        "principalOrgId": None,
        "sourceIp": request.source_ip,
        "user": None,
        "userAgent": request.header("User-Agent"),
        "userArn": None,
    }


def _resource_id(api: ProxyApiModel, resource: str) -> str:
    return api_id_for(f"{api.logical_id}#{resource}", 6)


def http_event(
    api: ProxyApiModel,
    match: RouteMatch,
    request: ProxyRequest,
    invocation: Invocation,
    authorizer: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Payload 2.0, an HTTP API's default."""
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        key = name.lower()
        if key == "cookie":
            cookies += [c.strip() for c in value.split(";") if c.strip()]
            continue
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    query: dict[str, str] = {}
    for name, value in request.query:
        query[name] = f"{query[name]},{value}" if name in query else value
    body, encoded = _body(api, request)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": match.route.route_key,
        "rawPath": request.path,
        "rawQueryString": request.raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = {
        "accountId": invocation.account_id,
        "apiId": api.api_id,
        "domainName": request.domain_name,
        "domainPrefix": api.api_id,
        "http": {
            "method": request.method,
            "path": request.path,
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": request.header("User-Agent") or "",
        },
        "requestId": invocation.request_id,
        "routeKey": match.route.route_key,
        "stage": api.stage_name,
        "time": request_time(invocation.now_ms),
        "timeEpoch": invocation.now_ms,
    }
    if authorizer is not None:
        event["requestContext"]["authorizer"] = dict(authorizer)
    if body is not None:
        event["body"] = body
    if match.path_parameters:
        event["pathParameters"] = dict(match.path_parameters)
    if api.stage_variables:
        event["stageVariables"] = dict(api.stage_variables)
    event["isBase64Encoded"] = encoded
    return event


def proxy_event(
    api: ProxyApiModel,
    match: RouteMatch,
    request: ProxyRequest,
    invocation: Invocation,
    authorizer: Mapping[str, Any] | None = None,
    payload_format: str | None = None,
) -> dict[str, Any]:
    """The event the route's payload format (or ``payload_format``) asks for, with what
    the route's authorizer said under ``requestContext.authorizer``."""
    if api.kind == "HTTP" and (payload_format or match.route.payload_format) == "2.0":
        return http_event(api, match, request, invocation, authorizer)
    return rest_event(api, match, request, invocation, authorizer)
