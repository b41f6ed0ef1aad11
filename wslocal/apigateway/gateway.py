"""WebSocketApi: what API Gateway decides for one WebSocket API stage, as pure functions.

Admission (identity sources, the authorizer's answer, ``$connect``'s status), dispatch
(which route a message takes, what goes back to the client), and how a close is reported
to ``$disconnect``. The session asks; it only invokes functions and moves bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from wslocal.apigateway import events, integration, routing
from wslocal.template.model import AuthorizerModel, RouteModel

STATUS_BODY = {
    401: "Unauthorized",
    403: "Forbidden",
    500: integration.INTERNAL_SERVER_ERROR,
    502: integration.INTERNAL_SERVER_ERROR,
}
ABNORMAL_CLOSURE = 1006
UNSUPPORTED_DATA = 1003
INVALID_PAYLOAD = 1007


def inbound_message(is_text: bool, data: bytes) -> str | tuple[int, str]:
    """A client's complete message as API Gateway takes it: the text of a text frame, or
    the close it answers with. Binary frames are not supported (AWS documents 1003);
    a text frame that is not UTF-8 breaks RFC 6455 (1007)."""
    if not is_text:
        return UNSUPPORTED_DATA, "Binary frames are not supported"
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return INVALID_PAYLOAD, "Invalid UTF-8 in a text frame"


@dataclass(frozen=True)
class Handshake:
    """The answer to an upgrade request: 2xx accepts, anything else rejects."""

    status: int
    body: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return 200 <= self.status < 300


ACCEPTED = Handshake(200)


@dataclass(frozen=True)
class CloseFrames:
    """What the WebSocket protocol saw of a connection's close."""

    by_stage: tuple[int, str] | None = None
    """The stage closed it (idle or duration limit, shutdown)."""
    received: tuple[int, str] | None = None
    """The client's close frame, when the client started the close."""
    sent: tuple[int, str] | None = None
    """The close frame the protocol sent on its own (1009 for a message too big)."""


@dataclass(frozen=True)
class WebSocketApi:
    """One API's routes on one stage, with the rules API Gateway applies to them."""

    routes: Mapping[str, RouteModel]
    route_selection_expression: str
    stage: events.StageContext
    region: str
    account_id: str

    def serves_path(self, path: str) -> bool:
        """The API answers at ``/`` and at ``/{stage}``."""
        return path.rstrip("/") in ("", f"/{self.stage.stage}")

    @property
    def connect_route(self) -> RouteModel | None:
        return self.routes.get("$connect")

    @property
    def disconnect_route(self) -> RouteModel | None:
        return self.routes.get("$disconnect")

    # --- admission ------------------------------------------------------------------------
    @staticmethod
    def lacks_identity(
        authorizer: AuthorizerModel, headers: events.Pairs, query: events.Pairs
    ) -> bool:
        """A request missing one of the authorizer's identity sources gets 401 without
        the authorizer being invoked."""
        present = {f"route.request.header.{name.lower()}" for name, _ in headers} | {
            f"route.request.querystring.{name.lower()}" for name, _ in query
        }
        return any(source.lower() not in present for source in authorizer.identity_sources)

    def authorizer_event(
        self,
        connection: events.ConnectionContext,
        headers: events.Pairs,
        query: events.Pairs,
        request_id: str,
        now_ms: int,
    ) -> events.Event:
        return events.authorizer_event(
            self.stage,
            connection,
            region=self.region,
            account_id=self.account_id,
            headers=headers,
            query=query,
            request_id=request_id,
            now_ms=now_ms,
        )

    @staticmethod
    def authorizer_decision(result: Any, method_arn: str) -> integration.AuthorizerDecision:
        return integration.authorizer_decision(result, method_arn)

    @staticmethod
    def authorizer_failure(error: Mapping[str, Any] | None) -> Handshake:
        """The authorizer raised (``Unauthorized`` means 401) or could not run (500)."""
        status = 401 if error is not None and integration.is_unauthorized(error) else 500
        return Handshake(status, STATUS_BODY[status])

    @staticmethod
    def refusal(status: int) -> Handshake:
        return Handshake(status, STATUS_BODY.get(status, ""))

    def connect_event(
        self,
        connection: events.ConnectionContext,
        headers: events.Pairs,
        query: events.Pairs,
        request_id: str,
        now_ms: int,
    ) -> events.Event:
        return events.connect_event(
            self.stage,
            connection,
            headers=headers,
            query=query,
            request_id=request_id,
            now_ms=now_ms,
        )

    @staticmethod
    def handshake(response: integration.ProxyResponse | None) -> Handshake:
        """``$connect``'s result as the handshake's answer; a failed integration is 502."""
        if response is None:
            return Handshake(502, STATUS_BODY[502])
        return Handshake(response.status_code, response.body, dict(response.headers))

    # --- messages -------------------------------------------------------------------------
    def route_for(self, message: str) -> RouteModel | None:
        """The route a message takes; None means the client gets Forbidden."""
        key = routing.select_route(self.route_selection_expression, message, self.routes.keys())
        return None if key is None else self.routes[key]

    def message_event(
        self,
        connection: events.ConnectionContext,
        route: RouteModel,
        message: str,
        request_id: str,
        message_id: str,
        now_ms: int,
    ) -> events.Event:
        return events.message_event(
            self.stage,
            connection,
            route_key=route.route_key,
            data=message,
            request_id=request_id,
            message_id=message_id,
            now_ms=now_ms,
        )

    @staticmethod
    def forbidden(connection_id: str, request_id: str) -> bytes:
        return integration.gateway_error(integration.FORBIDDEN, connection_id, request_id).encode(
            "utf-8"
        )

    @staticmethod
    def too_many_requests(connection_id: str, request_id: str) -> bytes:
        """A message over the connection's in-flight bound, never dispatched."""
        return integration.gateway_error(
            integration.TOO_MANY_REQUESTS, connection_id, request_id
        ).encode("utf-8")

    @staticmethod
    def reply(
        route: RouteModel,
        response: integration.ProxyResponse | None,
        connection_id: str,
        request_id: str,
        max_bytes: int = 128 * 1024,
        failure: str | None = None,
    ) -> bytes | None:
        """What goes back to the client after a message: the gateway's error when the
        integration failed (``failure``, Internal server error unless it says otherwise:
        Endpoint request timed out) or its route response is over the message limit
        (``max_bytes``: a message to the client is 128 KB at most), its body on a two-way
        route, else nothing."""
        body = response.body.encode("utf-8") if response and response.body is not None else None
        if response is None or (route.two_way and body is not None and len(body) > max_bytes):
            message = failure if response is None and failure else integration.INTERNAL_SERVER_ERROR
            return integration.gateway_error(message, connection_id, request_id).encode("utf-8")
        if route.two_way and body is not None:
            return body
        return None

    # --- the end --------------------------------------------------------------------------
    @staticmethod
    def close_status(frames: CloseFrames) -> tuple[int, str]:
        """``disconnectStatusCode`` and ``disconnectReason``: whoever closed first, else
        1006 for a dropped TCP connection."""
        code, reason = frames.by_stage or frames.received or frames.sent or (ABNORMAL_CLOSURE, "")
        return int(code), integration.close_reason(int(code), reason)

    def disconnect_event(
        self,
        connection: events.ConnectionContext,
        status: tuple[int, str],
        request_id: str,
        now_ms: int,
    ) -> events.Event:
        code, reason = status
        return events.disconnect_event(
            self.stage,
            connection,
            status_code=code,
            reason=reason,
            host=self.stage.domain_name,
            request_id=request_id,
            now_ms=now_ms,
        )
