"""HTTP/1.1 exchanges on kept-alive connections: write a request built whole, read its
answer.

``http.client`` spends about 100 µs of CPU on a post and its answer: a regular expression
per header written, a file object per answer (``makefile``) and the answer's headers
parsed by the ``email`` package. The layer builds its request's bytes itself (head and
body, written with one ``sendall``, as ``http.client`` also sends them) and reads the
answer with ``parse_response``: the status line, the headers, then a body of
``Content-Length`` bytes, in chunks, or to the end of the connection (``RFC 9112`` section
6.3); interim 1xx answers are skipped. A connection the answer says to close
(``Connection: close``, HTTP/1.0 without keep-alive, a body read to the end) is closed,
and the next exchange opens a new one.

Two shells move the bytes: ``KeptAliveConnection`` here, one blocking connection (a
thread's), and ``kept_alive_sockets.KeptAliveSockets``, non-blocking connections that one
thread drives with ``selectors``, several requests pipelined on each (a broadcast's first
attempts). Both parse with ``parse_response``; the second knows the local stage's answer by
its bytes first (``bodiless_response``).

Errors are ``http.client``'s: ``RemoteDisconnected`` when the server closed before
answering (a kept-alive connection it dropped while idle), ``IncompleteRead``,
``BadStatusLine``, ``LineTooLong``; and ``OSError`` (``TimeoutError`` included) from the
socket.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from dataclasses import dataclass

MOST_HEAD_BYTES = 64 * 1024
RECEIVE_BYTES = 64 * 1024
NO_BODY_STATUSES = frozenset({204, 304})


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    """Lower-cased names; a repeated header's values joined with ``, ``."""
    body: bytes


@dataclass(frozen=True)
class Parsed:
    response: Response
    closes: bool
    """The server closes the connection after this answer: the next request needs a new one."""


def parse_response(buffer: bytearray, ended: bool) -> Parsed | None:
    """The answer at the start of ``buffer``, its bytes taken out of it; ``None`` while
    more bytes are needed (nothing taken). ``ended``: the server closed the connection, no
    more bytes will come (then an answer cut short raises)."""
    position = 0
    status, version, headers, position = _parse_head(buffer, position, ended)
    while 100 <= status < 200:
        status, version, headers, position = _parse_head(buffer, position, ended)
    if status < 0:
        return None
    connection = headers.get("connection", "").lower()
    closes = "close" in connection or (version == "HTTP/1.0" and "keep-alive" not in connection)
    if status in NO_BODY_STATUSES:
        body: bytes | None = b""
    elif "chunked" in headers.get("transfer-encoding", "").lower():
        body, position = _parse_chunked(buffer, position, ended)
    elif "content-length" in headers:
        try:
            length = int(headers["content-length"])
        except ValueError:
            raise http.client.HTTPException("a Content-Length that is not a number") from None
        body, position = _parse_exactly(buffer, position, length, ended)
    else:
        body = bytes(buffer[position:]) if ended else None
        position = len(buffer)
        closes = True
    if body is None:
        return None
    del buffer[:position]
    return Parsed(Response(status, headers, body), closes)


def _parse_head(
    buffer: bytearray, position: int, ended: bool
) -> tuple[int, str, dict[str, str], int]:
    """A head from ``position``: status (-1 while incomplete), version, headers, and where
    the head ends."""
    end = buffer.find(b"\r\n\r\n", position)
    if end < 0:
        if len(buffer) - position > MOST_HEAD_BYTES:
            raise http.client.LineTooLong("the answer's head")
        if ended:
            if len(buffer) > position:
                raise http.client.IncompleteRead(bytes(buffer[position:]))
            raise http.client.RemoteDisconnected("the server closed without answering")
        return -1, "", {}, position
    lines = buffer[position:end].decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    code = rest[:3]
    if not version.startswith("HTTP/") or len(code) != 3 or not code.isdigit():
        raise http.client.BadStatusLine(lines[0])
    headers: dict[str, str] = {}
    name = ""
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and name:  # an obsolete folded continuation
            headers[name] = f"{headers[name]} {line.strip()}"
            continue
        name, colon, value = line.partition(":")
        if not colon:
            raise http.client.BadStatusLine(line)
        name = name.strip().lower()
        value = value.strip()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return int(code), version, headers, end + 4


def _parse_chunked(buffer: bytearray, position: int, ended: bool) -> tuple[bytes | None, int]:
    body = bytearray()
    while True:
        size_line, position = _parse_line(buffer, position, ended)
        if size_line is None:
            return None, position
        try:
            size = int(size_line.split(b";", 1)[0], 16)
        except ValueError:
            raise http.client.HTTPException("a chunk size that is not a number") from None
        if size == 0:
            while True:  # trailer fields, up to the empty line
                trailer, position = _parse_line(buffer, position, ended)
                if trailer is None:
                    return None, position
                if not trailer:
                    return bytes(body), position
        chunk, position = _parse_exactly(buffer, position, size + 2, ended)
        if chunk is None:
            return None, position
        body += chunk[:-2]


def _parse_line(buffer: bytearray, position: int, ended: bool) -> tuple[bytes | None, int]:
    end = buffer.find(b"\r\n", position)
    if end < 0:
        if len(buffer) - position > MOST_HEAD_BYTES:
            raise http.client.LineTooLong("a chunk's line")
        if ended:
            raise http.client.IncompleteRead(bytes(buffer[position:]))
        return None, position
    return bytes(buffer[position:end]), end + 2


def _parse_exactly(
    buffer: bytearray, position: int, length: int, ended: bool
) -> tuple[bytes | None, int]:
    if len(buffer) - position < length:
        if ended:
            partial = bytes(buffer[position:])
            raise http.client.IncompleteRead(partial, length - len(partial))
        return None, position
    return bytes(buffer[position : position + length]), position + length


class KeptAliveConnection:
    """A connection to one server, opened on first use and again after it closed. Not
    thread-safe: one per thread."""

    def __init__(self, host: str, port: int, tls: ssl.SSLContext | None = None) -> None:
        self._address = (host, port)
        self._tls = tls
        self._socket: socket.socket | None = None
        self._buffer = bytearray()

    @property
    def is_open(self) -> bool:
        """Whether the next exchange goes on a connection that was used before."""
        return self._socket is not None

    def exchange(self, request: bytes, timeout_s: float) -> Response:
        """Write ``request`` and read its answer; ``timeout_s`` bounds the connect and each
        read. On any error the caller closes the connection."""
        sock = self._socket
        if sock is None:
            sock = self._open(timeout_s)
        else:
            sock.settimeout(timeout_s)
        sock.sendall(request)
        ended = False
        while (parsed := parse_response(self._buffer, ended)) is None:
            data = sock.recv(RECEIVE_BYTES)
            self._buffer += data
            ended = not data
        if parsed.closes:
            self.close()
        return parsed.response

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        self._buffer.clear()

    def _open(self, timeout_s: float) -> socket.socket:
        sock = socket.create_connection(self._address, timeout_s)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self._tls is not None:
            sock = self._tls.wrap_socket(sock, server_hostname=self._address[0])
        self._socket = sock
        return sock


def bodiless_response(data: bytes) -> Response | None:
    """``data`` read, when it is exactly one kept-alive 2xx answer whose one header is
    ``Content-Length: 0`` (the local stage's answer to a post), as ``parse_response`` reads
    it; else ``None``, for ``parse_response``."""
    status_line, _, rest = data.partition(b"\r\n")
    if rest.lower() != b"content-length: 0\r\n\r\n" or not status_line.startswith(b"HTTP/1.1 2"):
        return None
    code = status_line[9:12]
    if not code.isdigit():
        return None
    return Response(int(code), {"content-length": "0"}, b"")
