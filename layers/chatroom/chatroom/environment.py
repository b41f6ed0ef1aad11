"""What a chat function builds once per execution environment, wired in one place.

The clients (DynamoDB, SQS, the Management API), the stores and the fan-out are made here
from the function's variables and shared by everything it runs: one DynamoDB resource for
reads and the store (botocore's standard retries), a plain DynamoDB client with the same
retries for each message's read of its room (raw attribute values: no resource layer),
one-attempt clients for every step after the store (``chatroom.retry`` decides, within
``chatroom.budgets``), one metrics sink, all from one boto3 session, boto3's default one.

Every handler gets what it runs the same way, once per execution environment:
``chat_service()``, ``presence_announcer()``, ``shard_poster()`` or ``delivery_watch()``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

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
from chatroom.presence import PresenceAnnouncer
from chatroom.rate_limit import DEFAULT_LIMIT, DEFAULT_WINDOW_S, RateLimit, RateLimiter
from chatroom.service import ChatService
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
    session: Any = None
    """The one boto3 session every client above was made from."""

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> ChatEnvironment:
        """Without ``FANOUT_QUEUE_URL`` every fan-out is inline (a template without the
        queue)."""
        session = default_session()
        dynamodb = session.resource("dynamodb", config=budgets.BEFORE_THE_STORE)
        # A resource's client: it takes and gives Python values, as the tables do.
        after_store = session.resource("dynamodb", config=budgets.ONE_ATTEMPT).meta.client
        connections = ConnectionStore(
            dynamodb.Table(environ["CONNECTIONS_TABLE"]),
            after_store,
            session.client("dynamodb", config=budgets.BEFORE_THE_STORE),
        )
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
            clients=ManagementApiClients(session, environ),
            metrics=metrics,
            queue=queue,
            rate_limiter=RateLimiter(messages_table, rate_limit(environ)),
            max_message_bytes=int(
                environ.get("MESSAGE_MAX_BYTES", protocol.DEFAULT_MESSAGE_MAX_BYTES)
            ),
            session=session,
        )

    def backstop(self) -> Backstop:
        return Backstop(self.messages, self.connections, self.fan_out, self.clients, self.metrics)


def default_session() -> boto3.session.Session:
    """boto3's default session, made if there is none yet. A session parses botocore's
    models (endpoints, the services) once: the stage's fork server does it in the default
    session before it forks (``wslocal.runtime.forkserver.warm_boto3``), so an environment
    that made a session of its own parsed them all again (about 0.1 s of CPU per new
    environment, docs/benchmarks.md, "The sender's side"). On Lambda it is the same one
    session per environment."""
    if boto3.DEFAULT_SESSION is None:
        boto3.setup_default_session()
    return cast(boto3.session.Session, boto3.DEFAULT_SESSION)


def rate_limit(environ: Mapping[str, str]) -> RateLimit:
    return RateLimit(
        limit=int(environ.get("MESSAGE_RATE_LIMIT", DEFAULT_LIMIT)),
        window_s=int(environ.get("MESSAGE_RATE_WINDOW_SECONDS", DEFAULT_WINDOW_S)),
    )


def chat_service(environ: Mapping[str, str] = os.environ) -> ChatService:
    """The WebSocket routes' service ($connect, $disconnect, sendMessage, history...)."""
    return ChatService(ChatEnvironment.from_environment(environ))


def presence_announcer(environ: Mapping[str, str] = os.environ) -> PresenceAnnouncer:
    """PresenceFunction's work (the connections stream)."""
    return PresenceAnnouncer(ChatEnvironment.from_environment(environ))


def shard_poster(environ: Mapping[str, str] = os.environ) -> ShardPoster:
    """FanOutFunction's work (shards and overdue checks)."""
    environment = ChatEnvironment.from_environment(environ)
    return ShardPoster(
        environment.fan_out, environment.clients, environment.backstop(), environment.metrics
    )


def delivery_watch(environ: Mapping[str, str] = os.environ) -> DeliveryWatch:
    """DeliveryWatchFunction's work (the messages stream)."""
    environment = ChatEnvironment.from_environment(environ)
    if environment.queue is None:
        raise ChatError("DeliveryWatchFunction needs FANOUT_QUEUE_URL (its overdue checks)")
    return DeliveryWatch(environment.queue, environment.clock)
