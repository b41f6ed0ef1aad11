"""One WebSocket connection through its whole life, as API Gateway runs it.

The handshake waits for the authorizer and ``$connect``; frames go through the websockets
library's sans-I/O protocol (which enforces the 128 KB message and 32 KB frame limits
with close code 1009); each message is routed and its integration invoked; the idle and
duration limits close with 1001; after the close, ``$disconnect`` runs with the status
code and reason of how it ended. All decisions are the pure core's; this moves bytes.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import State
from websockets.server import ServerProtocol

from wslocal import events, integration, limits, routing
from wslocal.exceptions import HandlerError, InvocationError
from wslocal.http import HttpRequest
from wslocal.template import RouteModel

if TYPE_CHECKING:
    from wslocal.server import LocalStage

log = logging.getLogger("wslocal")

CLOSE_HANDSHAKE_TIMEOUT = 3.0
READ_SIZE = 64 * 1024


class WebSocketSession:
    """Implements ``Outbound`` for the registry: ``send`` and ``close`` from anywhere on
    the stage's event loop (the ``@connections`` API uses them)."""

    def __init__(
        self,
        stage: LocalStage,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        head: bytes,
        request: HttpRequest,
        task: asyncio.Task[None],
    ) -> None:
        self.task = task
        """The task serving this connection; the stage waits for it on shutdown."""
        self._stage = stage
        self._reader = reader
        self._writer = writer
        self._head = head
        self._request = request
        self._protocol = ServerProtocol(max_size=stage.config.limits.websocket_max_size)
        self._closed_by_stage: tuple[int, str] | None = None
        self._fragments: list[bytes] = []
        self._fragment_opcode: Opcode | None = None
        self._dispatches: set[asyncio.Task[None]] = set()
        peer = writer.get_extra_info("peername") or ("127.0.0.1", 0)
        self.source_ip: str = peer[0]
        self.connection_id = stage.new_id()
        self._context: events.ConnectionContext | None = None
        """What events say of the connection, fixed once $connect has accepted it."""

    # --- Outbound -----------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        """Send a message to the client: a text frame when it is UTF-8, else binary."""
        if self._protocol.state is not State.OPEN:
            return
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            self._protocol.send_binary(data)
        else:
            self._protocol.send_text(data)
        self._flush()

    def close(self, code: int, reason: str) -> None:
        """Start the closing handshake from the stage's side."""
        if self._protocol.state is State.OPEN:
            self._closed_by_stage = (code, reason)
            self._protocol.send_close(code, reason)
            self._flush()

    # --- lifecycle ----------------------------------------------------------------------
    async def run(self) -> None:
        protocol = self._protocol
        protocol.receive_data(self._head)
        handshake = protocol.events_received()[0]
        assert isinstance(handshake, Request)
        response = protocol.accept(handshake)
        if response.status_code != 101:
            self._refuse_handshake(response)
            return
        if not self._stage.serves_path(self._request.path):
            self._refuse_handshake(
                protocol.reject(404, f"no WebSocket API at {self._request.path}\n")
            )
            return
        registry = self._stage.registry
        connection = registry.register(
            self.connection_id, self, self.source_ip, self._request.header("User-Agent") or ""
        )
        status, body, headers = await self._admit(connection.connected_at_ms)
        if not 200 <= status < 300:
            registry.unregister(self.connection_id)
            self._refuse_handshake(protocol.reject(status, body or ""))
            log.info("connect %s rejected with %s", self.connection_id, status)
            return
        if "Sec-WebSocket-Protocol" in headers:
            response.headers["Sec-WebSocket-Protocol"] = headers["Sec-WebSocket-Protocol"]
        protocol.send_response(response)
        registry.open(self.connection_id)
        self._context = self._connection_context()
        self._flush()
        log.info("connect %s from %s", self.connection_id, self.source_ip)
        try:
            await self._read_frames()
        finally:
            registry.unregister(self.connection_id)
            self._writer.close()
            code, reason = self._disconnect_status()
            log.info("disconnect %s %s %s", self.connection_id, code, reason)
            if self._dispatches:
                await asyncio.gather(*self._dispatches, return_exceptions=True)
            await self._disconnect(code, reason)

    def _refuse_handshake(self, response: Response) -> None:
        self._protocol.send_response(response)
        self._flush()
        self._writer.close()

    async def _read_frames(self) -> None:
        protocol = self._protocol
        settings = self._stage.config.limits
        registry = self._stage.registry
        while protocol.state is not State.CLOSED and not self._writer.is_closing():
            connection = registry.get(self.connection_id)
            if protocol.state is State.OPEN and connection is not None:
                timeout = limits.seconds_until_timeout(
                    settings,
                    self._stage.clock(),
                    connection.connected_at,
                    connection.last_active_at,
                )
            else:
                timeout = CLOSE_HANDSHAKE_TIMEOUT
            try:
                data = await asyncio.wait_for(self._reader.read(READ_SIZE), max(timeout, 0))
            except TimeoutError:
                if protocol.state is not State.OPEN or connection is None:
                    return
                reason = limits.timeout_reason(
                    settings, self._stage.clock(), connection.connected_at
                )
                self.close(limits.GOING_AWAY, reason)
                continue
            except ConnectionError:
                data = b""
            if data:
                protocol.receive_data(data)
            else:
                protocol.receive_eof()
            for frame in protocol.events_received():
                assert isinstance(frame, Frame)
                self._on_frame(frame)
            self._flush()
            if not data:
                return

    def _on_frame(self, frame: Frame) -> None:
        if frame.opcode in (Opcode.PING, Opcode.PONG, Opcode.CLOSE):
            if frame.opcode is Opcode.PING:
                self._stage.registry.touch(self.connection_id)
            return
        if frame.opcode is not Opcode.CONT:
            self._fragment_opcode = frame.opcode
        self._fragments.append(bytes(frame.data))
        if not frame.fin:
            return
        data = b"".join(self._fragments)
        opcode, self._fragments = self._fragment_opcode, []
        self._stage.registry.touch(self.connection_id)
        message: str | bytes = data.decode("utf-8") if opcode is Opcode.TEXT else data
        task = asyncio.create_task(self._dispatch(message))
        self._dispatches.add(task)
        task.add_done_callback(self._dispatches.discard)

    def _flush(self) -> None:
        for chunk in self._protocol.data_to_send():
            if chunk:
                self._writer.write(chunk)
            elif not self._writer.is_closing():
                self._writer.close()

    # --- integrations -------------------------------------------------------------------
    def _connection_context(self) -> events.ConnectionContext:
        connection = self._stage.registry.get(self.connection_id)
        assert connection is not None
        return events.ConnectionContext(
            connection_id=self.connection_id,
            connected_at=connection.connected_at_ms,
            source_ip=self.source_ip,
            user_agent=connection.user_agent or None,
            authorizer=connection.authorizer,
        )

    async def _admit(self, now_ms: int) -> tuple[int, str | None, dict[str, str]]:
        """Run the authorizer and $connect: (status, body, headers) of the handshake."""
        stage = self._stage
        route = stage.model.routes.get("$connect")
        headers = events.handshake_headers(
            self._request.headers,
            source_ip=self.source_ip,
            server_port=stage.port,
            trace=events.trace_id(now_ms),
        )
        query = self._request.query
        if route is not None and route.authorizer is not None:
            status = await self._authorize(route, headers, query, now_ms)
            if status != 200:
                return status, _STATUS_BODY.get(status, ""), {}
        if route is None:
            return 200, None, {}
        event = events.connect_event(
            stage.event_stage,
            self._connection_context(),
            headers=headers,
            query=query,
            request_id=stage.new_id(),
            now_ms=now_ms,
        )
        response = await self._call(route, event)
        if response is None:
            return 502, _STATUS_BODY[502], {}
        return response.status_code, response.body, dict(response.headers)

    async def _authorize(
        self,
        route: RouteModel,
        headers: list[tuple[str, str]],
        query: list[tuple[str, str]],
        now_ms: int,
    ) -> int:
        stage = self._stage
        authorizer = route.authorizer
        assert authorizer is not None
        present = {f"route.request.header.{name.lower()}" for name, _ in headers} | {
            f"route.request.querystring.{name.lower()}" for name, _ in query
        }
        if any(source.lower() not in present for source in authorizer.identity_sources):
            return 401
        event = events.authorizer_event(
            stage.event_stage,
            self._connection_context(),
            region=stage.model.region,
            account_id=stage.model.account_id,
            headers=headers,
            query=query,
            request_id=stage.new_id(),
            now_ms=now_ms,
        )
        try:
            result = await stage.invoke(
                authorizer.function, event, f"authorizer {self.connection_id}"
            )
        except HandlerError as exc:
            return 401 if integration.is_unauthorized(exc.error) else 500
        except InvocationError:
            return 500
        decision = integration.authorizer_decision(result, event["methodArn"])
        if decision.status == 200:
            connection = stage.registry.get(self.connection_id)
            if connection is not None:
                connection.authorizer = decision.context
        return decision.status

    async def _call(
        self, route: RouteModel, event: dict[str, Any]
    ) -> integration.ProxyResponse | None:
        """Invoke the route's function; None when it failed in any way."""
        label = f"Route: {route.route_key} Connection: {self.connection_id}"
        try:
            result = await self._stage.invoke(route.function, event, label)
            return integration.proxy_response(result)
        except (InvocationError, integration.MalformedResultError) as exc:
            log.warning("%s failed: %s", label, exc)
            return None

    async def _dispatch(self, message: str | bytes) -> None:
        stage = self._stage
        text = message if isinstance(message, str) else None
        route_key = routing.select_route(
            stage.model.route_selection_expression, text, stage.model.routes.keys()
        )
        request_id = stage.new_id()
        if route_key is None:
            self.send(_gateway_error(integration.FORBIDDEN, self.connection_id, request_id))
            return
        route = stage.model.routes[route_key]
        assert self._context is not None, "messages arrive only after $connect accepted"
        event = events.message_event(
            stage.event_stage,
            self._context,
            route_key=route_key,
            data=message,
            request_id=request_id,
            message_id=stage.new_id(),
            now_ms=int(stage.clock() * 1000),
        )
        response = await self._call(route, event)
        if response is None:
            self.send(
                _gateway_error(integration.INTERNAL_SERVER_ERROR, self.connection_id, request_id)
            )
        elif route.two_way and response.body is not None:
            self.send(response.body.encode("utf-8"))

    def _disconnect_status(self) -> tuple[int, str]:
        protocol = self._protocol
        if self._closed_by_stage is not None:
            code, reason = self._closed_by_stage
        elif protocol.close_rcvd is not None and protocol.close_rcvd_then_sent is not False:
            code, reason = protocol.close_rcvd.code, protocol.close_rcvd.reason
        elif protocol.close_sent is not None:  # the protocol failed the connection (1009, ...)
            code, reason = protocol.close_sent.code, protocol.close_sent.reason
        else:
            code, reason = 1006, ""
        return int(code), integration.close_reason(int(code), reason)

    async def _disconnect(self, code: int, reason: str) -> None:
        stage = self._stage
        route = stage.model.routes.get("$disconnect")
        if route is None or self._context is None:
            return
        event = events.disconnect_event(
            stage.event_stage,
            self._context,
            status_code=code,
            reason=reason,
            host=stage.domain_name,
            request_id=stage.new_id(),
            now_ms=int(stage.clock() * 1000),
        )
        await self._call(route, event)


_STATUS_BODY = {
    401: "Unauthorized",
    403: "Forbidden",
    500: "Internal server error",
    502: "Internal server error",
}


def _gateway_error(message: str, connection_id: str, request_id: str) -> bytes:
    return integration.gateway_error(message, connection_id, request_id).encode("utf-8")
