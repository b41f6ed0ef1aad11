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
``selectors`` (a broadcast's first attempts). Both parse with ``parse_response``. The
second is the fan-out's hot loop, so it does per post only what a post needs: its
connections stay registered with one selector for their life (a selector change only
while a request is partly written), each connection's state is one object reused from
request to request, the clock is read once per turn of the loop, and an answer that is
exactly the local stage's (``200``, ``Content-Length: 0``) is known by its bytes
(``bodiless_response``) instead of parsed. Its caller may hold requests back (a shared
bound on posts in flight) and wake it with a ``Waker`` from another thread.

Errors are ``http.client``'s: ``RemoteDisconnected`` when the server closed before
answering (a kept-alive connection it dropped while idle), ``IncompleteRead``,
``BadStatusLine``, ``LineTooLong``; and ``OSError`` (``TimeoutError`` included) from the
socket.
"""

from __future__ import annotations

import contextlib
import errno
import http.client
import selectors
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

MOST_HEAD_BYTES = 64 * 1024
RECEIVE_BYTES = 64 * 1024
NO_BODY_STATUSES = frozenset({204, 304})
MOST_ANSWERS_KEPT = 16
"""Bodiless answers a drive keeps by their bytes (a few statuses and reasons)."""
INFINITY = float("inf")

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


class Waker:
    """Wakes, from any thread, the thread driving ``KeptAliveSockets`` when it waits for
    a request that may start (a socket pair it watches)."""

    def __init__(self) -> None:
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)

    @property
    def reader(self) -> socket.socket:
        return self._reader

    def wake(self) -> None:
        with contextlib.suppress(OSError):  # full: a wake is already pending
            self._writer.send(b"\0")

    def clear(self) -> None:
        with contextlib.suppress(OSError):
            while self._reader.recv(RECEIVE_BYTES):
                pass

    def close(self) -> None:
        self._reader.close()
        self._writer.close()


class _Connection:
    """One non-blocking connection of a ``_Drive``, registered with its selector while it
    lives, and the request on it (``key`` is ``_IDLE`` between requests)."""

    __slots__ = (
        "buffer",
        "connecting",
        "deadline",
        "events",
        "key",
        "request",
        "reused",
        "socket",
        "unsent",
        "used",
    )

    def __init__(self, sock: socket.socket) -> None:
        self.socket = sock
        self.key: Any = _IDLE
        self.request = b""
        self.unsent: memoryview | None = None
        self.deadline = 0.0
        self.buffer = bytearray()
        self.connecting = True
        self.used = False
        self.reused = False
        self.events = selectors.EVENT_WRITE


_IDLE = object()
"""The key of a connection with no request on it."""


class KeptAliveSockets:
    """Plain-HTTP connections to one server that one thread drives together with
    ``selectors``, one request in flight on each; the connections left open are kept,
    registered with their selector, for the next call. Thread-safe: a call takes a
    selector and its connections that no other call is using."""

    def __init__(self, host: str, port: int) -> None:
        self._host = host
        self._port = port
        self._drives: list[_Drive] = []
        self._lock = threading.Lock()

    def exchange_all(
        self,
        requests: Iterator[tuple[Key, bytes] | None],
        answered: Callable[[Key, Response | None], None],
        most: int,
        timeout_s: float,
        waker: Waker | None = None,
    ) -> None:
        """Call ``answered`` with each request's answer as it comes, ``None`` for one that
        got none (a connection error, a bad answer, ``timeout_s`` from its start to its
        answer); up to ``most`` requests at once. ``requests`` is advanced when a
        connection is free for the next one, so it decides then whether to start it; it
        yields ``None`` when none may start yet, and is advanced again after the next
        answer (which frees a place) or once ``waker`` is woken (it must be given then). A
        kept-alive connection that fails before its answer (the server dropped it while
        idle) is replaced once, at once, as ``KeptAliveConnection``'s caller does; a
        timeout is not: it used the time."""
        with self._lock:
            drive = self._drives.pop() if self._drives else _Drive(self._host, self._port)
        try:
            drive.run(requests, answered, max(1, most), timeout_s, waker)
        finally:
            with self._lock:
                self._drives.append(drive)


class _Drive:
    """A selector and its kept-alive connections, and one ``exchange_all`` at a time on
    them. The time is read once per turn of the loop (``_now``): a request's deadline
    counts from the turn it started in, which is at or before its start."""

    def __init__(self, host: str, port: int) -> None:
        self._host = host
        self._port = port
        self._address: tuple[socket.AddressFamily, Any] | None = None
        self._selector = selectors.DefaultSelector()
        self._idle: list[_Connection] = []
        self._busy: set[_Connection] = set()
        self._answers: dict[bytes, Response] = {}
        """The bodiless answers read (``bodiless_response``), by their bytes."""
        self._requests: Iterator[Any] = iter(())
        self._answered: Callable[[Any, Response | None], None] = _nobody
        self._timeout_s = 0.0
        self._now = 0.0
        self._next_check = INFINITY
        self._waiting = False
        self._exhausted = False

    def run(
        self,
        requests: Iterator[Any],
        answered: Callable[[Any, Response | None], None],
        most: int,
        timeout_s: float,
        waker: Waker | None,
    ) -> None:
        self._requests, self._answered, self._timeout_s = requests, answered, timeout_s
        self._waiting = self._exhausted = False
        self._next_check = INFINITY
        self._now = time.monotonic()
        busy, select = self._busy, self._selector.select
        if waker is not None:
            self._selector.register(waker.reader, selectors.EVENT_READ, None)
        try:
            self._fill(most)
            while busy or self._waiting:
                if self._waiting and waker is None:
                    raise ValueError("requests waited with no waker to wake them")
                wait = self._next_check - self._now if busy else None
                ready = select(None if wait is None else max(0.0, wait))
                self._now = time.monotonic()
                for key, mask in ready:
                    connection = key.data
                    if connection is None:  # the waker
                        waker.clear()  # type: ignore[union-attr]
                        self._waiting = False
                    else:
                        self._advance(connection, mask)
                if self._now >= self._next_check:
                    self._expire()
                if not self._waiting:
                    self._fill(most)
        finally:
            for connection in list(busy):
                self._close(connection)
            if waker is not None:
                self._selector.unregister(waker.reader)
            self._requests, self._answered = iter(()), _nobody

    def _fill(self, most: int) -> None:
        """Start requests while fewer than ``most`` are under way and some may start."""
        while len(self._busy) < most and not (self._waiting or self._exhausted):
            self._next_on(self._idle.pop() if self._idle else None)

    def _next_on(self, connection: _Connection | None) -> None:
        """Start the next request on ``connection`` (a new one when ``None``), or keep
        ``connection`` idle when no request may start."""
        if not (self._waiting or self._exhausted):
            for item in self._requests:
                if item is None:
                    self._waiting = True
                    break
                if self._start(item[0], item[1], connection):
                    return
                connection = None
            else:
                self._exhausted = True
        if connection is not None:
            self._idle.append(connection)

    def _start(
        self,
        key: Any,
        request: bytes,
        connection: _Connection | None,
        deadline: float | None = None,
    ) -> bool:
        """Whether the request is under way (else its answer is ``None`` already); a
        request tried again on a new connection keeps the ``deadline`` it had."""
        if deadline is None:
            deadline = self._now + self._timeout_s
        if connection is None:
            try:
                connection = self._connect()
            except OSError:
                self._answered(key, None)
                return False
            connection.unsent = memoryview(request)
        else:
            try:
                sent = connection.socket.send(request)
            except BlockingIOError:
                sent = 0
            except OSError:
                self._close(connection)
                return self._start(key, request, None, deadline)
            if sent < len(request):
                connection.unsent = memoryview(request)[sent:]
                self._watch(connection, selectors.EVENT_WRITE)
        connection.key, connection.request, connection.deadline = key, request, deadline
        connection.reused = connection.used
        if deadline < self._next_check:
            self._next_check = deadline
        self._busy.add(connection)
        return True

    def _connect(self) -> _Connection:
        """A new connection, connecting, watched for writing."""
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
        connection = _Connection(sock)
        self._selector.register(sock, selectors.EVENT_WRITE, connection)
        return connection

    def _watch(self, connection: _Connection, events: int) -> None:
        if connection.events != events:
            self._selector.modify(connection.socket, events, connection)
            connection.events = events

    def _advance(self, connection: _Connection, mask: int) -> None:
        key = connection.key
        if key is _IDLE:  # an idle connection the server closed (or wrote to): done with
            if connection in self._idle:
                self._idle.remove(connection)
                self._close(connection)
            return
        sock = connection.socket
        try:
            if connection.connecting:
                code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if code:
                    raise OSError(code, "connect")
                connection.connecting = False
            if connection.unsent is not None:
                try:
                    sent = sock.send(connection.unsent)
                except BlockingIOError:
                    return
                connection.unsent = connection.unsent[sent:] or None
                if connection.unsent is None:
                    self._watch(connection, selectors.EVENT_READ)
                return
            if not mask & selectors.EVENT_READ:
                return
            try:
                data = sock.recv(RECEIVE_BYTES)
            except BlockingIOError:
                return
            buffer = connection.buffer
            if not buffer:
                response = self._answers.get(data) or self._bodiless(data)
                if response is not None:
                    self._answer(connection, key, response, closes=False)
                    return
            buffer += data
            parsed = parse_response(buffer, not data)
        except (OSError, http.client.HTTPException):
            self._failed(connection, timed_out=False)
            return
        if parsed is not None:
            self._answer(connection, key, parsed.response, parsed.closes or bool(buffer))

    def _bodiless(self, data: bytes) -> Response | None:
        """``bodiless_response``, kept by the answer's bytes (a few kinds at most)."""
        response = bodiless_response(data)
        if response is not None and len(self._answers) < MOST_ANSWERS_KEPT:
            self._answers[data] = response
        return response

    def _answer(self, connection: _Connection, key: Any, response: Response, closes: bool) -> None:
        self._busy.discard(connection)
        connection.key, connection.request, connection.used = _IDLE, b"", True
        if closes:
            self._close(connection)
        self._answered(key, response)
        self._waiting = False  # the answer freed a slot: the caller's bound may allow one
        self._next_on(None if closes else connection)

    def _expire(self) -> None:
        """Fail the requests past their deadline; the next check is at the earliest left."""
        now = self._now
        for connection in [c for c in self._busy if c.deadline <= now]:
            self._failed(connection, timed_out=True)
        self._next_check = min((c.deadline for c in self._busy), default=INFINITY)

    def _failed(self, connection: _Connection, timed_out: bool) -> None:
        key, request, deadline = connection.key, connection.request, connection.deadline
        self._close(connection)
        if connection.reused and not timed_out:
            if self._start(key, request, None, deadline):
                return
        else:
            self._answered(key, None)
        self._waiting = False
        self._next_on(None)

    def _close(self, connection: _Connection) -> None:
        self._busy.discard(connection)
        connection.key = _IDLE
        self._selector.unregister(connection.socket)
        connection.socket.close()


def _nobody(key: Any, response: Response | None) -> None:
    """``answered`` between two calls: nobody."""
