"""The fan-out queue and what goes in it.

Two kinds of message travel on the fan-out queue, both read by ``FanOutFunction``:

- a ``Shard``: an envelope and up to ``FANOUT_SHARD_SIZE`` members to post it to (a large
  room's message, members a function had no time left for, members whose posts failed);
- an ``OverdueCheck``: a message whose sender's invocation should have handed it off by
  now, queued by ``DeliveryWatchFunction`` with a delay (``chatroom.delivery``).

Shards are sent with SendMessageBatch within SQS's limits, each call bounded by the
``QUEUE`` budget.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chatroom import budgets, retry
from chatroom.connections import Member
from chatroom.exceptions import ChatError
from chatroom.retry import unlimited
from chatroom.telemetry import Remaining

SHARD_VERSION = 1
SEND_BATCH_ENTRIES = 10
SEND_BATCH_BYTES = 256 * 1024
"""SQS's limits for one SendMessageBatch: 10 entries, 256 KiB of bodies in all."""
LONGEST_DELAY_S = 900
"""SQS's longest DelaySeconds."""


class FanOutError(ChatError):
    """Work could not be queued (SQS refused or could not be reached in time)."""


class ShardError(ChatError):
    """A fan-out queue message is not what FanOutFunction expects."""


@dataclass(frozen=True)
class Origin:
    """The stored message a shard carries: whom to tell if its members cannot be reached
    (every connection of ``sender_key`` then, and the one it was sent from)."""

    message_id: str
    sender_connection_id: str
    client_id: str | None = None
    sender_key: str | None = None

    def fields(self) -> list[str | None]:
        return [self.message_id, self.sender_connection_id, self.client_id, self.sender_key]


@dataclass(frozen=True)
class Shard:
    """One queue message: an envelope and the members to post it to."""

    room: str
    data: str
    """The encoded envelope, as posted."""
    recipients: tuple[Member, ...]
    attempt: int = 1
    origin: Origin | None = None
    delay_s: int = 0

    def body(self) -> str:
        body: dict[str, Any] = {
            "v": SHARD_VERSION,
            "room": self.room,
            "data": self.data,
            "attempt": self.attempt,
            "to": [[m.connection_id, m.connected_at] for m in self.recipients],
        }
        if self.origin is not None:
            body["origin"] = self.origin.fields()
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class OverdueCheck:
    """A stored message to deliver if its hand-off has not been marked by now."""

    room: str
    message_id: str
    delay_s: int = 0
    """How long SQS keeps it from FanOutFunction (at most ``LONGEST_DELAY_S``)."""

    def body(self) -> str:
        return json.dumps(
            {"v": SHARD_VERSION, "kind": "overdue", "room": self.room, "id": self.message_id},
            ensure_ascii=False,
            separators=(",", ":"),
        )


def parse(body: str) -> Shard | OverdueCheck:
    """Read a fan-out queue message; anything else is a ShardError (a batch item
    failure)."""
    try:
        decoded = json.loads(body)
        if decoded["v"] != SHARD_VERSION:
            raise ShardError(f"shard version {decoded['v']!r} is not {SHARD_VERSION}")
        if decoded.get("kind") == "overdue":
            room, message_id = decoded["room"], decoded["id"]
            if not isinstance(room, str) or not isinstance(message_id, str):
                raise ShardError("an overdue check needs a room and a message id")
            return OverdueCheck(room, message_id)
        recipients = tuple(Member(str(cid), int(at)) for cid, at in decoded["to"])
        room, data, attempt = decoded["room"], decoded["data"], int(decoded["attempt"])
        origin = _origin(decoded.get("origin"))
    except ShardError:
        raise
    except (ValueError, KeyError, TypeError) as exc:
        raise ShardError(f"not a fan-out shard: {exc!r}") from None
    if not isinstance(room, str) or not isinstance(data, str) or not recipients:
        raise ShardError("a shard needs a room, the data and at least one recipient")
    return Shard(room, data, recipients, attempt, origin)


def _origin(fields: Any) -> Origin | None:
    if not fields:
        return None
    message_id, sender, client_id, *key = fields  # shards queued before keys had three
    if not isinstance(message_id, str) or not isinstance(sender, str):
        raise ShardError("a shard's origin names a message and its sender")
    return Origin(
        message_id,
        sender,
        str(client_id) if client_id is not None else None,
        str(key[0]) if key and key[0] is not None else None,
    )


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
    """The fan-out queue: work goes in with SendMessageBatch, every call within the
    ``QUEUE`` budget (``sqs`` makes one attempt per call: ``budgets.ONE_ATTEMPT``)."""

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self._sqs = sqs
        self._queue_url = queue_url

    def put(
        self,
        work: Iterable[Shard | OverdueCheck],
        remaining: Remaining = unlimited,
    ) -> int:
        """Queue everything within the ``QUEUE`` budget, sending refused entries again,
        or raise FanOutError."""
        items = list(work)
        delays = iter([max(0, min(LONGEST_DELAY_S, item.delay_s)) for item in items])
        pending = [
            [
                {"Id": str(i), "MessageBody": body, "DelaySeconds": next(delays)}
                for i, body in enumerate(group)
            ]
            for group in send_batches([item.body() for item in items])
        ]
        count = sum(len(entries) for entries in pending)
        problem = "could not be reached"
        for _ in retry.attempts(budgets.QUEUE, remaining):
            left = []
            for entries in pending:
                try:
                    answer = self._sqs.send_message_batch(QueueUrl=self._queue_url, Entries=entries)
                except (BotoCoreError, ClientError) as exc:
                    problem = f"is unavailable: {exc}"
                    left.append(entries)
                    continue
                refused = {failure["Id"] for failure in answer.get("Failed", [])}
                if refused:
                    problem = f"refused {len(refused)} message(s)"
                    left.append([entry for entry in entries if entry["Id"] in refused])
            pending = left
            if not pending:
                return count
        raise FanOutError(f"the fan-out queue {problem}")
