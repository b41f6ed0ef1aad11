"""Posting to connections through the API Gateway Management API (``@connections``).

The fan-out is the hot path: one client per endpoint per execution environment (signed
keep-alive connections, ``management_api``). The first attempt to every member is made
from the calling thread, which drives ``max_workers`` posts in flight on kept-alive
non-blocking sockets with ``selectors``, pipelined (``KeepAliveManagementApi.exchange_all``,
``kept_alive_sockets``): 1.4-2.7x less CPU per delivery than 32 threads, which each pay
for taking the GIL back on every answer, and pipelining 2.5x less again at a stub
(``bench/broadcast_cost.py``, 15.7 -> 6.2 µs; FanOut 25 -> 18 µs a delivery on the whole
chat). A member whose first attempt is worth another (429, 5xx,
no answer) goes, as soon as it is answered, to a bounded pool of threads that makes the
attempts left with ``post``'s retry loop; first attempts and retries share the bound of
``max_workers`` posts in flight (the thread holds first attempts back while retries use
it up, and starts the next as soon as a post ends: an answer on its sockets, or a retry
that ends and wakes it). https endpoints (AWS) and other clients (a
boto3 client) make every attempt in the pool's threads, each taking the next member from
one queue: a TLS handshake and records on non-blocking sockets are not done here.

A post is retried on 429, 5xx and connection errors by the layer's one retry loop
(``chatroom.retry``, the ``POST`` budget, which counts the first attempt wherever it was
made), and no post starts once the invocation is down to ``RESERVE_S``: those members are
handed back as deferred, for the caller to queue before anything else. Connections that
answered 410 are handed back too, for the caller to remove last. The first attempts read
the invocation's time left once per ``MOST_BETWEEN_TIME_CHECKS_S`` at most, not per member,
and count it down in between with the monotonic clock (``_FirstAttempts.requests``).
"""

from __future__ import annotations

import enum
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chatroom import budgets, retry
from chatroom.connections import Member
from chatroom.fanout.http1 import Response
from chatroom.fanout.kept_alive_sockets import Waker
from chatroom.fanout.management_api import KeepAliveManagementApi, error_type
from chatroom.retry import unlimited
from chatroom.telemetry import Remaining

DEFAULT_CONCURRENCY = 32
MOST_BETWEEN_TIME_CHECKS_S = 0.1
"""The longest the first attempts go without reading the invocation's time left."""
INFINITY = float("inf")
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


class Delivery(enum.Enum):
    DELIVERED = "delivered"
    GONE = "gone"
    FAILED = "failed"
    DEFERRED = "deferred"
    """Not attempted: the invocation's time was short; the caller queues the member."""


def answered(status: int, error_code: str) -> Delivery | None:
    """What an answer means for its member: ``None`` when another attempt is worth making
    (429, 5xx)."""
    if status == 410 or error_code == "GoneException":
        return Delivery.GONE
    if status in RETRYABLE_STATUS:
        return None
    if 200 <= status < 300:
        return Delivery.DELIVERED
    return Delivery.FAILED


@dataclass(frozen=True)
class BroadcastResult:
    delivered: int
    gone: tuple[str, ...]
    """Connections that answered 410 (and are past $connect's grace): the caller removes
    them, last."""
    failed: int
    duration_ms: float
    deferred: tuple[Member, ...] = ()
    """Members not posted because time ran short, for the caller to queue."""
    failed_members: tuple[Member, ...] = ()


class Broadcaster:
    """Posts one payload to many connections, concurrently."""

    def __init__(
        self,
        max_workers: int = DEFAULT_CONCURRENCY,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.max_workers = max_workers
        self._clock = clock
        self._sleep = sleep
        self._executor: ThreadPoolExecutor | None = None

    def post(
        self,
        client: Any,
        connection_id: str,
        data: bytes,
        remaining: Remaining = unlimited,
        tried_at: float | None = None,
    ) -> Delivery:
        """Post to one connection: 410 is gone, 403/413/400 fail at once, 429, 5xx and
        connection errors are tried again while the ``POST`` budget and the invocation's
        time allow. ``tried_at``: a first attempt was made then (``time.monotonic``, by
        ``broadcast``'s one thread) and failed worth another; this makes the others."""
        if tried_at is None and remaining() < budgets.RESERVE_S:
            return Delivery.DEFERRED
        keep = budgets.RESERVE_S - budgets.POST.budget_s
        made = 0 if tried_at is None else 1
        for attempt in retry.attempts(
            budgets.POST, remaining, keep, sleep=self._sleep, made=made, started_at=tried_at
        ):
            try:
                client.post_to_connection(
                    ConnectionId=connection_id, Data=data, timeout_s=attempt.timeout_s
                )
                return Delivery.DELIVERED
            except ClientError as exc:
                delivery = answered(
                    exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0),
                    exc.response.get("Error", {}).get("Code", ""),
                )
                if delivery is not None:
                    return delivery
            except BotoCoreError:
                pass
        return Delivery.FAILED

    def broadcast(
        self,
        client: Any,
        data: bytes,
        recipients: Iterable[Member],
        remaining: Remaining = unlimited,
    ) -> BroadcastResult:
        """Post ``data`` to every member concurrently. Those that answered 410 come back as
        ``gone``, except members young enough to be still in $connect (they will open);
        members reached when the invocation's time is short come back as ``deferred``."""
        started = time.perf_counter()
        members = list(recipients)
        deliveries = [Delivery.DEFERRED] * len(members)
        if self._drives_sockets(client):
            self._first_attempts(client, data, members, remaining, deliveries)
        else:
            self._post_in_threads(client, data, members, remaining, deliveries)
        now_ms = int(self._clock() * 1000)
        gone: list[str] = []
        deferred: list[Member] = []
        failed: list[Member] = []
        for member, delivery in zip(members, deliveries, strict=True):
            if delivery is Delivery.DELIVERED:
                continue
            if delivery is Delivery.GONE:
                if not member.may_still_be_connecting(now_ms):
                    gone.append(member.connection_id)
            elif delivery is Delivery.DEFERRED:
                deferred.append(member)
            else:
                failed.append(member)
        return BroadcastResult(
            delivered=deliveries.count(Delivery.DELIVERED),
            gone=tuple(gone),
            failed=len(failed),
            duration_ms=(time.perf_counter() - started) * 1000,
            deferred=tuple(deferred),
            failed_members=tuple(failed),
        )

    def _drives_sockets(self, client: Any) -> bool:
        """Whether the first attempts go from this thread's sockets (see the module)."""
        return isinstance(client, KeepAliveManagementApi) and client.drives_sockets

    def _first_attempts(
        self,
        client: KeepAliveManagementApi,
        data: bytes,
        members: list[Member],
        remaining: Remaining,
        deliveries: list[Delivery],
    ) -> None:
        """Every member's first attempt, from this thread; a member whose attempt is worth
        another goes to the pool's threads as soon as it is answered, so its retries have
        what is left of its budget. Both share ``max_workers`` posts in flight."""
        waker = Waker()
        attempts = _FirstAttempts(self, client, data, members, remaining, deliveries, waker)
        try:
            client.exchange_all(
                attempts.requests(),
                attempts.settle,
                self.max_workers,
                budgets.POST.attempt_timeout_s,
                waker,
            )
        finally:  # retries handed over are waited for, whatever ended the first attempts
            for retry_ in attempts.retries:
                retry_.result()
            waker.close()

    def _post_in_threads(
        self,
        client: Any,
        data: bytes,
        members: list[Member],
        remaining: Remaining,
        deliveries: list[Delivery],
    ) -> None:
        """``post`` to every member, from up to ``max_workers`` threads each taking the
        next from one queue."""
        pending: queue.SimpleQueue[tuple[int, Member]] = queue.SimpleQueue()
        for numbered in enumerate(members):
            pending.put(numbered)

        def post_pending() -> None:
            while True:
                try:
                    index, member = pending.get_nowait()
                except queue.Empty:
                    return
                deliveries[index] = self.post(client, member.connection_id, data, remaining)

        if len(members) <= 1:
            post_pending()
        else:
            workers = [
                self._pool().submit(post_pending)
                for _ in range(min(self.max_workers, len(members)))
            ]
            for worker in workers:
                worker.result()

    def _pool(self) -> ThreadPoolExecutor:
        """The threads that post (made on first use, kept for the environment's life)."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=self.max_workers, thread_name_prefix="broadcast"
            )
        return self._executor


class _FirstAttempts:
    """One broadcast's first attempts from the calling thread, and the members it hands
    to the pool's threads: at most ``max_workers`` posts in flight between them (first
    attempts wait while the retries hold the rest). An execution environment runs one
    invocation, so one broadcast, at a time: this bound is the environment's."""

    __slots__ = (
        "broadcaster",
        "client",
        "data",
        "deliveries",
        "last_answer",
        "last_delivery",
        "lock",
        "members",
        "most",
        "posting",
        "remaining",
        "retries",
        "retrying",
        "tried_at",
        "waker",
    )

    def __init__(
        self,
        broadcaster: Broadcaster,
        client: KeepAliveManagementApi,
        data: bytes,
        members: list[Member],
        remaining: Remaining,
        deliveries: list[Delivery],
        waker: Waker,
    ) -> None:
        self.broadcaster = broadcaster
        self.client = client
        self.data = data
        self.members = members
        self.remaining = remaining
        self.deliveries = deliveries
        self.waker = waker
        self.most = broadcaster.max_workers
        self.tried_at = [0.0] * len(members)
        """When each member's first attempt started (``time.monotonic``)."""
        self.retries: list[Future[None]] = []
        self.posting = 0
        """First attempts under way (this thread's)."""
        self.retrying = 0
        """Members handed to the pool and not done (changed under ``lock``)."""
        self.lock = threading.Lock()
        self.last_answer: Response | None = None
        """The answer ``settle`` read last, and what it meant: the next is often the same
        object (``KeptAliveSockets`` keeps the bodiless answers it read, by their bytes)."""
        self.last_delivery: Delivery | None = None

    def requests(self) -> Iterator[tuple[int, bytes] | None]:
        """Each member's request, when a post may start (``None`` until then); members
        reached with less than ``RESERVE_S`` left stay deferred. The time left is read at
        the first member, then again when the ``time.monotonic`` clock has run through
        what was left over ``RESERVE_S``, or ``MOST_BETWEEN_TIME_CHECKS_S`` after the last
        read, whichever is first: with the invocation's deadline on a clock that runs as
        fast as it, no post starts with less than ``RESERVE_S`` left, as with a read per
        member; one that drifts or jumps is seen within that bound."""
        client, data, remaining = self.client, self.data, self.remaining
        deliveries, tried_at, most = self.deliveries, self.tried_at, self.most
        monotonic, check_at = time.monotonic, -INFINITY
        for index, member in enumerate(self.members):
            while self.posting + self.retrying >= most:
                yield None  # asked again after each answer, or when a retry ends (the waker)
            now = monotonic()
            if now >= check_at:
                spare = remaining() - budgets.RESERVE_S
                if spare < 0:
                    return  # this member and the rest stay deferred
                check_at = now + min(spare, MOST_BETWEEN_TIME_CHECKS_S)
            tried_at[index] = now
            try:
                request = client.request_bytes(member.connection_id, data)
            except BotoCoreError:  # no credentials to sign with: this member fails
                deliveries[index] = Delivery.FAILED
                continue
            self.posting += 1
            yield index, request

    def settle(self, index: int, response: Response | None) -> None:
        self.posting -= 1
        if response is None:
            delivery = None
        elif response is self.last_answer:  # the drive hands the same answer back as one
            delivery = self.last_delivery
        else:
            delivery = answered(response.status, error_type(response))
            self.last_answer, self.last_delivery = response, delivery
        if delivery is None:
            with self.lock:
                self.retrying += 1
            self.retries.append(self.broadcaster._pool().submit(self.post_again, index))
        else:
            self.deliveries[index] = delivery

    def post_again(self, index: int) -> None:
        try:
            self.deliveries[index] = self.broadcaster.post(
                self.client,
                self.members[index].connection_id,
                self.data,
                self.remaining,
                tried_at=self.tried_at[index],
            )
        finally:
            with self.lock:
                self.retrying -= 1
            self.waker.wake()
