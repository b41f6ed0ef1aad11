"""Posting to connections through the API Gateway Management API (``@connections``).

The fan-out is the hot path: one client per endpoint per execution environment (signed
keep-alive connections, ``management_api``) and a bounded pool of threads, each taking
the next member from one queue until none is left (a future per member cost the same to
1.9x the CPU per delivery, ``bench/broadcast_cost.py --alternatives``).

A post is retried on 429, 5xx and connection errors by the layer's one retry loop
(``chatroom.retry``, the ``POST`` budget), and no post starts once the invocation is down
to ``RESERVE_S``: those members are handed back as deferred, for the caller to queue
before anything else. Connections that answered 410 are handed back too, for the caller
to remove last.
"""

from __future__ import annotations

import enum
import queue
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chatroom import budgets, retry
from chatroom.connections import Member
from chatroom.retry import unlimited
from chatroom.telemetry import Remaining

DEFAULT_CONCURRENCY = 32
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


class Delivery(enum.Enum):
    DELIVERED = "delivered"
    GONE = "gone"
    FAILED = "failed"
    DEFERRED = "deferred"
    """Not attempted: the invocation's time was short; the caller queues the member."""


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
        self._max_workers = max_workers
        self._clock = clock
        self._sleep = sleep
        self._executor: ThreadPoolExecutor | None = None

    def post(
        self, client: Any, connection_id: str, data: bytes, remaining: Remaining = unlimited
    ) -> Delivery:
        """Post to one connection: 410 is gone, 403/413/400 fail at once, 429, 5xx and
        connection errors are tried again while the ``POST`` budget and the invocation's
        time allow."""
        if remaining() < budgets.RESERVE_S:
            return Delivery.DEFERRED
        keep = budgets.RESERVE_S - budgets.POST.budget_s
        for attempt in retry.attempts(budgets.POST, remaining, keep, sleep=self._sleep):
            try:
                client.post_to_connection(
                    ConnectionId=connection_id, Data=data, timeout_s=attempt.timeout_s
                )
                return Delivery.DELIVERED
            except ClientError as exc:
                status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
                if status == 410 or exc.response.get("Error", {}).get("Code") == "GoneException":
                    return Delivery.GONE
                if status not in RETRYABLE_STATUS:
                    return Delivery.FAILED
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
                for _ in range(min(self._max_workers, len(members)))
            ]
            for worker in workers:
                worker.result()
        now_ms = int(self._clock() * 1000)
        outcome = list(zip(members, deliveries, strict=True))
        return BroadcastResult(
            delivered=deliveries.count(Delivery.DELIVERED),
            gone=tuple(
                m.connection_id
                for m, d in outcome
                if d is Delivery.GONE and not m.may_still_be_connecting(now_ms)
            ),
            failed=deliveries.count(Delivery.FAILED),
            duration_ms=(time.perf_counter() - started) * 1000,
            deferred=tuple(m for m, d in outcome if d is Delivery.DEFERRED),
            failed_members=tuple(m for m, d in outcome if d is Delivery.FAILED),
        )

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=self._max_workers, thread_name_prefix="broadcast"
            )
        return self._executor
