"""Posting to connections through the API Gateway Management API (``@connections``).

The fan-out is the hot path: one client per endpoint per execution environment, a bounded
thread pool for concurrent posts (boto3 clients are thread-safe), botocore's standard retry
mode for 429 and 5xx, and the connections that answer 410 removed in one batch.
"""

from __future__ import annotations

import enum
import os
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from chatroom.connections import ConnectionStore, Member
from chatroom.exceptions import ChatError

DEFAULT_CONCURRENCY = 32
ENDPOINT_VARIABLE = "AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI"
CUSTOM_ENDPOINT_VARIABLE = "MANAGEMENT_API_ENDPOINT"


def management_endpoint(
    domain_name: str | None, stage: str | None, environ: Mapping[str, str] = os.environ
) -> str | None:
    """The endpoint to post to, or None to let boto3 read its own endpoint variable.

    ``MANAGEMENT_API_ENDPOINT`` is for custom domains, whose base path is not the stage,
    and for functions whose events carry no ``requestContext`` (stream, queue).
    """
    if environ.get(ENDPOINT_VARIABLE):
        return None
    custom = environ.get(CUSTOM_ENDPOINT_VARIABLE)
    if custom:
        return custom
    if not domain_name or not stage:
        raise ChatError(f"{CUSTOM_ENDPOINT_VARIABLE} must name the stage's @connections endpoint")
    return f"https://{domain_name}/{stage}"


class ManagementApiClients:
    """One ``apigatewaymanagementapi`` client per endpoint, kept for the execution
    environment's lifetime (create it at module scope in a handler)."""

    def __init__(self, max_pool_connections: int = DEFAULT_CONCURRENCY) -> None:
        self._config = Config(
            retries={"mode": "standard", "max_attempts": 4},
            max_pool_connections=max_pool_connections,
            connect_timeout=3,
            read_timeout=5,
        )
        self._clients: dict[str | None, Any] = {}

    def for_request(self, domain_name: str, stage: str) -> Any:
        """The client for the stage an event came through."""
        return self._client(management_endpoint(domain_name, stage))

    def configured(self) -> Any:
        """The client for the endpoint the environment names (no event to read it from)."""
        return self._client(management_endpoint(None, None))

    def _client(self, endpoint: str | None) -> Any:
        client = self._clients.get(endpoint)
        if client is None:
            client = boto3.client(
                "apigatewaymanagementapi", endpoint_url=endpoint, config=self._config
            )
            self._clients[endpoint] = client
        return client


class Delivery(enum.Enum):
    DELIVERED = "delivered"
    GONE = "gone"
    FAILED = "failed"


@dataclass(frozen=True)
class BroadcastResult:
    delivered: int
    gone: int
    """Connections that answered 410 and were removed."""
    failed: int
    duration_ms: float


class Broadcaster:
    """Posts one payload to many connections and forgets the ones that are gone."""

    def __init__(
        self,
        store: ConnectionStore,
        max_workers: int = DEFAULT_CONCURRENCY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._max_workers = max_workers
        self._clock = clock
        self._executor: ThreadPoolExecutor | None = None

    def post(self, client: Any, connection_id: str, data: bytes) -> Delivery:
        """Post to one connection. GoneException is a ClientError: it is caught first."""
        try:
            client.post_to_connection(ConnectionId=connection_id, Data=data)
        except client.exceptions.GoneException:
            return Delivery.GONE
        except (ClientError, BotoCoreError):
            return Delivery.FAILED
        return Delivery.DELIVERED

    def broadcast(self, client: Any, data: bytes, recipients: Iterable[Member]) -> BroadcastResult:
        """Post ``data`` to every member concurrently; remove exactly those that answered
        410, except members young enough to be still in $connect (they will open)."""
        started = time.perf_counter()
        members = list(recipients)
        if len(members) <= 1:
            deliveries = [self.post(client, m.connection_id, data) for m in members]
        else:
            deliveries = list(
                self._pool().map(lambda m: self.post(client, m.connection_id, data), members)
            )
        now_ms = int(self._clock() * 1000)
        gone = [
            member.connection_id
            for member, delivery in zip(members, deliveries, strict=True)
            if delivery is Delivery.GONE and not member.may_still_be_connecting(now_ms)
        ]
        self._store.remove_many(gone)
        return BroadcastResult(
            delivered=deliveries.count(Delivery.DELIVERED),
            gone=len(gone),
            failed=deliveries.count(Delivery.FAILED),
            duration_ms=(time.perf_counter() - started) * 1000,
        )

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=self._max_workers, thread_name_prefix="broadcast"
            )
        return self._executor
