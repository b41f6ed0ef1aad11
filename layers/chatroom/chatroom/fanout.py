"""Fan-out that scales with the room: inline for small rooms, shards over SQS for large.

Up to ``INLINE_FANOUT_MAX`` recipients the function that has the envelope posts it itself
(the lowest latency). Above that the recipients are split into shards of
``FANOUT_SHARD_SIZE``; each shard is one SQS message carrying the envelope and its
recipients, sent with SendMessageBatch, and ``FanOutFunction`` posts each shard from its
own invocation: Lambda's concurrency is the engine, so the wall time is about one shard's
whatever the room's size. Members an invocation had no time left for, and members whose
posts failed, are queued as a new shard instead of being dropped.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from botocore.exceptions import BotoCoreError, ClientError

from chatroom.broadcast import Broadcaster, BroadcastResult, ManagementApiClients
from chatroom.connections import ConnectionStore, Member
from chatroom.exceptions import ChatError
from chatroom.telemetry import Remaining, logger, metrics

DEFAULT_INLINE_MAX = 100
DEFAULT_SHARD_SIZE = 100
SHARD_VERSION = 1
MOST_ATTEMPTS = 3
"""A shard whose posts keep failing is re-queued at most this many times."""
SEND_BATCH_ENTRIES = 10
SEND_BATCH_BYTES = 256 * 1024
"""SQS's limits for one SendMessageBatch: 10 entries, 256 KiB of bodies in all."""


class FanOutError(ChatError):
    """Shards could not be queued (SQS refused or could not be reached)."""


class ShardError(ChatError):
    """A shard message is not what FanOutFunction expects."""


@dataclass(frozen=True)
class Shard:
    """One SQS message: an envelope and the members to post it to."""

    room: str
    data: str
    """The encoded envelope, as posted."""
    recipients: tuple[Member, ...]
    attempt: int = 1

    def body(self) -> str:
        return json.dumps(
            {
                "v": SHARD_VERSION,
                "room": self.room,
                "data": self.data,
                "attempt": self.attempt,
                "to": [[m.connection_id, m.connected_at] for m in self.recipients],
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )

    @classmethod
    def parse(cls, body: str) -> Shard:
        """Read a shard message; anything else is a ShardError (a batch item failure)."""
        try:
            decoded = json.loads(body)
            if decoded["v"] != SHARD_VERSION:
                raise ShardError(f"shard version {decoded['v']!r} is not {SHARD_VERSION}")
            recipients = tuple(
                Member(connection_id=str(cid), name="", connected_at=int(at))
                for cid, at in decoded["to"]
            )
            room, data, attempt = decoded["room"], decoded["data"], int(decoded["attempt"])
        except ShardError:
            raise
        except (ValueError, KeyError, TypeError) as exc:
            raise ShardError(f"not a fan-out shard: {exc!r}") from None
        if not isinstance(room, str) or not isinstance(data, str) or not recipients:
            raise ShardError("a shard needs a room, the data and at least one recipient")
        return cls(room, data, recipients, attempt)


def split(members: Sequence[Member], size: int) -> list[tuple[Member, ...]]:
    """The members in shards of at most ``size``."""
    return [tuple(members[start : start + size]) for start in range(0, len(members), size)]


def send_batches(bodies: Sequence[str]) -> list[list[str]]:
    """Group message bodies into SendMessageBatch calls within SQS's limits."""
    groups: list[list[str]] = []
    size = 0
    for body in bodies:
        length = len(body.encode("utf-8"))
        if not groups or len(groups[-1]) == SEND_BATCH_ENTRIES or size + length > SEND_BATCH_BYTES:
            groups.append([])
            size = 0
        groups[-1].append(body)
        size += length
    return groups


class ShardQueue:
    """The fan-out queue: shards go in with SendMessageBatch."""

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self._sqs = sqs
        self._queue_url = queue_url

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> ShardQueue | None:
        url = environ.get("FANOUT_QUEUE_URL")
        return cls(boto3.client("sqs"), url) if url else None

    def put(self, shards: Iterable[Shard]) -> int:
        """Queue every shard or raise FanOutError; a refused entry is sent once more."""
        count = 0
        for group in send_batches([shard.body() for shard in shards]):
            entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(group)]
            for _ in range(2):
                try:
                    answer = self._sqs.send_message_batch(QueueUrl=self._queue_url, Entries=entries)
                except (BotoCoreError, ClientError) as exc:
                    raise FanOutError(f"the fan-out queue is unavailable: {exc}") from None
                refused = {failure["Id"] for failure in answer.get("Failed", [])}
                entries = [entry for entry in entries if entry["Id"] in refused]
                if not entries:
                    break
            if entries:
                raise FanOutError(f"the fan-out queue refused {len(entries)} shard(s)")
            count += len(group)
        return count


@dataclass(frozen=True)
class FanOutResult:
    recipients: int
    delivered: int = 0
    gone: int = 0
    failed: int = 0
    shards: int = 0
    """Shards queued for FanOutFunction (large rooms, deferred or failed members)."""
    duration_ms: float = 0.0

    def log_fields(self) -> dict[str, Any]:
        return {
            "recipients": self.recipients,
            "delivered": self.delivered,
            "gone": self.gone,
            "failed": self.failed,
            "shards": self.shards,
            "fanout_ms": round(self.duration_ms, 1),
        }


class FanOut:
    """Posts inline or queues shards, by the room's size and the time left."""

    def __init__(
        self,
        broadcaster: Broadcaster,
        queue: ShardQueue | None,
        inline_max: int = DEFAULT_INLINE_MAX,
        shard_size: int = DEFAULT_SHARD_SIZE,
    ) -> None:
        self._broadcaster = broadcaster
        self._queue = queue
        self._inline_max = inline_max if queue is not None else float("inf")
        self._shard_size = max(1, shard_size)

    @classmethod
    def from_environment(
        cls, broadcaster: Broadcaster, environ: Mapping[str, str] = os.environ
    ) -> FanOut:
        """Without ``FANOUT_QUEUE_URL`` every fan-out is inline (a template without the
        queue, a unit test)."""
        return cls(
            broadcaster,
            ShardQueue.from_environment(environ),
            inline_max=int(environ.get("INLINE_FANOUT_MAX", DEFAULT_INLINE_MAX)),
            shard_size=int(environ.get("FANOUT_SHARD_SIZE", DEFAULT_SHARD_SIZE)),
        )

    def deliver(
        self,
        client: Any,
        room: str,
        data: bytes,
        members: Sequence[Member],
        remaining: Remaining,
        attempt: int = 1,
    ) -> FanOutResult:
        """Post to a room small enough inline, else queue it in shards; raise FanOutError
        when shards cannot be queued."""
        if len(members) > self._inline_max:
            return FanOutResult(
                recipients=len(members),
                shards=self._queue_shards(room, data, members, attempt),
            )
        return self.post(client, room, data, members, remaining, attempt)

    def post(
        self,
        client: Any,
        room: str,
        data: bytes,
        members: Sequence[Member],
        remaining: Remaining,
        attempt: int = 1,
    ) -> FanOutResult:
        """Post inline; members left for lack of time, or whose posts failed while tries
        remain, are queued as shards."""
        result: BroadcastResult = self._broadcaster.broadcast(client, data, members, remaining)
        retry = result.failed_members if self._queue is not None and attempt < MOST_ATTEMPTS else ()
        shards = 0
        if result.deferred:
            shards += self._queue_shards(room, data, result.deferred, attempt)
        if retry:
            shards += self._queue_shards(room, data, retry, attempt + 1)
        return FanOutResult(
            recipients=len(members),
            delivered=result.delivered,
            gone=result.gone,
            failed=result.failed - len(retry),
            shards=shards,
            duration_ms=result.duration_ms,
        )

    def _queue_shards(self, room: str, data: bytes, members: Sequence[Member], attempt: int) -> int:
        if self._queue is None:
            raise FanOutError("members are left to post and there is no fan-out queue")
        text = data.decode("utf-8")
        return self._queue.put(
            Shard(room, text, group, attempt) for group in split(members, self._shard_size)
        )


def count_metric(name: str, value: int) -> None:
    if value:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


class ShardPoster:
    """FanOutFunction: posts each shard of an SQS batch; a bad or unqueueable shard is a
    batch item failure (Powertools' batch utility reports it), the others go on."""

    def __init__(
        self,
        fan_out: FanOut,
        clients: ManagementApiClients,
        count: Callable[[str, int], None] = lambda name, value: None,
    ) -> None:
        self._fan_out = fan_out
        self._clients = clients
        self._count = count
        self._processor = BatchProcessor(event_type=EventType.SQS)

    @classmethod
    def from_environment(cls) -> ShardPoster:
        broadcaster = Broadcaster(ConnectionStore())
        return cls(FanOut.from_environment(broadcaster), ManagementApiClients(), count_metric)

    def handle(self, event: dict[str, Any], remaining: Remaining) -> dict[str, Any]:
        return dict(
            process_partial_response(
                event=event,
                record_handler=lambda record: self.post_shard(record, remaining),
                processor=self._processor,
            )
        )

    def post_shard(self, record: SQSRecord, remaining: Remaining) -> None:
        shard = Shard.parse(record.body)
        logger.append_keys(room=shard.room)
        result = self._fan_out.post(
            self._clients.configured(),
            shard.room,
            shard.data.encode("utf-8"),
            shard.recipients,
            remaining,
            shard.attempt,
        )
        self._count("Shards", 1)
        self._count("Deliveries", result.delivered)
        self._count("GoneConnectionsRemoved", result.gone)
        self._count("FailedDeliveries", result.failed)
        self._count("ShardsRequeued", result.shards)
        logger.info("shard posted", extra={**result.log_fields(), "attempt": shard.attempt})
