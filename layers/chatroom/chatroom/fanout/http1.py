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

Two shells move the bytes: ``KeptAliveConnection``, one blocking connection (a thread's),
and ``KeptAliveSockets``, up to N non-blocking connections that one thread drives with
``selectors`` (a broadcast's first attempts). Both parse with ``parse_response``.

Errors are ``http.client``'s: ``RemoteDisconnected`` when the server closed before
answering (a kept-alive connection it dropped while idle), ``IncompleteRead``,
``BadStatusLine``, ``LineTooLong``; and ``OSError`` (``TimeoutError`` included) from the
socket.
"""

from __future__ import annotations

import errno
import http.client
import selectors
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

MOST_HEAD_BYTES = 64 * 1024
RECEIVE_BYTES = 64 * 1024
NO_BODY_STATUSES = frozenset({204, 304})

Key = TypeVar("Key")


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


class _Exchange:
    """One request on one non-blocking connection, and what came back so far."""

    __slots__ = (
        "buffer",
        "connecting",
        "deadline",
        "finished",
        "key",
        "request",
        "reused",
        "socket",
        "unsent",
    )

    def __init__(
        self, key: Any, request: bytes, sock: socket.socket, reused: bool, deadline: float
    ) -> None:
        self.key = key
        self.request = request
        self.socket = sock
        self.reused = reused
        self.deadline = deadline
        self.unsent = memoryview(request)
        self.buffer = bytearray()
        self.connecting = not reused
        self.finished = False


class KeptAliveSockets:
    """Plain-HTTP connections to one server that one thread drives together with
    ``selectors``, one request in flight on each; the connections left open are kept for
    the next call. Thread-safe: a call takes the idle connections it uses."""

    def __init__(self, host: str, port: int) -> None:
        self._host = host
        self._port = port
        self._idle: list[socket.socket] = []
        self._lock = threading.Lock()

    def exchange_all(
        self,
        requests: Iterator[tuple[Key, bytes]],
        answered: Callable[[Key, Response | None], None],
        most: int,
        timeout_s: float,
    ) -> None:
        """Call ``answered`` with each request's answer as it comes, ``None`` for one that
        got none (a connection error, a bad answer, ``timeout_s`` from its start to its
        answer); up to ``most`` requests at once. ``requests`` is advanced when a
        connection is free for the next one, so it decides then whether to start it. A
        kept-alive connection that fails before its answer (the server dropped it while
        idle) is replaced once, at once, as ``KeptAliveConnection``'s caller does; a
        timeout is not: it used the time."""
        most = max(1, most)
        with self._lock:
            idle = self._idle[-most:]
            del self._idle[-most:]
        _Drive(self._host, self._port, idle, requests, answered, timeout_s).run(most, self._keep)

    def _keep(self, idle: list[socket.socket]) -> None:
        with self._lock:
            self._idle += idle


class _Drive(Generic[Key]):
    """One ``KeptAliveSockets.exchange_all``: its selector, connections and answers."""

    def __init__(
        self,
        host: str,
        port: int,
        idle: list[socket.socket],
        requests: Iterator[tuple[Key, bytes]],
        answered: Callable[[Key, Response | None], None],
        timeout_s: float,
    ) -> None:
        self._host = host
        self._port = port
        self._address: tuple[socket.AddressFamily, Any] | None = None
        self._idle = idle
        self._requests = requests
        self._answered = answered
        self._timeout_s = timeout_s
        self._selector = selectors.DefaultSelector()
        self._exchanges: dict[socket.socket, _Exchange] = {}

    def run(self, most: int, keep: Callable[[list[socket.socket]], None]) -> None:
        try:
            for _ in range(most):
                self._next_on(self._idle.pop() if self._idle else None)
            while self._exchanges:
                exchanges = list(self._exchanges.values())
                wait = min(exchange.deadline for exchange in exchanges) - time.monotonic()
                for selected, mask in self._selector.select(max(0.0, wait)):
                    self._advance(selected.data, mask)
                now = time.monotonic()
                for exchange in exchanges:
                    if not exchange.finished and exchange.deadline <= now:
                        self._failed(exchange, timed_out=True)
        finally:
            for exchange in self._exchanges.values():
                exchange.socket.close()
            self._selector.close()
            keep(self._idle)

    def _next_on(self, sock: socket.socket | None) -> None:
        """Start the next request on ``sock`` (a new connection when ``None``), or keep
        ``sock`` idle when no request is left."""
        for key, request in self._requests:
            if self._start(key, request, sock):
                return
            sock = None
        if sock is not None:
            if sock in self._exchanges:
                del self._exchanges[sock]
                self._selector.unregister(sock)
            self._idle.append(sock)

    def _start(
        self, key: Key, request: bytes, sock: socket.socket | None, deadline: float | None = None
    ) -> bool:
        """Whether the request is under way (else its answer is ``None`` already); a
        request tried again on a new connection keeps the ``deadline`` it had."""
        if deadline is None:
            deadline = time.monotonic() + self._timeout_s
        if sock is not None:
            exchange = _Exchange(key, request, sock, True, deadline)
            try:
                events = selectors.EVENT_READ if self._send(exchange) else selectors.EVENT_WRITE
            except OSError:
                self._forget(sock)
                return self._start(key, request, None, deadline)
            if sock in self._exchanges:
                self._selector.modify(sock, events, exchange)
            else:
                self._selector.register(sock, events, exchange)
            self._exchanges[sock] = exchange
            return True
        try:
            sock = self._connecting()
        except OSError:
            self._answered(key, None)
            return False
        exchange = _Exchange(key, request, sock, False, deadline)
        self._selector.register(sock, selectors.EVENT_WRITE, exchange)
        self._exchanges[sock] = exchange
        return True

    def _connecting(self) -> socket.socket:
        """A non-blocking socket connecting to the server."""
        address = self._address
        if address is None:
            family, _, _, _, target = socket.getaddrinfo(
                self._host, self._port, type=socket.SOCK_STREAM
            )[0]
            address = self._address = (family, target)
        sock = socket.socket(address[0], socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            code = sock.connect_ex(address[1])
            if code not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK):
                raise OSError(code, "connect")
        except OSError:
            sock.close()
            raise
        return sock

    @staticmethod
    def _send(exchange: _Exchange) -> bool:
        """Whether the whole request is written (raises what the socket raises)."""
        try:
            sent = exchange.socket.send(exchange.unsent)
        except BlockingIOError:
            return False
        exchange.unsent = exchange.unsent[sent:]
        return not exchange.unsent

    def _advance(self, exchange: _Exchange, mask: int) -> None:
        if exchange.finished:
            return
        sock = exchange.socket
        try:
            if exchange.connecting:
                code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if code:
                    raise OSError(code, "connect")
                exchange.connecting = False
            if exchange.unsent:
                if self._send(exchange):
                    self._selector.modify(sock, selectors.EVENT_READ, exchange)
                return
            if not mask & selectors.EVENT_READ:
                return
            try:
                data = sock.recv(RECEIVE_BYTES)
            except BlockingIOError:
                return
            exchange.buffer += data
            parsed = parse_response(exchange.buffer, not data)
        except (OSError, http.client.HTTPException):
            self._failed(exchange, timed_out=False)
            return
        if parsed is None:
            return
        exchange.finished = True
        self._answered(exchange.key, parsed.response)
        if parsed.closes or exchange.buffer:
            self._forget(sock)
            self._next_on(None)
        else:
            self._next_on(sock)

    def _failed(self, exchange: _Exchange, timed_out: bool) -> None:
        exchange.finished = True
        self._forget(exchange.socket)
        if exchange.reused and not timed_out:
            if self._start(exchange.key, exchange.request, None, exchange.deadline):
                return
        else:
            self._answered(exchange.key, None)
        self._next_on(None)

    def _forget(self, sock: socket.socket) -> None:
        if sock in self._exchanges:
            del self._exchanges[sock]
            self._selector.unregister(sock)
        sock.close()
