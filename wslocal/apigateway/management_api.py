"""The ``@connections`` management API: POST, GET and DELETE on a connection.

``handle_management_request`` is pure apart from the Outbound calls it makes on the
connection it finds: the server passes the parsed request and writes the response back.
Status codes and error types are the real service's, so boto3 raises the same exceptions
(``GoneException`` 410, ``PayloadTooLargeException`` 413, ``ForbiddenException`` 403).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from urllib.parse import unquote

from wslocal.apigateway.connections import ConnectionRegistry, ConnectionState

CONNECTIONS_SEGMENT = "@connections"


@dataclass(frozen=True)
class ManagementResponse:
    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


DELIVERED = ManagementResponse(200, headers=MappingProxyType({}))
"""A POST's message sent: every post of a fan-out answers it, so it is built once."""


def is_management_path(path: str) -> bool:
    return f"/{CONNECTIONS_SEGMENT}/" in path.split("?", 1)[0] + "/"


def connection_id_from_path(path: str, stage: str) -> str | None:
    """``/{stage}/@connections/{id}`` or ``/@connections/{id}`` -> the decoded id."""
    prefix, _, segment = path.rpartition("/")
    plain = segment and "?" not in path and "/" not in stage
    if plain and prefix == f"/{stage}/{CONNECTIONS_SEGMENT}":
        return _decoded_id(segment)  # the form every post has, read without splitting it
    parts = path.split("?", 1)[0].strip("/").split("/")
    if parts[0] == stage:
        del parts[0]
    if len(parts) != 2 or parts[0] != CONNECTIONS_SEGMENT or not parts[1]:
        return None
    return _decoded_id(parts[1])


def _decoded_id(segment: str) -> str:
    """The id a path segment spells. The stage's ids end in ``=``, which clients send as
    ``%3D``: that one escape is decoded without ``unquote`` (several µs of every post)."""
    escapes = segment.count("%")
    if escapes == 0:
        return segment
    if escapes == 1 and segment.endswith("%3D"):
        return segment[:-3] + "="
    return unquote(segment)


def _error(status: int, error_type: str, message: str | None) -> ManagementResponse:
    return ManagementResponse(
        status,
        json.dumps({"message": message}).encode(),
        {"Content-Type": "application/json", "x-amzn-ErrorType": error_type},
    )


def payload_too_large() -> ManagementResponse:
    """A POST over the limit, answered from its Content-Length before its body is read."""
    return _error(413, "PayloadTooLargeException", "Request too large")


def internal_error() -> ManagementResponse:
    """API Gateway's own 500 (an injected fault: ``--inject-faults post-500=...``)."""
    return _error(500, "InternalServerErrorException", "Internal server error")


def _iso(epoch_seconds: float) -> str:
    moment = datetime.fromtimestamp(epoch_seconds, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def handle_management_request(
    registry: ConnectionRegistry,
    *,
    method: str,
    path: str,
    body: bytes,
    stage: str,
    max_post_bytes: int,
) -> ManagementResponse:
    connection_id = connection_id_from_path(path, stage)
    if connection_id is None:
        return _error(403, "ForbiddenException", "Forbidden")
    if method == "POST" and len(body) > max_post_bytes:
        return payload_too_large()
    connection = registry.get(connection_id)
    if connection is None or connection.state is not ConnectionState.OPEN:
        return _error(410, "GoneException", None)
    if method == "POST":
        connection.outbound.send(body)
        return DELIVERED
    if method == "GET":
        document = {
            "connectedAt": _iso(connection.connected_at),
            "identity": {"sourceIp": connection.source_ip, "userAgent": connection.user_agent},
            "lastActiveAt": _iso(connection.last_active_at),
        }
        return ManagementResponse(
            200, json.dumps(document).encode(), {"Content-Type": "application/json"}
        )
    if method == "DELETE":
        registry.closing(connection_id)
        connection.outbound.close(1000, "")
        return ManagementResponse(204)
    return _error(403, "ForbiddenException", f"{method} is not allowed on @connections")
