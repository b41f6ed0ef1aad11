"""A lean WebSocket client for the bench's receivers (issue 24), as wrk is to ab.

The fan-out bench runs 500 clients on the same two cores as the stage it measures; the
``websockets`` library's client (its protocol in Python, one read per frame, a queue per
connection) cost 38-64 µs of CPU per delivery, a fifth of the machine in a burst. Browsers
on other machines cost the stage nothing of the sort. This client does only what RFC 6455
asks of one: the opening handshake with a random ``Sec-WebSocket-Key`` and a checked
``Sec-WebSocket-Accept``; server frames read in bulk from whatever one read brings (FIN and
opcode, 7-, 16- and 64-bit lengths, fragments joined); a masked pong for a ping; the closing
handshake. It offers no extension (no ``permessage-deflate``): the stage declines it, as API
Gateway does, so the floor is not asked for compression the stage never does.

``FrameParser`` is pure (bytes in, frames out); ``LeanClient`` is the asyncio protocol that
moves the bytes and hands each message to a callback, with no task or queue per connection.
It reads into a buffer the bench's connections share (``asyncio.BufferedProtocol``):
asyncio's plain ``Protocol`` allocates 256 KiB for every read, which glibc maps and unmaps
(an ``mmap``, ``mremap`` and ``munmap`` per read under strace).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
from collections.abc import Callable
from typing import NamedTuple
from urllib.parse import urlsplit

ACCEPT_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
NORMAL_CLOSURE = (1000).to_bytes(2, "big")
CLOSE_TIMEOUT_S = 10.0
READ_BUFFER_SIZE = 1 << 16

Message = str | bytes


class WebSocketError(Exception):
    """The server broke RFC 6455: a refused or unchecked handshake, or a masked frame."""


class Frame(NamedTuple):
    fin: bool
    opcode: int
    payload: bytes


class FrameParser:
    """Server frames out of a byte stream, however the reads cut it. A partial frame waits
    in a buffer for the next read; whole ones are returned in order."""

    def __init__(self) -> None:
        self._pending = bytearray()

    def feed(self, data: bytes | memoryview) -> list[Frame]:
        if self._pending:
            self._pending += data
            buffer: bytes | bytearray | memoryview = self._pending
        else:
            buffer = data
        frames: list[Frame] = []
        at, end = 0, len(buffer)
        while end - at >= 2:
            first, second = buffer[at], buffer[at + 1]
            if second & 0x80:
                raise WebSocketError("a server's frame is masked (RFC 6455, 5.1)")
            length, start = second & 0x7F, at + 2
            if length == 126:
                start = at + 4
                if end < start:
                    break
                length = int.from_bytes(buffer[at + 2 : start], "big")
            elif length == 127:
                start = at + 10
                if end < start:
                    break
                length = int.from_bytes(buffer[at + 2 : start], "big")
            if end < start + length:
                break
            payload = bytes(buffer[start : start + length])
            frames.append(Frame(bool(first & 0x80), first & 0x0F, payload))
            at = start + length
        if buffer is self._pending:
            del self._pending[:at]
        elif at < end:
            self._pending += buffer[at:]
        return frames


def masked_frame(opcode: int, payload: bytes) -> bytes:
    """One final client frame, masked with a fresh key as RFC 6455 requires of a client."""
    length = len(payload)
    if length < 126:
        head = bytes((0x80 | opcode, 0x80 | length))
    elif length < 1 << 16:
        head = bytes((0x80 | opcode, 0x80 | 126)) + length.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + length.to_bytes(8, "big")
    mask = os.urandom(4)
    keystream = (mask * (length // 4 + 1))[:length]
    masked = int.from_bytes(payload, "big") ^ int.from_bytes(keystream, "big")
    return head + mask + masked.to_bytes(length, "big")


def accept_for(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` a server must answer to ``key`` (RFC 6455, 4.2.2)."""
    return base64.b64encode(hashlib.sha1(key.encode() + ACCEPT_GUID).digest()).decode()


class LeanClient(asyncio.BufferedProtocol):
    """One connection: writes the handshake, then gives every message (text as ``str``,
    binary as ``bytes``) to ``on_message`` as soon as its last frame is read. ``opened``
    is done when the handshake is checked, ``closed`` when the connection is gone."""

    def __init__(
        self,
        host: str,
        resource: str,
        on_message: Callable[[Message], None],
        read_buffer: memoryview,
    ) -> None:
        self._host, self._resource, self._on_message = host, resource, on_message
        self._read_buffer = read_buffer
        self._key = base64.b64encode(os.urandom(16)).decode()
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self._transport: asyncio.Transport | None = None
        self._head = b""
        self._parser = FrameParser()
        self._fragments: list[bytes] = []
        self._fragmented_opcode = TEXT
        self._close_sent = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        transport.write(
            f"GET {self._resource} HTTP/1.1\r\nHost: {self._host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {self._key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._read_buffer

    def buffer_updated(self, nbytes: int) -> None:
        data: bytes | memoryview = self._read_buffer[:nbytes]
        if not self.opened.done():
            self._head += data
            head, separator, data = self._head.partition(b"\r\n\r\n")
            if not separator:
                return
            self._head = b""
            try:
                self._check_handshake(head)
            except WebSocketError as error:
                self.opened.set_exception(error)
                self._abort()
                return
            self.opened.set_result(None)
        for frame in self._parser.feed(data):  # a WebSocketError closes the transport
            self._frame(frame)

    def _check_handshake(self, head: bytes) -> None:
        status, *lines = head.decode("latin-1").split("\r\n")
        if status.split(" ", 2)[1:2] != ["101"]:
            raise WebSocketError(f"the server refused the handshake: {status}")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("upgrade", "").lower() != "websocket":
            raise WebSocketError("the server's 101 has no 'Upgrade: websocket'")
        if headers.get("sec-websocket-accept") != accept_for(self._key):
            raise WebSocketError("the server's Sec-WebSocket-Accept does not match our key")

    def _frame(self, frame: Frame) -> None:
        fin, opcode, payload = frame
        if opcode in (TEXT, BINARY):
            if fin:
                self._on_message(payload.decode() if opcode == TEXT else payload)
            else:
                self._fragmented_opcode, self._fragments = opcode, [payload]
        elif opcode == CONTINUATION:
            self._fragments.append(payload)
            if fin:
                whole = b"".join(self._fragments)
                self._fragments = []
                self._on_message(whole.decode() if self._fragmented_opcode == TEXT else whole)
        elif opcode == PING:
            self._write(masked_frame(PONG, payload))
        elif opcode == CLOSE and not self._close_sent:
            self._close_sent = True  # echo the server's status code; the server then hangs up
            self._write(masked_frame(CLOSE, payload[:2]))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc or WebSocketError("closed during the handshake"))
        if not self.closed.done():
            self.closed.set_result(None)

    def _write(self, data: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    def _abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    async def send(self, text: str) -> None:
        """Send one text message (in one masked frame)."""
        self._write(masked_frame(TEXT, text.encode()))

    async def close(self) -> None:
        """The closing handshake (1000): wait for the server to hang up, or cut the
        connection after ``CLOSE_TIMEOUT_S``."""
        if not self._close_sent:
            self._close_sent = True
            self._write(masked_frame(CLOSE, NORMAL_CLOSURE))
        try:
            await asyncio.wait_for(asyncio.shield(self.closed), CLOSE_TIMEOUT_S)
        except TimeoutError:
            self._abort()


async def connect(
    url: str,
    on_message: Callable[[Message], None],
    read_buffer: memoryview | None = None,
    open_timeout: float = 300.0,
) -> LeanClient:
    """A connection to a ``ws://`` URL, open once the server's handshake is checked.
    Connections on one event loop may share ``read_buffer``: each read is parsed, and what
    is left of a frame copied out, before the loop reads from another connection."""
    if read_buffer is None:
        read_buffer = memoryview(bytearray(READ_BUFFER_SIZE))
    parts = urlsplit(url)
    if parts.scheme != "ws" or parts.hostname is None:
        raise ValueError(f"not a ws:// URL: {url}")
    port = parts.port or 80
    resource = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host = parts.netloc
    loop = asyncio.get_running_loop()
    _, client = await loop.create_connection(
        lambda: LeanClient(host, resource, on_message, read_buffer), parts.hostname, port
    )
    try:
        await asyncio.wait_for(asyncio.shield(client.opened), open_timeout)
    except BaseException:  # a handshake refused or too slow leaves no socket behind
        client._abort()
        raise
    return client
