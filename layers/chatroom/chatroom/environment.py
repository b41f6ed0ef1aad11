"""What a chat function builds once per execution environment, wired in one place.

The clients (DynamoDB, SQS, the Management API), the stores and the fan-out are made here
from the function's variables and shared by everything it runs: one DynamoDB resource for
reads and the store (botocore's standard retries), one-attempt clients for every step
after the store (``chatroom.retry`` decides, within ``chatroom.budgets``), one metrics sink.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import boto3

from chatroom import budgets, protocol
from chatroom.connections import ConnectionStore
from chatroom.delivery import Backstop, DeliveryWatch
from chatroom.exceptions import ChatError
from chatroom.fanout.broadcast import Broadcaster
from chatroom.fanout.management_api import ManagementApiClients
from chatroom.fanout.policy import DEFAULT_INLINE_MAX, DEFAULT_SHARD_SIZE, FanOut
from chatroom.fanout.shards import ShardQueue
from chatroom.messages import DEFAULT_HISTORY_TTL_HOURS, MessageStore
from chatroom.rate_limit import RateLimit, RateLimiter
from chatroom.shard_poster import ShardPoster
from chatroom.telemetry import MetricsSink, metrics


@dataclass(frozen=True)
class ChatEnvironment:
    connections: ConnectionStore
    messages: MessageStore
    fan_out: FanOut
    clients: ManagementApiClients
    metrics: MetricsSink
    queue: ShardQueue | None = None
    rate_limiter: RateLimiter | None = None
    max_message_bytes: int = protocol.DEFAULT_MESSAGE_MAX_BYTES
    clock: Callable[[], float] = time.time

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> ChatEnvironment:
        """Without ``FANOUT_QUEUE_URL`` every fan-out is inline (a template without the
        queue)."""
        session = boto3.session.Session()
        dynamodb = session.resource("dynamodb", config=budgets.BEFORE_THE_STORE)
        # A resource's client: it takes and gives Python values, as the tables do.
        after_store = session.resource("dynamodb", config=budgets.ONE_ATTEMPT).meta.client
        connections = ConnectionStore(dynamodb.Table(environ["CONNECTIONS_TABLE"]), after_store)
        messages_table = dynamodb.Table(environ["MESSAGES_TABLE"])
        queue_url = environ.get("FANOUT_QUEUE_URL")
        queue = (
            ShardQueue(session.client("sqs", config=budgets.ONE_ATTEMPT), queue_url)
            if queue_url
            else None
        )
        return cls(
            connections=connections,
            messages=MessageStore(
                messages_table,
                ttl_hours=int(environ.get("HISTORY_TTL_HOURS", DEFAULT_HISTORY_TTL_HOURS)),
                mark_client=after_store,
            ),
            fan_out=FanOut(
                Broadcaster(),
                connections,
                queue,
                inline_max=int(environ.get("INLINE_FANOUT_MAX", DEFAULT_INLINE_MAX)),
                shard_size=int(environ.get("FANOUT_SHARD_SIZE", DEFAULT_SHARD_SIZE)),
            ),
            clients=ManagementApiClients(),
            metrics=metrics,
            queue=queue,
            rate_limiter=RateLimiter(messages_table, RateLimit.from_environment()),
            max_message_bytes=int(
                environ.get("MESSAGE_MAX_BYTES", protocol.DEFAULT_MESSAGE_MAX_BYTES)
            ),
        )

    def backstop(self) -> Backstop:
        return Backstop(self.messages, self.connections, self.fan_out, self.clients, self.metrics)

    def shard_poster(self) -> ShardPoster:
        return ShardPoster(self.fan_out, self.clients, self.backstop(), self.metrics)

    def delivery_watch(self) -> DeliveryWatch:
        if self.queue is None:
            raise ChatError("DeliveryWatchFunction needs FANOUT_QUEUE_URL (its overdue checks)")
        return DeliveryWatch(self.queue, self.clock)
