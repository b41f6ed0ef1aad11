"""Up to N kept-alive plain-HTTP connections to one server that one thread drives with
``selectors``: a broadcast's first attempts (``KeepAliveManagementApi.exchange_all``).

The fan-out's hot loop, so it does per post only what a post needs: its connections stay
registered with one selector for their life (a selector change only while a request is
partly written), each connection's state is one object reused from request to request,
the clock is read once per turn of the loop, the usual event (an answer readable on a
connection with its request written) goes straight to a read (``_Drive._read``), and an
answer that is exactly the local stage's (``200``, ``Content-Length: 0``) is known by its
bytes (``http1.bodiless_response``), as the same object each time, instead of parsed
(``http1.parse_response``). Its caller may hold requests back (a shared
bound on posts in flight): it is asked again after each answer, and a ``Waker`` wakes it
from another thread.
"""

from __future__ import annotations

import contextlib
import errno
import http.client
import selectors
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from chatroom.fanout.http1 import RECEIVE_BYTES, Response, bodiless_response, parse_response

READ = selectors.EVENT_READ
MOST_ANSWERS_KEPT = 16
"""Bodiless answers a drive keeps by their bytes (a few statuses and reasons)."""
INFINITY = float("inf")

Key = TypeVar("Key")


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
            self._selector.register(waker.reader, READ, None)
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
                    elif mask == READ == connection.events and not connection.buffer:
                        self._read(connection)
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
                    self._watch(connection, READ)
                return
            if not mask & READ:
                return
            try:
                data = sock.recv(RECEIVE_BYTES)
            except BlockingIOError:
                return
        except OSError:
            self._failed(connection, timed_out=False)
            return
        self._received(connection, key, data)

    def _received(self, connection: _Connection, key: Any, data: bytes) -> None:
        """Take ``data`` read for ``key``'s request (``b""``: the server closed)."""
        buffer = connection.buffer
        if not buffer:
            response = self._answers.get(data) or self._bodiless(data)
            if response is not None:
                self._answer(connection, key, response, closes=False)
                return
        buffer += data
        try:
            parsed = parse_response(buffer, not data)
        except http.client.HTTPException:
            self._failed(connection, timed_out=False)
            return
        if parsed is not None:
            self._answer(connection, key, parsed.response, parsed.closes or bool(buffer))

    def _read(self, connection: _Connection) -> None:
        """``_advance`` for the usual event, where it only reads: an answer expected on a
        connected connection with the request written and nothing read yet (an idle one
        goes to ``_advance``)."""
        key = connection.key
        if key is _IDLE:
            self._advance(connection, READ)
            return
        try:
            data = connection.socket.recv(RECEIVE_BYTES)
        except BlockingIOError:
            return
        except OSError:
            self._failed(connection, timed_out=False)
            return
        response = self._answers.get(data)
        if response is None:
            self._received(connection, key, data)
            return
        self._answer(connection, key, response, closes=False)

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
