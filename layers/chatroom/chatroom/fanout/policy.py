"""The fan-out policy: inline for small rooms, shards over SQS for large ones.

Up to ``INLINE_FANOUT_MAX`` recipients the function that has the envelope posts it itself
(the lowest latency). Above that the recipients are split into shards of
``FANOUT_SHARD_SIZE``, queued with SendMessageBatch, and ``FanOutFunction`` posts each
shard from its own invocation: Lambda's concurrency is the engine, so the wall time is
about one shard's whatever the room's size. Members an invocation had no time left for,
and members whose posts failed while attempts remain, are queued as new shards, before
anything else is done; the connections that answered 410 are removed last
(``clean_up``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from chatroom.connections import ConnectionStore, Member
from chatroom.fanout.broadcast import Broadcaster, BroadcastResult, Delivery
from chatroom.fanout.shards import FanOutError, Origin, Shard, ShardQueue, split
from chatroom.retry import unlimited
from chatroom.telemetry import Remaining

DEFAULT_INLINE_MAX = 100
DEFAULT_SHARD_SIZE = 100
MOST_ATTEMPTS = 3
"""A member whose posts keep failing is queued again at most this many times in all."""


@dataclass(frozen=True)
class FanOutResult:
    recipients: int
    delivered: int = 0
    gone: tuple[str, ...] = ()
    """Connections that answered 410, for ``clean_up``."""
    failed: int = 0
    """Members given up on: their last attempt failed (the sender is to be told)."""
    shards: int = 0
    """Shards queued for FanOutFunction (large rooms, deferred or failed members)."""
    duration_ms: float = 0.0

    def log_fields(self) -> dict[str, Any]:
        return {
            "recipients": self.recipients,
            "delivered": self.delivered,
            "gone": len(self.gone),
            "failed": self.failed,
            "shards": self.shards,
            "fanout_ms": round(self.duration_ms, 1),
        }


class FanOut:
    """Posts inline or queues shards, by the room's size and the time left."""

    def __init__(
        self,
        broadcaster: Broadcaster,
        connections: ConnectionStore,
        queue: ShardQueue | None,
        inline_max: int = DEFAULT_INLINE_MAX,
        shard_size: int = DEFAULT_SHARD_SIZE,
    ) -> None:
        self._broadcaster = broadcaster
        self._connections = connections
        self._queue = queue
        self._inline_max = inline_max if queue is not None else float("inf")
        self._shard_size = max(1, shard_size)

    def deliver(
        self,
        client: Any,
        room: str,
        data: bytes,
        members: Sequence[Member],
        remaining: Remaining = unlimited,
        attempt: int = 1,
        origin: Origin | None = None,
    ) -> FanOutResult:
        """Post to a room small enough inline, else queue it in shards; raise FanOutError
        when shards cannot be queued. When this returns, every member is posted, queued,
        gone or given up on (``failed``)."""
        if len(members) > self._inline_max:
            return FanOutResult(
                recipients=len(members),
                shards=self._queue_shards(room, data, members, attempt, origin, remaining),
            )
        return self.post(client, room, data, members, remaining, attempt, origin)

    def post(
        self,
        client: Any,
        room: str,
        data: bytes,
        members: Sequence[Member],
        remaining: Remaining = unlimited,
        attempt: int = 1,
        origin: Origin | None = None,
    ) -> FanOutResult:
        """Post inline; members left for lack of time, or whose posts failed while
        attempts remain, are queued as shards."""
        result: BroadcastResult = self._broadcaster.broadcast(client, data, members, remaining)
        retry = result.failed_members if self._queue is not None and attempt < MOST_ATTEMPTS else ()
        shards = 0
        if result.deferred:
            shards += self._queue_shards(room, data, result.deferred, attempt, origin, remaining)
        if retry:
            shards += self._queue_shards(room, data, retry, attempt + 1, origin, remaining)
        return FanOutResult(
            recipients=len(members),
            delivered=result.delivered,
            gone=result.gone,
            failed=result.failed - len(retry),
            shards=shards,
            duration_ms=result.duration_ms,
        )

    def post_one(self, client: Any, connection_id: str, data: bytes) -> Delivery:
        """Post to one connection (a sender's ack or error) within the ``POST`` budget."""
        return self._broadcaster.post(client, connection_id, data)

    def clean_up(self, result: FanOutResult, remaining: Remaining = unlimited) -> int:
        """Remove the connections that answered 410 (last: nothing waits on it)."""
        return self._connections.remove_many(result.gone, remaining)

    def _queue_shards(
        self,
        room: str,
        data: bytes,
        members: Sequence[Member],
        attempt: int,
        origin: Origin | None,
        remaining: Remaining,
    ) -> int:
        if self._queue is None:
            raise FanOutError("members are left to post and there is no fan-out queue")
        text = data.decode("utf-8")
        return self._queue.put(
            (
                Shard(room, text, group, attempt, origin)
                for group in split(members, self._shard_size)
            ),
            remaining,
        )
