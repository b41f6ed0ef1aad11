"""One kept-alive HTTP/1.1 connection: write a request built whole, read its answer.

``http.client`` spends about 100 µs of CPU on a post and its answer: a regular expression
per header written, a file object per answer (``makefile``) and the answer's headers
parsed by the ``email`` package. The layer builds its request's bytes itself (head and
body, written with one ``sendall``, as ``http.client`` also sends them) and reads the
answer here: the status line, the headers, then a body of ``Content-Length`` bytes, in
chunks, or to the end of the connection (``RFC 9112`` section 6.3); interim 1xx answers
are skipped. A connection the answer says to close (``Connection: close``, HTTP/1.0
without keep-alive, a body read to the end) is closed, and the next exchange opens a new
one.

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
        return self._read_response()

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

    def _read_response(self) -> Response:
        status, version, headers = self._read_head()
        while 100 <= status < 200:
            status, version, headers = self._read_head()
        connection = headers.get("connection", "").lower()
        closes = "close" in connection or (version == "HTTP/1.0" and "keep-alive" not in connection)
        if status in NO_BODY_STATUSES:
            body = b""
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            body = self._read_chunked()
        elif "content-length" in headers:
            try:
                length = int(headers["content-length"])
            except ValueError:
                raise http.client.HTTPException("a Content-Length that is not a number") from None
            body = self._read_exactly(length)
        else:
            body = self._read_to_end()
            closes = True
        if closes:
            self.close()
        return Response(status, headers, body)

    def _read_head(self) -> tuple[int, str, dict[str, str]]:
        end = self._buffer.find(b"\r\n\r\n")
        while end < 0:
            if len(self._buffer) > MOST_HEAD_BYTES:
                raise http.client.LineTooLong("the answer's head")
            searched = max(0, len(self._buffer) - 3)
            if not self._receive():
                if self._buffer:
                    raise http.client.IncompleteRead(bytes(self._buffer))
                raise http.client.RemoteDisconnected("the server closed without answering")
            end = self._buffer.find(b"\r\n\r\n", searched)
        lines = self._buffer[:end].decode("latin-1").split("\r\n")
        del self._buffer[: end + 4]
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
        return int(code), version, headers

    def _read_chunked(self) -> bytes:
        body = bytearray()
        while True:
            size_line = self._read_line()
            try:
                size = int(size_line.split(b";", 1)[0], 16)
            except ValueError:
                raise http.client.HTTPException("a chunk size that is not a number") from None
            if size == 0:
                while self._read_line():  # trailer fields, up to the empty line
                    pass
                return bytes(body)
            body += self._read_exactly(size)
            self._read_exactly(2)

    def _read_line(self) -> bytes:
        end = self._buffer.find(b"\r\n")
        while end < 0:
            if len(self._buffer) > MOST_HEAD_BYTES:
                raise http.client.LineTooLong("a chunk's line")
            if not self._receive():
                raise http.client.IncompleteRead(bytes(self._buffer))
            end = self._buffer.find(b"\r\n")
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 2]
        return line

    def _read_exactly(self, length: int) -> bytes:
        while len(self._buffer) < length:
            if not self._receive():
                raise http.client.IncompleteRead(bytes(self._buffer), length - len(self._buffer))
        data = bytes(self._buffer[:length])
        del self._buffer[:length]
        return data

    def _read_to_end(self) -> bytes:
        while self._receive():
            pass
        data = bytes(self._buffer)
        self._buffer.clear()
        return data

    def _receive(self) -> int:
        """Bytes received into the buffer: 0 when the server closed the connection."""
        assert self._socket is not None
        data = self._socket.recv(RECEIVE_BYTES)
        self._buffer += data
        return len(data)
