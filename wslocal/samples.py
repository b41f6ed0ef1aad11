"""Sample events for ``wslocal generate-event``: the events ``sam local generate-event``
lacks (WebSocket connect, message, disconnect), REST (payload 1.0) and HTTP API (payload
2.0) requests, and Lambda's DynamoDB stream and SQS batches, built by the very functions
the stage uses for live events (pure: the clock and the ids come in)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl

from wslocal.apigateway import events
from wslocal.apigateway.proxy.events import (
    Invocation,
    ProxyRequest,
    front_end_headers,
    proxy_event,
)
from wslocal.apigateway.proxy.routes import match_route
from wslocal.defaults import WEBSOCKET_ROUTES
from wslocal.eventsources import dynamodb_records, sqs_records
from wslocal.exceptions import WslocalError
from wslocal.template import ProxyApiModel, ProxyRouteModel

SAMPLE_SOURCE_IP = "203.0.113.7"
SAMPLE_USER_AGENT = "wscat/6.0.1"


def _contexts(
    api_id: str, stage: str, region: str, connection_id: str, now_ms: int
) -> tuple[events.StageContext, events.ConnectionContext]:
    domain = f"{api_id}.execute-api.{region}.amazonaws.com"
    return (
        events.StageContext(api_id, stage, domain),
        events.ConnectionContext(
            connection_id, now_ms - 5_000, SAMPLE_SOURCE_IP, SAMPLE_USER_AGENT
        ),
    )


def websocket_event(
    kind: str,
    *,
    api_id: str,
    stage: str,
    region: str,
    connection_id: str,
    route_key: str | None,
    body: str,
    query: Sequence[tuple[str, str]],
    request_id: str,
    message_id: str,
    now_ms: int,
) -> events.Event:
    """A CONNECT, MESSAGE or DISCONNECT event as API Gateway sends it to Lambda."""
    stage_context, connection = _contexts(api_id, stage, region, connection_id, now_ms)
    if kind == "connect":
        headers = events.handshake_headers(
            [("Host", stage_context.domain_name), ("Sec-WebSocket-Version", "13"),
             ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")],
            source_ip=SAMPLE_SOURCE_IP, server_port=443, trace=events.trace_id(now_ms),
        )  # fmt: skip
        return events.connect_event(
            stage_context, connection, headers=headers, query=query,
            request_id=request_id, now_ms=now_ms,
        )  # fmt: skip
    if kind == "message":
        return events.message_event(
            stage_context, connection, route_key=route_key or "$default", data=body,
            request_id=request_id, message_id=message_id, now_ms=now_ms,
        )  # fmt: skip
    if kind == "disconnect":
        return events.disconnect_event(
            stage_context, connection, status_code=1001, reason="Going away",
            host=stage_context.domain_name, request_id=request_id, now_ms=now_ms,
        )  # fmt: skip
    raise ValueError(f"a WebSocket event is one of {', '.join(WEBSOCKET_ROUTES)}, not {kind!r}")


def sqs_event(
    bodies: Sequence[str], *, queue: str, region: str, account_id: str, ids: Sequence[str],
    now_ms: int,
) -> events.Event:  # fmt: skip
    """An SQS batch: one record per body, as Lambda's poller delivers it."""
    arn = f"arn:aws:sqs:{region}:{account_id}:{queue}"
    records = [
        sqs_records.lambda_record(
            {
                "MessageId": message_id,
                "ReceiptHandle": hashlib.sha256(message_id.encode()).hexdigest(),
                "MD5OfBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
                "Body": body,
                "Attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": str(now_ms),
                    "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                    "ApproximateFirstReceiveTimestamp": str(now_ms + 2),
                },
            },
            queue_arn=arn,
            region=region,
        )
        for message_id, body in zip(ids, bodies, strict=True)
    ]
    return {"Records": records}


def dynamodb_event(
    *, table: str, event_name: str, keys: Mapping[str, Any], new_image: Mapping[str, Any] | None,
    old_image: Mapping[str, Any] | None, region: str, account_id: str, event_id: str,
    sequence_number: str, now_ms: int, by_ttl: bool = False,
) -> events.Event:  # fmt: skip
    """A one-record DynamoDB stream batch (images in DynamoDB's typed JSON)."""
    stream: dict[str, Any] = {
        "ApproximateCreationDateTime": now_ms / 1000,
        "Keys": dict(keys),
        "SequenceNumber": sequence_number,
        "SizeBytes": len(json.dumps([keys, new_image, old_image])),
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if new_image is not None:
        stream["NewImage"] = dict(new_image)
    if old_image is not None:
        stream["OldImage"] = dict(old_image)
    record = {"eventID": event_id, "eventName": event_name, "dynamodb": stream}
    arn = f"arn:aws:dynamodb:{region}:{account_id}:table/{table}/stream/local"
    return {
        "Records": [
            dynamodb_records.lambda_record(record, stream_arn=arn, region=region, by_ttl=by_ttl)
        ]
    }


def api_request_event(
    kind: str,
    *,
    method: str,
    resource: str,
    path: str,
    query: str,
    headers: Sequence[tuple[str, str]],
    body: str | None,
    api_id: str,
    stage: str,
    region: str,
    account_id: str,
    request_id: str,
    now_ms: int,
    payload_format: str | None = None,
    extended_request_id: str | None = None,
) -> dict[str, Any]:
    """A REST (``kind="rest"``) or HTTP API (``"http"``) request as API Gateway sends it:
    ``resource`` is the route's path (``/items/{id}``), ``path`` the request's; a REST
    request's ``request_id`` is a UUID, its ``extended_request_id`` API Gateway's own."""
    route = ProxyRouteModel(
        method.upper(), resource, "Function",
        payload_format=payload_format or ("1.0" if kind == "rest" else "2.0"),
    )  # fmt: skip
    api = ProxyApiModel("Api", api_id, kind.upper(), stage, (route,))
    full_path = f"/{stage}{path}" if api.stage_in_path else path
    match = match_route(api, route.method, full_path)
    if match is None:
        raise WslocalError(f"the path {path!r} does not match the resource {resource!r}")
    domain = f"{api_id}.execute-api.{region}.amazonaws.com"
    request = ProxyRequest(
        method=route.method, path=full_path, raw_query=query,
        query=parse_qsl(query, keep_blank_values=True),
        headers=front_end_headers(
            [("Host", domain), ("User-Agent", "curl/8.5.0"), *headers],
            source_ip=SAMPLE_SOURCE_IP, server_port=443, trace=events.trace_id(now_ms),
            scheme="https",
        ),
        body=(body or "").encode(), source_ip=SAMPLE_SOURCE_IP, domain_name=domain,
    )  # fmt: skip
    invocation = Invocation(request_id, now_ms, account_id, extended_request_id)
    return proxy_event(api, match, request, invocation)
