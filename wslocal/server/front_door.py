"""The stage's front doors, one per port: each accepts TCP connections, reads a request
head, asks the pure core which door it is for (``wslocal.apigateway.doors``) and hands
it over: an upgrade to a WebSocketSession, ``@connections`` to the management API's
rules, a REST or HTTP API call to ``ProxyApiDoor``, a GET to the page's folder. It serves
nothing itself beyond HTTP framing and time limits.

Connections that arrive while the stage is still starting (its port is open, its
functions are being built and warmed) wait for ``ready``: a client that connects as soon
as the port opens is answered, never dropped.

Every connection starts as an ``HttpConnection`` (``wslocal.server.http_connection``),
which answers the handlers' kept-alive ``@connections`` calls itself with the door's
``management_answer``; the first request that is anything else is handed, with the bytes
not yet served, to the stream path here (``on_client``), which serves it to its end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Protocol

from wslocal.apigateway import management_api
from wslocal.apigateway.doors import Door, choose_door, fallback_door
from wslocal.apigateway.http import (
    HttpError,
    HttpRequest,
    PlainHead,
    chunk_size,
    parse_request_head,
    response_bytes,
)
from wslocal.apigateway.limits import Limits
from wslocal.apigateway.proxy import responses
from wslocal.faults import FaultPlan
from wslocal.server import static
from wslocal.server.http_connection import HttpConnection
from wslocal.server.proxy_api import ProxyApiDoor
from wslocal.server.session import SessionHost, WebSocketSession
from wslocal.template import ProxyApiModel

log = logging.getLogger("wslocal")

DISCARD_S = 1.0
DELIVERED_ANSWER = response_bytes(200)
DELIVERED_ANSWER_THEN_CLOSE = response_bytes(200, keep_alive=False)
"""The answer to a POST whose message was sent, the fan-out's every post: built once."""


class FrontDoorHost(SessionHost, Protocol):
    """What the front door needs of the stage beyond a session's needs."""

    @property
    def stage_name(self) -> str: ...

    @property
    def static_dir(self) -> Path | None: ...

    @property
    def faults(self) -> FaultPlan | None: ...

    @property
    def proxy_door(self) -> ProxyApiDoor: ...

    def proxy_api(self, logical_id: str) -> ProxyApiModel | None:
        """The API as the template says now (it may have been edited, or removed)."""


class FrontDoor:
    """Every client connection of one port, from accept to close."""

    def __init__(
        self,
        host: FrontDoorHost,
        ready: asyncio.Event,
        *,
        proxy_api: str | None = None,
        serves_static: bool = True,
    ) -> None:
        self._host = host
        self.ready = ready
        """Set once the stage can serve; until then accepted connections wait."""
        self.proxy_api = proxy_api
        """The REST or HTTP API (logical id) this port serves; None: the WebSocket API."""
        self._serves_static = serves_static
        self.clients: dict[asyncio.Task[None], asyncio.StreamWriter] = {}
        self.connections: set[HttpConnection] = set()
        """Connections served inline (not handed to the stream path)."""
        self.sessions: set[WebSocketSession] = set()
        self.server: asyncio.Server | None = None
        self.port = 0

    async def listen(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(lambda: HttpConnection(self), host, port)
        self.port = self.server.sockets[0].getsockname()[1]

    @property
    def static_dir(self) -> Path | None:
        return self._host.static_dir if self._serves_static else None

    @property
    def limits(self) -> Limits:
        return self._host.limits

    def close_sessions(self, code: int, reason: str) -> None:
        for session in list(self.sessions):
            session.close(code, reason)

    async def wait_for_sessions(self, timeout: float) -> None:
        if self.sessions:
            await asyncio.wait([session.task for session in self.sessions], timeout=timeout)

    async def drop_clients(self) -> None:
        """Abort what is left (idle keep-alive HTTP connections) and wait for them."""
        for connection in list(self.connections):
            connection.abort()
        for writer in self.clients.values():
            writer.transport.abort()
        if self.clients:
            await asyncio.wait(list(self.clients), timeout=1)

    def abort(self) -> None:
        for connection in list(self.connections):
            connection.abort()
        for writer in list(self.clients.values()):
            writer.transport.abort()

    def serves_inline(self, head: PlainHead) -> bool:
        """Whether ``HttpConnection`` answers this request itself: an ``@connections``
        call within the body limit, on the WebSocket API's port of a ready stage (a plain
        head is never an upgrade nor chunked). Anything else goes to the stream path."""
        return (
            self.proxy_api is None
            and self.ready.is_set()
            and management_api.is_management_path(head.path)
            and head.content_length <= self._host.limits.max_post_bytes
        )

    def management_answer(self, method: str, path: str, body: bytes, *, keep_alive: bool) -> bytes:
        """The response to an ``@connections`` call, its message sent if it is a POST."""
        host = self._host
        faults = host.faults
        if method == "POST" and faults and faults.post_fails():
            log.info("fault injected: %s answered 500", path)
            answer = management_api.internal_error()
        else:
            answer = management_api.handle_management_request(
                host.registry,
                method=method,
                path=path,
                body=body,
                stage=host.stage_name,
                max_post_bytes=host.limits.max_post_bytes,
            )
        if answer is management_api.DELIVERED:
            return DELIVERED_ANSWER if keep_alive else DELIVERED_ANSWER_THEN_CLOSE
        return response_bytes(answer.status, answer.body, answer.headers, keep_alive=keep_alive)

    async def on_client(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, first: bool = True
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.clients[task] = writer
        try:
            await self.ready.wait()
            session = await self._serve(reader, writer, task, first=first)
            if session is not None:
                await self._run_session(session)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except Exception:
            log.exception("error while serving a client")
        finally:
            del self.clients[task]
            writer.close()

    async def _serve(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        task: asyncio.Task[None],
        *,
        first: bool,
    ) -> WebSocketSession | None:
        """Serve HTTP requests until the connection ends, or until an upgrade: then its
        session, to be run once this call's frame (the request it read) is gone."""
        limits = self._host.limits
        while True:
            try:  # the next request's first byte: an idle keep-alive waits longer
                async with asyncio.timeout(
                    limits.request_head_timeout if first else limits.keep_alive_idle
                ):
                    started = await reader.readexactly(1)
            except (asyncio.IncompleteReadError, TimeoutError):
                return None  # nothing was asked: close quietly
            try:
                async with asyncio.timeout(limits.request_head_timeout):
                    head = started + await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                return None
            except TimeoutError:
                writer.write(response_bytes(408, b"Request Timeout\n", keep_alive=False))
                return None
            try:
                request = parse_request_head(head)
                door = choose_door(
                    request,
                    first=first,
                    serves_static=self.static_dir is not None,
                    websocket_path=self._host.api.serves_path(request.path),
                    proxy_api=self.proxy_api is not None,
                )
                if door is Door.WEBSOCKET:
                    return WebSocketSession(self._host, reader, writer, head, request, task=task)
                first = False
                too_large = self._too_large(door, request)
                if too_large is not None:
                    # Answered before the body is read: a 50 MB body is never buffered.
                    writer.write(too_large)
                    return None
            except HttpError as exc:
                writer.write(response_bytes(exc.status, f"{exc}\n".encode(), keep_alive=False))
                return None
            try:
                async with asyncio.timeout(limits.request_head_timeout):
                    if request.chunked:
                        body = await _read_chunks(reader, self._body_limit(door))
                    else:
                        body = await reader.readexactly(request.content_length)
            except TimeoutError:
                writer.write(response_bytes(408, b"Request Timeout\n", keep_alive=False))
                return None
            except HttpError as exc:
                writer.write(response_bytes(exc.status, f"{exc}\n".encode(), keep_alive=False))
                return None
            if body is None:  # chunks past the limit: answered, the rest never kept
                writer.write(self._too_large_answer(door))
                await writer.drain()
                await _discard(reader)
                return None
            writer.write(await self._respond(door, request, body, writer))
            await writer.drain()
            if not request.keep_alive:
                return None

    async def _run_session(self, session: WebSocketSession) -> None:
        self.sessions.add(session)
        try:
            await session.run()
        finally:
            self.sessions.discard(session)

    def _too_large(self, door: Door, request: HttpRequest) -> bytes | None:
        if request.content_length <= self._body_limit(door):
            return None
        return self._too_large_answer(door)

    def _body_limit(self, door: Door) -> int:
        limits = self._host.limits
        if door is Door.PROXY_API:
            return limits.max_proxy_payload_bytes
        return limits.max_post_bytes

    def _too_large_answer(self, door: Door) -> bytes:
        if door is Door.PROXY_API:
            api = self._api()
            if api is not None:
                answer = responses.too_large(api)
                return response_bytes(answer.status, answer.body, answer.headers, keep_alive=False)
        if door is Door.MANAGEMENT_API:
            managed = management_api.payload_too_large()
            return response_bytes(managed.status, managed.body, managed.headers, keep_alive=False)
        return response_bytes(413, b"Payload Too Large\n", keep_alive=False)

    def _api(self) -> ProxyApiModel | None:
        return self._host.proxy_api(self.proxy_api) if self.proxy_api is not None else None

    async def _respond(
        self, door: Door, request: HttpRequest, body: bytes, writer: asyncio.StreamWriter
    ) -> bytes:
        keep_alive = request.keep_alive
        if door is Door.MANAGEMENT_API:
            return self.management_answer(request.method, request.path, body, keep_alive=keep_alive)
        if door is Door.STATIC:
            static_dir = self.static_dir
            path = static.resolve_static(static_dir, request.path) if static_dir else None
            if static_dir is not None and path is not None:
                return response_bytes(
                    200,
                    path.read_bytes(),
                    {
                        "Content-Type": static.content_type(path),
                        **static.security_headers(static_dir),
                    },
                    keep_alive=keep_alive,
                    head_only=request.method == "HEAD",
                )
            door = fallback_door(
                request,
                websocket_path=self._host.api.serves_path(request.path),
                proxy_api=self.proxy_api is not None,
            )
        if door is Door.PROXY_API:
            api = self._api()
            if api is not None:
                peer = writer.get_extra_info("peername") or ("127.0.0.1", 0)
                proxied = await self._host.proxy_door.answer(
                    api, request, body, source_ip=peer[0], port=self.port
                )
                return response_bytes(
                    proxied.status,
                    proxied.body,
                    proxied.headers,
                    keep_alive=keep_alive,
                    head_only=request.method == "HEAD",
                )
        if door is Door.WEBSOCKET_ADDRESS:
            return response_bytes(
                426,
                b"This is a WebSocket API: connect with a WebSocket client.\n",
                {"Upgrade": "websocket", "Content-Type": "text/plain; charset=utf-8"},
                keep_alive=keep_alive,
            )
        return response_bytes(
            404, b"Not Found\n", {"Content-Type": "text/plain"}, keep_alive=keep_alive
        )


async def _read_chunks(reader: asyncio.StreamReader, limit: int) -> bytes | None:
    """A chunked body, whole; None as soon as it passes ``limit`` bytes (the caller
    answers 413). Trailer fields are read and dropped."""
    chunks = []
    total = 0
    while size := chunk_size(await reader.readuntil(b"\r\n")):
        total += size
        if total > limit:
            return None
        chunks.append(await reader.readexactly(size))
        if await reader.readexactly(2) != b"\r\n":
            raise HttpError(400, "a chunk does not end with CRLF")
    while await reader.readuntil(b"\r\n") != b"\r\n":
        pass
    return b"".join(chunks)


async def _discard(reader: asyncio.StreamReader) -> None:
    """Read what the client is still sending, for a moment, before closing: closing on
    unread bytes resets the connection, and the client would lose the answer."""
    with contextlib.suppress(TimeoutError, ConnectionError):
        async with asyncio.timeout(DISCARD_S):
            while await reader.read(65536):
                pass
