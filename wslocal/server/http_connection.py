"""A client connection while it only calls ``@connections``: the handlers' kept-alive
posts (the fan-out's hot loop) are answered from its buffer as they arrive, with no task,
stream or timer per request. Their heads are read by ``parse_plain_head``, which reads
only what the answer needs. The first request that is anything else (an upgrade, a
chunked or oversized body, a file, a REST call, a head not of the plain shape every
client sends) hands the connection, with the bytes not yet served, to the front door's
stream path (``FrontDoor.on_client``), which reads it with the full parser and serves it
to its end.

It knows its door through ``InlineDoor`` only: which requests it may answer itself, the
answer to each, and where to hand the rest.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, Protocol, cast

from wslocal.apigateway.http import MAX_HEAD_BYTES, PlainHead, parse_plain_head, response_bytes
from wslocal.apigateway.limits import Limits

STREAM_LIMIT_BYTES = 2 * 1024 * 1024


class InlineDoor(Protocol):
    """What an ``HttpConnection`` needs of its front door (``FrontDoor``)."""

    ready: asyncio.Event
    proxy_api: str | None
    connections: set[HttpConnection]

    @property
    def limits(self) -> Limits: ...

    def serves_inline(self, head: PlainHead) -> bool: ...

    def management_answer(
        self, method: str, path: str, body: bytes, *, keep_alive: bool
    ) -> bytes: ...

    def on_client(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, first: bool = True
    ) -> Awaitable[None]: ...


class HttpConnection(asyncio.Protocol):
    """A client connection while it only calls ``@connections``: each request is
    answered as soon as its last byte is buffered (pipelined ones too). Its one timer
    is re-armed lazily: a request only moves a deadline, the timer fires when it is
    due and looks again. Anything else goes to ``FrontDoor.on_client`` by ``hand_over``."""

    def __init__(self, door: InlineDoor) -> None:
        self._door = door
        self._limits = door.limits
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._buffer = b""
        self._first = True
        self._deadline = 0.0
        self._idle = True
        """Waiting for a request's first byte (a timeout then closes quietly, else 408)."""
        self._timer: asyncio.TimerHandle | None = None
        self._writing_paused = False

    # --- asyncio.Protocol ---------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        self._door.connections.add(self)
        if self._door.proxy_api is not None or not self._door.ready.is_set():
            self.hand_over()
            return
        self._wait_for(self._limits.request_head_timeout, idle=True)

    def data_received(self, data: bytes) -> None:
        self._buffer = self._buffer + data if self._buffer else data
        self._serve_buffered()

    def eof_received(self) -> bool:
        return False  # nothing more will be asked: close (a partial request is dropped)

    def connection_lost(self, exc: Exception | None) -> None:
        self._forget()

    def pause_writing(self) -> None:
        """The client does not read its answers: stop reading its requests."""
        self._writing_paused = True
        if self._transport is not None:
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        self._writing_paused = False
        if self._transport is not None:
            self._transport.resume_reading()
            if self._buffer:
                self._serve_buffered()

    # --- serving ------------------------------------------------------------------------
    def _serve_buffered(self) -> None:
        """Answer every whole request buffered, in one write (pipelined requests get
        their answers together). Serving a request writes only to other connections
        (its message's), so this one's transport stays as it was."""
        transport = self._transport
        if transport is None:
            return
        buffer = self._buffer
        answers: list[bytes] = []
        keep_alive = True
        door = self._door
        while buffer and keep_alive and not self._writing_paused:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > MAX_HEAD_BYTES:
                    self._hand_over_after(answers, buffer)  # the stream path answers 431
                    return
                break
            head_end = end + 4
            head = parse_plain_head(buffer, head_end)
            if head is None or not door.serves_inline(head):
                self._hand_over_after(answers, buffer)  # the stream path reads it, as always
                return
            body_end = head_end + head.content_length
            if len(buffer) < body_end:
                break  # the body's rest is on its way
            keep_alive = head.keep_alive
            answers.append(
                door.management_answer(
                    head.method, head.path, buffer[head_end:body_end], keep_alive=keep_alive
                )
            )
            buffer = buffer[body_end:]
        self._buffer = buffer
        if answers:
            self._first = False
            transport.write(answers[0] if len(answers) == 1 else b"".join(answers))
        if not keep_alive:
            transport.close()
            self._forget()
        elif not buffer:
            self._wait_for(self._limits.keep_alive_idle, idle=True)
        elif answers or self._idle:  # a request has begun: its own time starts now
            self._wait_for(self._limits.request_head_timeout, idle=False)

    def _hand_over_after(self, answers: list[bytes], buffer: bytes) -> None:
        """Write the answers served so far, then hand ``buffer`` (not yet served) over."""
        self._buffer = buffer
        if answers:
            self._first = False
            if self._transport is not None:
                self._transport.write(b"".join(answers))
        self.hand_over()

    def hand_over(self) -> None:
        """Give the connection, and what it sent that is not answered yet, to the stream
        path (``FrontDoor.on_client``), which serves it from here on."""
        transport = self._transport
        assert transport is not None
        self._forget()
        buffered, first = self._buffer, self._first
        reader = asyncio.StreamReader(limit=STREAM_LIMIT_BYTES, loop=self._loop)

        def start(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Any:
            if buffered:
                reader.feed_data(buffered)
            return self._door.on_client(reader, writer, first=first)

        protocol = asyncio.StreamReaderProtocol(reader, start, loop=self._loop)
        transport.set_protocol(protocol)
        protocol.connection_made(transport)

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()
        self._forget()

    # --- time limits --------------------------------------------------------------------
    def _wait_for(self, seconds: float, *, idle: bool) -> None:
        self._deadline = self._loop.time() + seconds
        self._idle = idle
        if self._timer is None:
            self._timer = self._loop.call_at(self._deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if self._transport is None:
            return
        if self._loop.time() < self._deadline:
            self._timer = self._loop.call_at(self._deadline, self._on_timer)
            return
        if not self._idle:  # a request started and did not finish in time
            self._transport.write(response_bytes(408, b"Request Timeout\n", keep_alive=False))
        self._transport.close()
        self._forget()

    def _forget(self) -> None:
        """No longer this protocol's to serve (closed, or handed over)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._transport = None
        self._door.connections.discard(self)
