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
import struct
from collections.abc import Mapping
from typing import Any, Protocol

from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import State
from websockets.server import ServerProtocol

from wslocal.apigateway import events, integration, limits
from wslocal.apigateway.connections import ConnectionRegistry
from wslocal.apigateway.gateway import (
    ACCEPTED,
    CloseFrames,
    Handshake,
    WebSocketApi,
    inbound_message,
)
from wslocal.apigateway.http import HttpRequest
from wslocal.apigateway.integrations import IntegrationError
from wslocal.exceptions import HandlerError, InvocationError
from wslocal.server.integrations import Integrations
from wslocal.template import RouteModel

log = logging.getLogger("wslocal")

CLOSE_HANDSHAKE_TIMEOUT = 3.0
READ_SIZE = 64 * 1024

_SHORT_HEADER = struct.Struct("!BB")
_MEDIUM_HEADER = struct.Struct("!BBH")
_LONG_HEADER = struct.Struct("!BBQ")
"""A server frame's header by payload size (under 126, under 65,536, larger), each packed
in one call: ``data_frame`` runs for every delivery."""


def data_frame(data: bytes) -> bytes:
    """One unfragmented, unmasked server frame of ``data``: text when it is UTF-8, else
    binary (RFC 6455 5.2; the stage negotiates no extension, as API Gateway has none)."""
    if data.isascii():
        first = 0x81
    else:
        try:
            data.decode("utf-8")
            first = 0x81
        except UnicodeDecodeError:
            first = 0x82
    size = len(data)
    if size < 126:
        return _SHORT_HEADER.pack(first, size) + data
    if size < 65536:
        return _MEDIUM_HEADER.pack(first, 126, size) + data
    return _LONG_HEADER.pack(first, 127, size) + data


class SessionHost(Protocol):
    """What a session needs of the stage: the API's rules, the registry, the limits, a
    clock and ids, a way to invoke a function and the routes' integrations."""

    api: WebSocketApi
    registry: ConnectionRegistry
    port: int

    @property
    def limits(self) -> limits.Limits: ...

    def clock(self) -> float: ...

    def new_id(self) -> str: ...

    async def invoke(self, function: str, event: Mapping[str, Any], label: str = "") -> Any: ...

    @property
    def integrations(self) -> Integrations: ...


class WebSocketSession:
    """Implements ``Outbound`` for the registry: ``send`` and ``close`` from anywhere on
    the stage's event loop (the ``@connections`` API uses them).

    A session lives as long as its connection, so it keeps only what an open connection
    needs: ``__slots__``, and the upgrade request, and the protocol that parsed it, are
    dropped once the handshake is answered (thousands of idle connections each held a
    few KB of them)."""

    __slots__ = (
        "_closed_by_stage",
        "_context",
        "_dispatches",
        "_fragment_opcode",
        "_fragments",
        "_protocol",
        "_reader",
        "_stage",
        "_transport",
        "_upgrade",
        "_writer",
        "connection_id",
        "source_ip",
        "task",
    )

    def __init__(
        self,
        stage: SessionHost,
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
        self._transport = writer.transport
        """The writer's, kept for ``send``: a property read less per delivery."""
        self._upgrade: tuple[bytes, HttpRequest] | None = (head, request)
        """The upgrade request, until the handshake is answered."""
        self._protocol = ServerProtocol(max_size=stage.limits.websocket_max_size)
        self._closed_by_stage: tuple[int, str] | None = None
        self._fragments: list[bytes] = []
        self._fragment_opcode: Opcode | None = None
        self._dispatches: set[asyncio.Task[None]] = set()
        peer = writer.get_extra_info("peername") or ("127.0.0.1", 0)
        self.source_ip: str = peer[0]
        self.connection_id = stage.new_id()
        self._context: events.ConnectionContext | None = None
        # what events say of the connection, fixed once $connect has accepted it

    # --- Outbound -----------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        """Send a message to the client: a text frame when it is UTF-8, else binary.
        Written straight to the socket (``data_frame``): it is the hot loop of every
        ``@connections`` post, and the protocol has nothing to track for a data frame."""
        if self._protocol.state is not State.OPEN:
            return
        transport = self._transport
        transport.write(data_frame(data))
        buffered = transport.get_write_buffer_size()
        if buffered and buffered > self._stage.limits.send_buffer_bytes:  # 0: all sent
            log.warning(
                "closing %s: %d bytes wait for a client that does not read",
                self.connection_id,
                buffered,
            )
            self._closed_by_stage = (1001, "Going away: the client does not read its messages")
            transport.abort()

    def close(self, code: int, reason: str) -> None:
        """Start the closing handshake from the stage's side."""
        if self._protocol.state is State.OPEN:
            self._closed_by_stage = (code, reason)
            self._protocol.send_close(code, reason)
            self._flush()

    # --- lifecycle ----------------------------------------------------------------------
    async def run(self) -> None:
        if not await self._handshake():
            return
        registry = self._stage.registry
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

    async def _handshake(self) -> bool:
        """Answer the upgrade: the authorizer and $connect decide. True once open. The
        request is a local of this call only, so it is freed when the call returns."""
        assert self._upgrade is not None
        (head, request), self._upgrade = self._upgrade, None
        protocol = self._protocol
        protocol.receive_data(head)
        upgrade = protocol.events_received()[0]
        assert isinstance(upgrade, Request)
        response = protocol.accept(upgrade)
        if response.status_code != 101:
            self._refuse_handshake(response)
            return False
        if not self._stage.api.serves_path(request.path):
            self._refuse_handshake(protocol.reject(404, f"no WebSocket API at {request.path}\n"))
            return False
        registry = self._stage.registry
        connection = registry.register(
            self.connection_id, self, self.source_ip, request.header("User-Agent") or ""
        )
        handshake = await self._admit(request, connection.connected_at_ms)
        if not handshake.accepted:
            registry.unregister(self.connection_id)
            self._refuse_handshake(protocol.reject(handshake.status, handshake.body or ""))
            log.info("connect %s rejected with %s", self.connection_id, handshake.status)
            return False
        if "Sec-WebSocket-Protocol" in handshake.headers:
            response.headers["Sec-WebSocket-Protocol"] = handshake.headers["Sec-WebSocket-Protocol"]
        protocol.send_response(response)
        self._flush()
        # The frames go to a protocol that starts open: the handshake's keeps the parsed
        # request alive in its parser for as long as it lives.
        self._protocol = ServerProtocol(
            state=State.OPEN, max_size=self._stage.limits.websocket_max_size
        )
        registry.open(self.connection_id)
        self._context = self._connection_context()
        log.info("connect %s from %s", self.connection_id, self.source_ip)
        return True

    def _refuse_handshake(self, response: Response) -> None:
        self._protocol.send_response(response)
        self._flush()
        self._writer.close()

    async def _read_frames(self) -> None:
        protocol = self._protocol
        settings = self._stage.limits
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
                async with asyncio.timeout(max(timeout, 0)):
                    data = await self._reader.read(READ_SIZE)
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
        if self._protocol.state is not State.OPEN:
            return  # frames after a close the stage started are dropped
        if frame.opcode is not Opcode.CONT:
            self._fragment_opcode = frame.opcode
        self._fragments.append(bytes(frame.data))
        if not frame.fin:
            return
        data = b"".join(self._fragments)
        opcode, self._fragments = self._fragment_opcode, []
        self._stage.registry.touch(self.connection_id)
        message = inbound_message(opcode is Opcode.TEXT, data)
        if isinstance(message, tuple):
            self.close(*message)
            return
        if len(self._dispatches) >= self._stage.limits.max_inflight_messages:
            self.send(self._stage.api.too_many_requests(self.connection_id, self._stage.new_id()))
            return
        task = asyncio.create_task(self._dispatch(message))
        self._dispatches.add(task)
        task.add_done_callback(self._dispatches.discard)

    def _flush(self) -> None:
        for chunk in self._protocol.data_to_send():
            if chunk:
                self._writer.write(chunk)
            elif self._writer.can_write_eof() and not self._writer.is_closing():
                # Half-close, and let the read loop discard what the client still sends
                # until it closes too: closing with its data unread would reset the
                # connection, and a reset can reach the client before the close frame
                # (a 1009 after an oversized message would then be lost).
                try:
                    self._writer.write_eof()
                except OSError:
                    # The client reset the connection after its end (wscat -x): nothing
                    # more can reach it, so the session ends quietly, what it read served.
                    self._transport.abort()
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

    async def _admit(self, request: HttpRequest, now_ms: int) -> Handshake:
        """Run the authorizer and $connect: the handshake's answer."""
        stage = self._stage
        api = stage.api
        route = api.connect_route
        headers = events.handshake_headers(
            request.headers,
            source_ip=self.source_ip,
            server_port=stage.port,
            trace=events.trace_id(now_ms),
        )
        query = request.query
        if route is not None and route.authorizer is not None:
            refused = await self._authorize(route, headers, query, now_ms)
            if refused is not None:
                return refused
        if route is None:
            return ACCEPTED
        event = api.connect_event(
            self._connection_context(), headers, query, stage.new_id(), now_ms
        )
        answer = await self._call(route, event)
        return api.handshake(None if isinstance(answer, IntegrationError) else answer)

    async def _authorize(
        self,
        route: RouteModel,
        headers: list[tuple[str, str]],
        query: list[tuple[str, str]],
        now_ms: int,
    ) -> Handshake | None:
        """None when the authorizer allows; else the refusal."""
        stage = self._stage
        api = stage.api
        authorizer = route.authorizer
        assert authorizer is not None
        if api.lacks_identity(authorizer, headers, query):
            return api.refusal(401)
        event = api.authorizer_event(
            self._connection_context(), headers, query, stage.new_id(), now_ms
        )
        try:
            result = await stage.invoke(
                authorizer.function, event, f"authorizer {self.connection_id}"
            )
        except HandlerError as exc:
            return api.authorizer_failure(exc.error)
        except InvocationError:
            return api.authorizer_failure(None)
        decision = api.authorizer_decision(result, event["methodArn"])
        if decision.status != 200:
            return api.refusal(decision.status)
        connection = stage.registry.get(self.connection_id)
        if connection is not None:
            connection.authorizer = decision.context
        return None

    async def _call(
        self, route: RouteModel, event: dict[str, Any]
    ) -> integration.ProxyResponse | IntegrationError:
        """The route's integration's answer, or why it gave none (said in the log)."""
        label = f"Route: {route.route_key} Connection: {self.connection_id}"
        try:
            return await self._stage.integrations.call(route, event, label)
        except IntegrationError as exc:
            log.warning("%s failed: %s", label, exc)
            return exc

    async def _dispatch(self, message: str) -> None:
        stage = self._stage
        api = stage.api
        request_id = stage.new_id()
        route = api.route_for(message)
        if route is None:
            self.send(api.forbidden(self.connection_id, request_id))
            return
        assert self._context is not None, "messages arrive only after $connect accepted"
        event = api.message_event(
            self._context,
            route,
            message,
            request_id,
            message_id=stage.new_id(),
            now_ms=int(stage.clock() * 1000),
        )
        answer = await self._call(route, event)
        response = None if isinstance(answer, IntegrationError) else answer
        limit = stage.limits.max_message_bytes
        size = len(response.body.encode("utf-8")) if response and response.body else 0
        if route.two_way and size > limit:
            log.warning(
                "%s: the route response of %s is %d bytes, over the %d a message may have; "
                "the client gets Internal server error",
                route.route_key,
                route.target,
                size,
                limit,
            )
        failure = answer.message if isinstance(answer, IntegrationError) else None
        reply = api.reply(route, response, self.connection_id, request_id, limit, failure)
        if reply is not None:
            self.send(reply)

    def _disconnect_status(self) -> tuple[int, str]:
        protocol = self._protocol

        def frame(close: Any) -> tuple[int, str] | None:
            return None if close is None else (int(close.code), close.reason)

        client_started = protocol.close_rcvd_then_sent is not False
        return self._stage.api.close_status(
            CloseFrames(
                by_stage=self._closed_by_stage,
                received=frame(protocol.close_rcvd) if client_started else None,
                sent=frame(protocol.close_sent),
            )
        )

    async def _disconnect(self, code: int, reason: str) -> None:
        stage = self._stage
        route = stage.api.disconnect_route
        if route is None or self._context is None:
            return
        event = stage.api.disconnect_event(
            self._context, (code, reason), stage.new_id(), int(stage.clock() * 1000)
        )
        await self._call(route, event)
