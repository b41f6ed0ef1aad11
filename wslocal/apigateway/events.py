"""The Lambda proxy events API Gateway sends for WebSocket routes, built field by field.

Shapes follow real captures (see the project's reference): CONNECT carries the handshake
headers and the query string, MESSAGE the body and ``messageId``, DISCONNECT placeholder
headers and ``disconnectStatusCode``/``disconnectReason``. Pure functions: time and ids are
arguments.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Event = dict[str, Any]
Pairs = Sequence[tuple[str, str]]


def api_gateway_id(random_bytes: Callable[[int], bytes] = os.urandom) -> str:
    """An id shaped like API Gateway's connection and request ids (``L0SM9cOFvHcCIhw=``)."""
    return base64.b64encode(random_bytes(11)).decode().replace("/", "A").replace("+", "B")


def trace_id(now_ms: int, random_bytes: Callable[[int], bytes] = os.urandom) -> str:
    return f"Root=1-{now_ms // 1000:08x}-{random_bytes(12).hex()}"


def request_time(now_ms: int) -> str:
    """``requestTime`` in API Gateway's format: ``11/Nov/2024:11:35:24 +0000``."""
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now_ms / 1000))


@dataclass(frozen=True)
class StageContext:
    """What every event says of the API and stage."""

    api_id: str
    stage: str
    domain_name: str


@dataclass(frozen=True, slots=True)
class ConnectionContext:
    """What every event says of the connection."""

    connection_id: str
    connected_at: int
    source_ip: str
    user_agent: str | None = None
    authorizer: Mapping[str, Any] | None = field(default=None)


def request_context(
    stage: StageContext,
    connection: ConnectionContext,
    *,
    route_key: str,
    event_type: str,
    request_id: str,
    now_ms: int,
) -> dict[str, Any]:
    context: dict[str, Any] = {
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": request_id,
        "requestTime": request_time(now_ms),
        "messageDirection": "IN",
        "stage": stage.stage,
        "connectedAt": connection.connected_at,
        "requestTimeEpoch": now_ms,
        "identity": {"sourceIp": connection.source_ip},
        "requestId": request_id,
        "domainName": stage.domain_name,
        "connectionId": connection.connection_id,
        "apiId": stage.api_id,
    }
    if connection.authorizer is not None:
        context["authorizer"] = dict(connection.authorizer)
    return context


def single_and_multi(pairs: Pairs) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The last value of each name, and all of them in order (API Gateway's payload 1.0
    ``headers``/``multiValueHeaders`` and their query string pair)."""
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        single[name] = value
        multi.setdefault(name, []).append(value)
    return single, multi


def handshake_headers(
    headers: Pairs, *, source_ip: str, server_port: int, trace: str
) -> list[tuple[str, str]]:
    """The client's handshake headers plus those API Gateway's front end adds."""
    return [
        *headers,
        ("X-Amzn-Trace-Id", trace),
        ("X-Forwarded-For", source_ip),
        ("X-Forwarded-Port", str(server_port)),
        ("X-Forwarded-Proto", "http"),
    ]


def _with_headers_and_query(event: Event, headers: Pairs, query: Pairs) -> Event:
    event["headers"], event["multiValueHeaders"] = single_and_multi(headers)
    if query:
        event["queryStringParameters"], event["multiValueQueryStringParameters"] = single_and_multi(
            query
        )
    return event


def _connect_context(
    stage: StageContext, connection: ConnectionContext, request_id: str, now_ms: int
) -> dict[str, Any]:
    return request_context(
        stage,
        connection,
        route_key="$connect",
        event_type="CONNECT",
        request_id=request_id,
        now_ms=now_ms,
    )


def connect_event(
    stage: StageContext,
    connection: ConnectionContext,
    *,
    headers: Pairs,
    query: Pairs,
    request_id: str,
    now_ms: int,
) -> Event:
    """The $connect event; ``headers`` as from ``handshake_headers``. The query string
    fields are present only when the client sent a query string."""
    context = _connect_context(stage, connection, request_id, now_ms)
    if connection.user_agent:
        context["identity"]["userAgent"] = connection.user_agent
    event = _with_headers_and_query({}, headers, query)
    event["requestContext"] = context
    event["isBase64Encoded"] = False
    return event


def authorizer_event(
    stage: StageContext,
    connection: ConnectionContext,
    *,
    region: str,
    account_id: str,
    headers: Pairs,
    query: Pairs,
    request_id: str,
    now_ms: int,
) -> Event:
    """The event of a REQUEST Lambda authorizer on $connect."""
    event: Event = {
        "type": "REQUEST",
        "methodArn": (
            f"arn:aws:execute-api:{region}:{account_id}:{stage.api_id}/{stage.stage}/$connect"
        ),
    }
    _with_headers_and_query(event, headers, query)
    event["stageVariables"] = {}
    event["requestContext"] = _connect_context(stage, connection, request_id, now_ms)
    return event


def message_event(
    stage: StageContext,
    connection: ConnectionContext,
    *,
    route_key: str,
    data: str,
    request_id: str,
    message_id: str,
    now_ms: int,
) -> Event:
    """A MESSAGE event: the text frame's body (API Gateway closes on binary frames, so
    ``isBase64Encoded`` is false)."""
    context = request_context(
        stage,
        connection,
        route_key=route_key,
        event_type="MESSAGE",
        request_id=request_id,
        now_ms=now_ms,
    )
    context["messageId"] = message_id
    return {"requestContext": context, "body": data, "isBase64Encoded": False}


DISCONNECT_HEADERS = (
    ("Host", ""),
    ("x-api-key", ""),
    ("X-Forwarded-For", ""),
    ("x-restapi", ""),
)


def disconnect_event(
    stage: StageContext,
    connection: ConnectionContext,
    *,
    status_code: int,
    reason: str,
    host: str,
    request_id: str,
    now_ms: int,
) -> Event:
    context = request_context(
        stage,
        connection,
        route_key="$disconnect",
        event_type="DISCONNECT",
        request_id=request_id,
        now_ms=now_ms,
    )
    context["disconnectStatusCode"] = status_code
    context["disconnectReason"] = reason
    headers = [(name, host if name == "Host" else value) for name, value in DISCONNECT_HEADERS]
    event = _with_headers_and_query({}, headers, ())
    event["requestContext"] = context
    event["isBase64Encoded"] = False
    return event
