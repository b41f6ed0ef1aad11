"""What a chat function builds once per execution environment, wired in one place.

The clients (DynamoDB, SQS, the Management API), the stores and the fan-out are made here
from the function's variables and shared by everything it runs, all from one boto3
session, boto3's default one (``AwsClients``): one DynamoDB resource for the tables
(botocore's standard retries), a plain DynamoDB client with the same retries for the
connections' rows and each message's read of its room (raw attribute values: no resource
layer), one-attempt clients for every step after the store (``chatroom.retry`` decides,
within ``chatroom.budgets``), one metrics sink. A client is made when first used, and at
init those that every call of the function uses (``EVERY_CALL_USES``): a function makes
only the clients its routes use.

Every handler gets what it runs the same way, once per execution environment:
``chat_service(route)``, ``presence_announcer()``, ``shard_poster()`` or
``delivery_watch()``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
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
from chatroom.query_items import with_scalar_items_taken
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
    def from_environment(
        cls, environ: Mapping[str, str] = os.environ, ready: Iterable[str] = ()
    ) -> ChatEnvironment:
        """Without ``FANOUT_QUEUE_URL`` every fan-out is inline (a template without the
        queue). ``ready``: the ``AwsClients`` to make now (the others are made when first
        used)."""
        aws = AwsClients(default_session(), environ, ready)
        connections = ConnectionStore(
            MadeOnFirstUse(lambda: aws.connections_table, name=environ["CONNECTIONS_TABLE"]),
            MadeOnFirstUse(lambda: aws.after_store),
            MadeOnFirstUse(lambda: aws.dynamodb),
        )
        messages_table = MadeOnFirstUse(lambda: aws.messages_table, name=environ["MESSAGES_TABLE"])
        queue_url = environ.get("FANOUT_QUEUE_URL")
        queue = ShardQueue(MadeOnFirstUse(lambda: aws.sqs), queue_url) if queue_url else None
        return cls(
            connections=connections,
            messages=MessageStore(
                messages_table,
                ttl_hours=int(environ.get("HISTORY_TTL_HOURS", DEFAULT_HISTORY_TTL_HOURS)),
                mark_client=MadeOnFirstUse(lambda: aws.after_store),
            ),
            fan_out=FanOut(
                Broadcaster(),
                connections,
                queue,
                inline_max=int(environ.get("INLINE_FANOUT_MAX", DEFAULT_INLINE_MAX)),
                shard_size=int(environ.get("FANOUT_SHARD_SIZE", DEFAULT_SHARD_SIZE)),
            ),
            clients=ManagementApiClients(aws.session, environ),
            metrics=metrics,
            queue=queue,
            rate_limiter=RateLimiter(messages_table, rate_limit(environ)),
            max_message_bytes=int(
                environ.get("MESSAGE_MAX_BYTES", protocol.DEFAULT_MESSAGE_MAX_BYTES)
            ),
            session=aws.session,
        )

    def backstop(self) -> Backstop:
        return Backstop(self.messages, self.connections, self.fan_out, self.clients, self.metrics)


class AwsClients:
    """A function's AWS clients, all from its one session, each made when first used:
    making a botocore client costs about 4 ms of CPU (its class, its endpoint rules, its
    copy of the session's hooks), a resource 2 more, so a function that never queues a
    shard makes no SQS client. ``ready`` names those to make now, at init: every call
    uses them, and Lambda runs init before the first call (docs/benchmarks.md, "The
    chat's init and joins")."""

    def __init__(
        self,
        session: boto3.session.Session,
        environ: Mapping[str, str],
        ready: Iterable[str] = (),
    ) -> None:
        self.session = session
        self._environ = environ
        for name in ready:
            getattr(self, name)

    @cached_property
    def tables(self) -> Any:
        """The DynamoDB resource of the tables (Python values), standard retries."""
        return self.session.resource("dynamodb", config=budgets.BEFORE_THE_STORE)

    @cached_property
    def connections_table(self) -> Any:
        return self.tables.Table(self._environ["CONNECTIONS_TABLE"])

    @cached_property
    def messages_table(self) -> Any:
        return self.tables.Table(self._environ["MESSAGES_TABLE"])

    @cached_property
    def dynamodb(self) -> Any:
        """A plain DynamoDB client (DynamoDB's own attribute values), the same retries:
        the connections' rows and each message's read of its room (its items taken as
        answered: ``chatroom.query_items``)."""
        return with_scalar_items_taken(
            self.session.client("dynamodb", config=budgets.BEFORE_THE_STORE)
        )

    @cached_property
    def after_store(self) -> Any:
        """A resource's DynamoDB client (it takes Python values), one attempt per call:
        the steps after the store."""
        return self.session.resource("dynamodb", config=budgets.ONE_ATTEMPT).meta.client

    @cached_property
    def sqs(self) -> Any:
        """The fan-out queue's client, one attempt per call."""
        return self.session.client("sqs", config=budgets.ONE_ATTEMPT)


class MadeOnFirstUse:
    """Stands for a client or a table that ``make`` makes when one of its attributes is
    first read (``known`` are read without making it: a table's name), so the stores
    can be given everything a function might use and it makes only what it uses. Read
    from the invocation's thread (the broadcast's threads only post)."""

    def __init__(self, make: Callable[[], Any], **known: Any) -> None:
        self.__dict__.update(known)
        self._make = make

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("_make", "_made"):
            raise AttributeError(name)  # copy's and pickle's probes make nothing
        made = self.__dict__.get("_made")
        if made is None:
            made = self._made = self._make()
        return getattr(made, name)


EVERY_CALL_USES: Mapping[str, tuple[str, ...]] = {
    "$connect": ("dynamodb",),
    "$disconnect": ("dynamodb",),
    "$default": (),
    "history": ("dynamodb", "connections_table", "messages_table"),
    "sendMessage": ("dynamodb", "messages_table", "after_store"),
}
"""The ``AwsClients`` each WebSocket route uses on every call, made at its function's
init; the others (the shards' queue, a clean-up's client) when a call first needs them."""


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


def chat_service(route: str | None = None, environ: Mapping[str, str] = os.environ) -> ChatService:
    """The service of one WebSocket route's function ($connect, $disconnect, sendMessage,
    history, $default), with the clients that route uses on every call made now; with no
    route (a function serving several), every client is made when first used."""
    ready = EVERY_CALL_USES[route] if route is not None else ()
    return ChatService(ChatEnvironment.from_environment(environ, ready))


def presence_announcer(environ: Mapping[str, str] = os.environ) -> PresenceAnnouncer:
    """PresenceFunction's work (the connections stream): every batch reads its rooms."""
    return PresenceAnnouncer(ChatEnvironment.from_environment(environ, ("connections_table",)))


def shard_poster(environ: Mapping[str, str] = os.environ) -> ShardPoster:
    """FanOutFunction's work (shards and overdue checks): a shard makes no AWS call but
    its posts (the Management API's own client), unless members are gone or fail."""
    environment = ChatEnvironment.from_environment(environ)
    return ShardPoster(
        environment.fan_out, environment.clients, environment.backstop(), environment.metrics
    )


def delivery_watch(environ: Mapping[str, str] = os.environ) -> DeliveryWatch:
    """DeliveryWatchFunction's work (the messages stream): every batch queues checks."""
    environment = ChatEnvironment.from_environment(environ, ("sqs",))
    if environment.queue is None:
        raise ChatError("DeliveryWatchFunction needs FANOUT_QUEUE_URL (its overdue checks)")
    return DeliveryWatch(environment.queue, environment.clock)
