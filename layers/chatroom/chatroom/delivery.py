"""The delivery guarantee: an acknowledged message reaches every member, or its sender
is told.

``sendMessage`` stores each message ``pending`` with ``deliverBy``, the end of its own
invocation, and marks it ``handedOff`` once every member was posted or queued. Whatever
stops it in between (a crash, a timeout, a throttled Query, SQS down) leaves the mark
unwritten, and the messages table's stream, which sees every write whoever made it, is
the backstop:

1. ``DeliveryWatch`` (``DeliveryWatchFunction``, the stream) queues an ``OverdueCheck``
   for each message stored pending whose mark is not in the same batch, delayed until
   its ``deliverBy`` has passed;
2. ``Backstop`` (``FanOutFunction``, the fan-out queue) reads the message again: still
   pending, it is delivered to the room under its id and marked. If that fails too, SQS
   receives the check again; on its last receive the sender is told first.

A large room's shards are covered by the same rule: a shard's last receive tells the
sender before posting (``chatroom.shard_poster``). Members reached by a shard that then
died are not told apart: the sender's Retry sends the message again, shown once by id.

Members may get a message twice (a retry, the backstop); pages show it once, by its id.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from typing import Any

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)
from botocore.exceptions import BotoCoreError, ClientError

from chatroom import protocol
from chatroom.connections import ConnectionStore
from chatroom.fanout.management_api import ManagementApiClients
from chatroom.fanout.policy import FanOut, FanOutResult
from chatroom.fanout.shards import FanOutError, Origin, OverdueCheck, ShardQueue
from chatroom.messages import FAILED, HANDED_OFF, PENDING, MessageStore, StoredMessage
from chatroom.retry import unlimited
from chatroom.telemetry import MetricsSink, Remaining, count, logger

GRACE_S = 2
"""Checked this long after ``deliverBy``: the sender's invocation is over by then."""
LAST_RECEIVE = 5
"""The fan-out queue's maxReceiveCount: the last receive of a check tells the sender."""


def check_delay_s(deliver_by_ms: int | None, now_ms: int) -> int:
    """Seconds to wait before checking a message whose sender ends at ``deliver_by_ms``."""
    if deliver_by_ms is None:
        return GRACE_S
    return max(0, math.ceil((deliver_by_ms - now_ms) / 1000)) + GRACE_S


def overdue_candidates(records: Iterable[DynamoDBRecord]) -> dict[tuple[str, str], DynamoDBRecord]:
    """The messages of a stream batch stored pending (or set back to pending by a Retry)
    and not marked in the same batch, each with its last pending record (``deliverBy``,
    sequence number), in stream order."""
    pending: dict[tuple[str, str], DynamoDBRecord] = {}
    for record in records:
        stream = record.dynamodb
        image = (stream.new_image if stream else None) or {}
        room, message_id = image.get("room"), image.get("messageId")
        if not isinstance(room, str) or not isinstance(message_id, str):
            continue
        state = image.get("delivery")
        if state == PENDING:  # stored, or reopened by a Retry of a failed message
            pending[(room, message_id)] = record
        elif record.event_name is DynamoDBRecordEventName.MODIFY:
            pending.pop((room, message_id), None)
    return pending


class DeliveryWatch:
    """Queues an overdue check for each message whose hand-off its batch did not see."""

    def __init__(self, queue: ShardQueue, clock: Callable[[], float] = time.time) -> None:
        self._queue = queue
        self._clock = clock

    def handle(
        self, records: Iterable[DynamoDBRecord], remaining: Remaining = unlimited
    ) -> dict[str, Any]:
        """Queue the checks, each delayed to its own deadline; the records of checks that
        could not be queued are reported failed, so Lambda reads them again."""
        now_ms = int(self._clock() * 1000)
        overdue = overdue_candidates(records)
        checks = [
            OverdueCheck(room, message_id, check_delay_s(deliver_by(record), now_ms))
            for (room, message_id), record in overdue.items()
        ]
        try:
            self._queue.put(checks, remaining)
        except FanOutError:
            logger.exception("overdue checks could not be queued", extra={"checks": len(checks)})
            return {
                "batchItemFailures": [
                    {"itemIdentifier": sequence_number(record)} for record in overdue.values()
                ]
            }
        return {"batchItemFailures": []}


def deliver_by(record: DynamoDBRecord) -> int | None:
    image = (record.dynamodb.new_image if record.dynamodb else None) or {}
    value = image.get("deliverBy")
    return int(value) if value is not None else None


def sequence_number(record: DynamoDBRecord) -> str:
    return (record.dynamodb.sequence_number if record.dynamodb else None) or ""


class Backstop:
    """Delivers a message whose hand-off was never marked, and marks it."""

    def __init__(
        self,
        messages: MessageStore,
        connections: ConnectionStore,
        fan_out: FanOut,
        clients: ManagementApiClients,
        metrics: MetricsSink,
    ) -> None:
        self._messages = messages
        self._connections = connections
        self._fan_out = fan_out
        self._clients = clients
        self._metrics = metrics

    def check(self, due: OverdueCheck, receive: int, remaining: Remaining = unlimited) -> None:
        """Deliver the message if it is still pending; raise if that fails, so the queue
        tries again. On the last receive the sender is told first (marked failed): a
        worker that dies on it too could tell no one after."""
        message = self._messages.get(due.room, due.message_id)
        if message is None or message.delivery != PENDING:
            logger.info("an overdue check found the message handed off")
            return
        if receive >= LAST_RECEIVE:
            self.tell_sender(message.room, origin_of(message), remaining)
        self.deliver(message, remaining)
        count(self._metrics, "MessagesRedelivered", 1)

    def deliver(self, message: StoredMessage, remaining: Remaining = unlimited) -> FanOutResult:
        """Send a stored message to its room (all but its sender's connection), then mark
        it: handed off, or failed (and its sender told) if a member was given up on."""
        recipients = [
            member
            for member in self._connections.members(message.room, with_names=False)
            if member.connection_id != message.sender_connection_id
        ]
        origin = origin_of(message)
        client = self._clients.configured()
        result = self._fan_out.deliver(
            client,
            message.room,
            protocol.encode(message.envelope()),
            recipients,
            remaining,
            origin=origin,
        )
        if result.failed:
            self.tell_sender(message.room, origin, remaining, client)
        else:
            self._messages.mark(message.room, message.message_id, HANDED_OFF, remaining)
        self._fan_out.clean_up(result, remaining)
        return result

    def tell_sender(
        self,
        room: str,
        origin: Origin | None,
        remaining: Remaining = unlimited,
        client: Any = None,
    ) -> None:
        """Mark the message failed, then tell its sender ``delivery_failed`` on every
        connection they have now (a page that reconnected, another tab) and the one it
        was sent from. A sender with none finds it failed in the history; its Retry
        delivers the message again."""
        if origin is None:
            return
        self._messages.mark(room, origin.message_id, FAILED, remaining)
        notice = protocol.encode(protocol.delivery_failed(origin.client_id, origin.message_id))
        client = client or self._clients.configured()
        for connection_id in self.senders_connections(origin):
            self._fan_out.post_one(client, connection_id, notice)

    def senders_connections(self, origin: Origin) -> list[str]:
        """Every connection of the origin's sender, the one it was sent from first."""
        found = [origin.sender_connection_id]
        if origin.sender_key:
            try:
                found += self._connections.of_sender(origin.sender_key)
            except (BotoCoreError, ClientError):
                logger.exception("the sender's connections could not be read")
        return list(dict.fromkeys(found))


def origin_of(message: StoredMessage) -> Origin | None:
    """Whom a stored message's failure is told to (messages stored before delivery was
    tracked name no sender connection)."""
    if not message.sender_connection_id:
        return None
    return Origin(
        message.message_id, message.sender_connection_id, message.client_id, message.sender_key
    )
