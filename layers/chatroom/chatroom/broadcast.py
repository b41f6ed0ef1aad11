"""Posting to connections through the API Gateway Management API (``@connections``).

The fan-out is the hot path: one client per endpoint per execution environment (signed
keep-alive connections, ``management_api``), a bounded thread pool for concurrent posts,
and the connections that answer 410 removed in one batch. A post is retried on 429, 5xx
and connection errors with full jitter, within a total budget (never botocore's 4
attempts of 5 s each), and no post starts once the invocation's time is short: those
members are handed back as deferred, for the caller to queue.
"""

from __future__ import annotations

import enum
import os
import random
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chatroom.connections import ConnectionStore, Member
from chatroom.exceptions import ChatError
from chatroom.management_api import KeepAliveManagementApi
from chatroom.telemetry import Remaining

DEFAULT_CONCURRENCY = 32
POST_BUDGET_S = 3.0
"""Longest one post may take, retries included."""
POST_ATTEMPTS = 3
FIRST_BACKOFF_S = 0.05
RESERVE_S = 1.5
"""Time an invocation keeps for itself: no post starts with less left than this."""
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
ENDPOINT_VARIABLE = "AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI"
CUSTOM_ENDPOINT_VARIABLE = "MANAGEMENT_API_ENDPOINT"


def management_endpoint(
    domain_name: str | None, stage: str | None, environ: Mapping[str, str] = os.environ
) -> str:
    """The endpoint to post to: boto3's endpoint variable when set (the local stage sets
    it), else ``MANAGEMENT_API_ENDPOINT`` (custom domains, whose base path is not the
    stage, and functions whose events carry no ``requestContext``), else the event's."""
    for variable in (ENDPOINT_VARIABLE, CUSTOM_ENDPOINT_VARIABLE):
        if environ.get(variable):
            return environ[variable]
    if not domain_name or not stage:
        raise ChatError(f"{CUSTOM_ENDPOINT_VARIABLE} must name the stage's @connections endpoint")
    return f"https://{domain_name}/{stage}"


class ManagementApiClients:
    """One Management API client per endpoint, kept for the execution environment's
    lifetime (create it at module scope in a handler): botocore's signer on keep-alive
    connections, ``KeepAliveManagementApi``."""

    def __init__(self) -> None:
        self._clients: dict[str, KeepAliveManagementApi] = {}

    def for_request(self, domain_name: str, stage: str) -> KeepAliveManagementApi:
        """The client for the stage an event came through."""
        return self._client(management_endpoint(domain_name, stage))

    def configured(self) -> KeepAliveManagementApi:
        """The client for the endpoint the environment names (no event to read it from)."""
        return self._client(management_endpoint(None, None))

    def _client(self, endpoint: str) -> KeepAliveManagementApi:
        client = self._clients.get(endpoint)
        if client is None:
            client = KeepAliveManagementApi(endpoint)
            self._clients[endpoint] = client
        return client


class Delivery(enum.Enum):
    DELIVERED = "delivered"
    GONE = "gone"
    FAILED = "failed"
    DEFERRED = "deferred"
    """Not attempted: the invocation's time was short; the caller queues the member."""


def unlimited() -> float:
    return float("inf")


@dataclass(frozen=True)
class BroadcastResult:
    delivered: int
    gone: int
    """Connections that answered 410 and were removed."""
    failed: int
    duration_ms: float
    deferred: tuple[Member, ...] = ()
    """Members not posted because time ran short, for the caller to queue."""
    failed_members: tuple[Member, ...] = ()


class Broadcaster:
    """Posts one payload to many connections and forgets the ones that are gone."""

    def __init__(
        self,
        store: ConnectionStore,
        max_workers: int = DEFAULT_CONCURRENCY,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._store = store
        self._max_workers = max_workers
        self._clock = clock
        self._sleep = sleep
        self._executor: ThreadPoolExecutor | None = None

    def post(
        self, client: Any, connection_id: str, data: bytes, remaining: Remaining = unlimited
    ) -> Delivery:
        """Post to one connection: 410 is gone, 403/413/400 fail at once, 429, 5xx and
        connection errors are retried with jitter while the budget and the invocation's
        time allow."""
        if remaining() < RESERVE_S:
            return Delivery.DEFERRED
        budget_ends = time.monotonic() + POST_BUDGET_S
        for attempt in range(POST_ATTEMPTS):
            try:
                client.post_to_connection(ConnectionId=connection_id, Data=data)
                return Delivery.DELIVERED
            except ClientError as exc:
                status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
                if status == 410 or exc.response.get("Error", {}).get("Code") == "GoneException":
                    return Delivery.GONE
                if status not in RETRYABLE_STATUS:
                    return Delivery.FAILED
            except BotoCoreError:
                pass
            pause = random.uniform(0, FIRST_BACKOFF_S * 2**attempt)
            last = attempt == POST_ATTEMPTS - 1
            if last or time.monotonic() + pause > budget_ends or remaining() - pause < RESERVE_S:
                return Delivery.FAILED
            self._sleep(pause)
        return Delivery.FAILED

    def broadcast(
        self,
        client: Any,
        data: bytes,
        recipients: Iterable[Member],
        remaining: Remaining = unlimited,
    ) -> BroadcastResult:
        """Post ``data`` to every member concurrently; remove exactly those that answered
        410, except members young enough to be still in $connect (they will open). Members
        reached when the invocation's time is short come back as ``deferred``."""
        started = time.perf_counter()
        members = list(recipients)
        if len(members) <= 1:
            deliveries = [self.post(client, m.connection_id, data, remaining) for m in members]
        else:
            deliveries = list(
                self._pool().map(
                    lambda m: self.post(client, m.connection_id, data, remaining), members
                )
            )
        now_ms = int(self._clock() * 1000)
        gone = [
            member.connection_id
            for member, delivery in zip(members, deliveries, strict=True)
            if delivery is Delivery.GONE and not member.may_still_be_connecting(now_ms)
        ]
        self._store.remove_many(gone)
        outcome = list(zip(members, deliveries, strict=True))
        return BroadcastResult(
            delivered=deliveries.count(Delivery.DELIVERED),
            gone=len(gone),
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
