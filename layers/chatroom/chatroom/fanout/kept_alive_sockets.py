"""Up to N kept-alive plain-HTTP connections to one server that one thread drives with
``selectors``, several requests in flight on each (HTTP/1.1 pipelining): a broadcast's
first attempts (``KeepAliveManagementApi.exchange_all``).

Why pipelined: what is left of a post on loopback is a send and a receive on each side
around a few µs of work; up to ``DEPTH`` requests written in one send and their answers
read in one receive take most of those system calls out of both the poster and the
server (``bench/broadcast_cost.py --alternatives``; docs/benchmarks.md, "Pipelined
posts"). Only the local stage's plain-HTTP endpoint is posted to this way: https
endpoints (AWS) post from the broadcast's threads, one request at a time.

RFC 9112 (section 9.3.2) lets a client pipeline a non-idempotent request when it can
detect and recover from a connection that fails with requests unanswered. The answers
come in the order of the requests, so the requests answered are known, and the rest are
recovered so:

- an answer that closes the connection (``Connection: close``): the server processed
  nothing after it (RFC 9112, section 9.6), so the requests behind it are written again on
  a new connection, keeping their deadlines;
- a connection that fails (closed, reset, an answer that does not parse) with requests
  unanswered, after it had answered one (a kept-alive connection the server dropped while
  idle, or one it closed after some of the requests, as the RFC says a client SHOULD
  retry): they are written again, at once, on a new connection, keeping their deadlines;
  a connection that fails before any answer is the server's trouble, and its requests get
  ``None``, for the caller's retries (which wait between attempts). Each new connection
  answers one at least or ends the retrying, so it ends. A post written again may have
  been delivered: the chat shows a message once, by its id;
- a request not answered by its deadline (``timeout_s`` from the turn it was written in):
  it and the requests behind it on that connection get ``None`` (their answers would come
  after the late one's) and the connection is closed.

The fan-out's hot loop, so it does per post only what a post needs: connections stay
registered with one selector for their life (a selector change only while requests are
partly written), the clock is read once per turn of the loop, the usual event (answers
readable on a connection with its requests written) goes straight to a read
(``_Drive._read``), and answers that are exactly the local stage's (``200``,
``Content-Length: 0``) are known by their bytes (``http1.bodiless_response``), one or
several in a read, as the same object each time, instead of parsed
(``http1.parse_response``). A connection with room takes the requests that may start in
one send, once per turn of the loop. Its caller may hold requests back (a shared bound on
posts in flight): it is asked again after answers, and a ``Waker`` wakes it from another
thread.
"""

from __future__ import annotations

import contextlib
import errno
import http.client
import selectors
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from operator import itemgetter
from typing import Any, TypeVar

from chatroom.fanout.http1 import RECEIVE_BYTES, Response, bodiless_response, parse_response

READ = selectors.EVENT_READ
WRITE = selectors.EVENT_WRITE
DEPTH = 8
"""Requests in flight on one connection. The broadcast's CPU per delivery at a stub
(``bench/broadcast_cost.py``): 6.2-6.6 µs at 8 against 15.7-15.9 with one in flight; a
scratch prototype gave 6.3 at 4 and 4.5 at 8."""
MOST_ANSWERS_KEPT = 16
"""Bodiless answers a drive keeps by their bytes (a few statuses and reasons)."""
END_OF_HEAD = b"\r\n\r\n"
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


class _Request:
    """A request written (or being written) on a connection, until it is answered."""

    __slots__ = ("deadline", "key", "request")

    def __init__(self, key: Any, request: bytes, deadline: float) -> None:
        self.key = key
        self.request = request
        self.deadline = deadline


class _Connection:
    """One non-blocking connection of a ``_Drive``, registered with its selector while it
    is open, and its requests not yet answered, in the order written."""

    __slots__ = ("buffer", "connecting", "events", "open", "pending", "socket", "unsent", "used")

    def __init__(self, sock: socket.socket) -> None:
        self.socket = sock
        self.pending: deque[_Request] = deque()
        self.unsent: memoryview | None = None
        self.buffer = bytearray()
        self.connecting = True
        self.open = True
        self.used = False
        """It has answered a request."""
        self.events = WRITE


class KeptAliveSockets:
    """Plain-HTTP connections to one server that one thread drives together with
    ``selectors``, up to ``depth`` requests in flight on each; the connections left open
    are kept, registered with their selector, for the next call. Thread-safe: a call takes
    a selector and its connections that no other call is using."""

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
        depth: int = DEPTH,
    ) -> None:
        """Call ``answered`` with each request's answer as it comes, ``None`` for one that
        got none (see the module for how a failed connection's requests are recovered, and
        the deadline, ``timeout_s`` from the request's write); up to ``most`` requests at
        once. New connections are opened up to ``most / depth`` (a re-send replaces the
        failed connection with a new one; connections kept from an earlier call are used
        too).
        ``requests`` is advanced when there is room for the next one, so it decides then
        whether to start it; it yields ``None`` when none may start yet, and is advanced
        again after the next answer (which frees a place) or once ``waker`` is woken (it
        must be given then)."""
        with self._lock:
            drive = self._drives.pop() if self._drives else _Drive(self._host, self._port)
        try:
            drive.run(requests, answered, max(1, most), max(1, depth), timeout_s, waker)
        finally:
            with self._lock:
                self._drives.append(drive)


class _Drive:
    """A selector and its kept-alive connections, and one ``exchange_all`` at a time on
    them. The time is read once per turn of the loop (``_now``): a request's deadline
    counts from the turn it was written in, which is at or before its write."""

    def __init__(self, host: str, port: int) -> None:
        self._host = host
        self._port = port
        self._address: tuple[socket.AddressFamily, Any] | None = None
        self._selector = selectors.DefaultSelector()
        self._connections: list[_Connection] = []
        self._in_flight = 0
        self._answers: dict[bytes, Response] = {}
        """The bodiless answers read (``bodiless_response``), by their bytes."""
        self._last_answer = b""
        """The bytes of the bodiless answer read last: several of them in one read are
        known by it."""
        self._requests: Iterator[Any] = iter(())
        self._answered: Callable[[Any, Response | None], None] = _nobody
        self._most = self._depth = self._most_connections = 1
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
        depth: int,
        timeout_s: float,
        waker: Waker | None,
    ) -> None:
        self._requests, self._answered, self._timeout_s = requests, answered, timeout_s
        self._most, self._depth = most, depth
        self._most_connections = -(-most // depth)
        self._waiting = self._exhausted = False
        self._next_check = INFINITY
        self._now = time.monotonic()
        select = self._selector.select
        if waker is not None:
            self._selector.register(waker.reader, READ, None)
        try:
            self._fill()
            while self._in_flight or self._waiting:
                if self._waiting and waker is None:
                    raise ValueError("requests waited with no waker to wake them")
                wait = self._next_check - self._now if self._in_flight else None
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
                    self._fill()
        finally:
            for connection in [c for c in self._connections if c.pending]:
                connection.pending.clear()
                self._close(connection)
            self._in_flight = 0
            if waker is not None:
                self._selector.unregister(waker.reader)
            self._requests, self._answered = iter(()), _nobody

    def _fill(self) -> None:
        """Take the requests that may start and write them, spread over the connections
        with room (``_place``); again while none is in flight, since ``_place`` may answer
        a whole batch at once (``None``: no connection could be opened, or a send failed)
        and nothing else would bring the loop back."""
        while not (self._waiting or self._exhausted):
            room = self._most - self._in_flight
            if room <= 0:
                return
            taken: list[tuple[Any, bytes]] = []
            for item in self._requests:
                if item is None:
                    self._waiting = True
                    break
                taken.append(item)
                if len(taken) == room:
                    break
            else:
                self._exhausted = True
            if taken:
                self._place(taken)
            if self._in_flight:
                return

    def _place(self, taken: list[tuple[Any, bytes]]) -> None:
        """Write ``taken`` in one send per connection, each request on the connection with
        the fewest in flight, opening one (up to ``most / depth``) rather than stacking a
        request behind another: a few requests go side by side, not one behind a slow
        answer. Once every connection is open and full but one (the one whose answers
        freed the room), all go on it."""
        deadline = self._now + self._timeout_s
        depth = self._depth
        with_room = [c for c in self._connections if len(c.pending) < depth]
        if len(with_room) == 1 and len(self._connections) >= self._most_connections:
            self._write(with_room[0], [_Request(k, r, deadline) for k, r in taken])
            return
        planned: dict[_Connection, list[_Request]] = {}
        may_open = True
        for key, request in taken:
            loads = [(len(c.pending) + len(planned.get(c, ())), c) for c in with_room]
            least, connection = min(loads, key=itemgetter(0), default=(depth, None))
            if least > 0 and may_open and len(self._connections) < self._most_connections:
                try:
                    opened = self._connect()
                except OSError:  # no new connection: where there is room, else None
                    may_open = False
                    if connection is None or least >= depth:
                        self._answered(key, None)
                        continue
                else:
                    connection = opened
                    with_room.append(connection)
            elif connection is None or least >= depth:
                self._answered(key, None)
                continue
            planned.setdefault(connection, []).append(_Request(key, request, deadline))
        for connection, written in planned.items():
            self._write(connection, written)

    def _write(self, connection: _Connection, written: list[_Request]) -> None:
        """Send ``written``'s requests on ``connection``, after what it has not sent yet."""
        connection.pending.extend(written)
        self._in_flight += len(written)
        if written[0].deadline < self._next_check:
            self._next_check = written[0].deadline
        data = written[0].request if len(written) == 1 else b"".join(r.request for r in written)
        if connection.unsent is not None or connection.connecting:
            unsent = connection.unsent
            connection.unsent = memoryview(data if unsent is None else bytes(unsent) + data)
            return
        try:
            sent = connection.socket.send(data)
        except BlockingIOError:
            sent = 0
        except OSError:
            self._failed(connection, timed_out=False)
            return
        if sent < len(data):
            connection.unsent = memoryview(data)[sent:]
            self._watch(connection, READ | WRITE)

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
        self._selector.register(sock, WRITE, connection)
        self._connections.append(connection)
        return connection

    def _watch(self, connection: _Connection, events: int) -> None:
        if connection.events != events:
            self._selector.modify(connection.socket, events, connection)
            connection.events = events

    def _advance(self, connection: _Connection, mask: int) -> None:
        """Any event but the usual read: a connect that ended, requests partly written, or
        an idle connection the server closed (or wrote to: done with it either way)."""
        if not connection.open:
            return
        sock = connection.socket
        try:
            if connection.connecting:
                code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if code:
                    raise OSError(code, "connect")
                connection.connecting = False
            if not connection.pending:
                self._close(connection)
                return
            if connection.unsent is not None and mask & WRITE:
                with contextlib.suppress(BlockingIOError):
                    sent = sock.send(connection.unsent)
                    connection.unsent = connection.unsent[sent:] or None
                self._watch(connection, READ if connection.unsent is None else READ | WRITE)
            if not mask & READ:
                return
            try:
                data = sock.recv(RECEIVE_BYTES)
            except BlockingIOError:
                return
        except OSError:
            self._failed(connection, timed_out=False)
            return
        self._received(connection, data)

    def _read(self, connection: _Connection) -> None:
        """``_advance`` for the usual event, where it only reads: answers expected on a
        connected connection with its requests written and nothing read yet."""
        if not connection.pending:
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
        if response is not None:
            self._answer(connection, response)
            return
        self._received(connection, data)

    def _received(self, connection: _Connection, data: bytes) -> None:
        """Take ``data`` read on ``connection`` (``b""``: the server closed): the answers
        it completes, each to the request written first of those not answered."""
        buffer, pending = connection.buffer, connection.pending
        if not buffer and data:
            known = self._last_answer
            count = len(data) // len(known) if known else 0
            if 1 < count <= len(pending) and data == known * count:
                each = self._answers[known]
                for _ in range(count):
                    self._answer(connection, each)
                return
        buffer += data
        ended = not data
        try:
            while pending:
                end = buffer.find(END_OF_HEAD)
                if end >= 0:
                    head = bytes(buffer[: end + 4])
                    response = self._answers.get(head) or self._bodiless(head)
                    if response is not None:
                        del buffer[: end + 4]
                        self._answer(connection, response)
                        continue
                parsed = parse_response(buffer, ended)
                if parsed is None:
                    return
                self._answer(connection, parsed.response)
                if parsed.closes:
                    self._closing(connection)
                    return
        except http.client.HTTPException:
            self._failed(connection, timed_out=False)
            return
        if buffer or ended:  # bytes no request asked for, or the server closed: done with it
            self._close(connection)

    def _bodiless(self, head: bytes) -> Response | None:
        """``bodiless_response``, kept by the answer's bytes (a few kinds at most)."""
        response = bodiless_response(head)
        if response is not None and len(self._answers) < MOST_ANSWERS_KEPT:
            self._answers[head] = response
            self._last_answer = head
        return response

    def _answer(self, connection: _Connection, response: Response) -> None:
        """The answer to ``connection``'s first request not answered."""
        request = connection.pending.popleft()
        self._in_flight -= 1
        connection.used = True
        self._answered(request.key, response)
        self._waiting = False  # the answer freed a place: the caller's bound may allow one

    def _closing(self, connection: _Connection) -> None:
        """The server closes ``connection`` after the answer just read: the requests
        behind it were not processed, and are written again on a new connection."""
        behind = list(connection.pending)
        self._drop(connection)
        if behind:
            self._again(behind)

    def _failed(self, connection: _Connection, timed_out: bool) -> None:
        """``connection`` failed with requests unanswered: recovered as the module says."""
        requests = list(connection.pending)
        self._drop(connection)
        if requests and connection.used and not timed_out:
            self._again(requests)
        else:
            for request in requests:
                self._answered(request.key, None)
        self._waiting = False

    def _again(self, requests: list[_Request]) -> None:
        """Write ``requests`` (of one failed connection, so no more than ``depth``) on a
        new connection, with the deadlines they had."""
        try:
            connection = self._connect()
        except OSError:
            for request in requests:
                self._answered(request.key, None)
            return
        self._write(connection, requests)

    def _drop(self, connection: _Connection) -> None:
        """Close ``connection`` with its requests taken off it (the caller answers them)."""
        self._in_flight -= len(connection.pending)
        connection.pending.clear()
        self._close(connection)

    def _expire(self) -> None:
        """Fail the connections whose first request unanswered is past its deadline (the
        earliest of the connection's); the next check is at the earliest left."""
        now = self._now
        for connection in [c for c in self._connections if c.pending]:
            if connection.pending[0].deadline <= now:
                self._failed(connection, timed_out=True)
        self._next_check = min(
            (c.pending[0].deadline for c in self._connections if c.pending), default=INFINITY
        )

    def _close(self, connection: _Connection) -> None:
        if connection.open:
            connection.open = False
            self._connections.remove(connection)
            self._selector.unregister(connection.socket)
            connection.socket.close()


def _nobody(key: Any, response: Response | None) -> None:
    """``answered`` between two calls: nobody."""
