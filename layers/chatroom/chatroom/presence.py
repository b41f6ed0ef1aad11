"""Presence from the connections table's change stream.

``$connect`` and ``$disconnect`` only write their own row; every insert and removal
reaches ``PresenceFunction`` through the table's stream, whoever made it (a handler, the
410 clean-up of a broadcast, DynamoDB's time to live). One stream batch becomes one
``presence`` envelope per room: who joined, who left, and who is here now.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)
from botocore.exceptions import BotoCoreError, ClientError

from chatroom import protocol
from chatroom.fanout.policy import FanOutResult
from chatroom.fanout.shards import FanOutError
from chatroom.retry import unlimited
from chatroom.telemetry import Remaining, logger

if TYPE_CHECKING:
    from chatroom.environment import ChatEnvironment


@dataclass
class RoomChange:
    """What one batch changed in one room, with the records it came from (to report
    them as failed if the room cannot be told)."""

    room: str
    joined: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)
    joined_ids: list[str] = field(default_factory=list)
    left_ids: list[str] = field(default_factory=list)
    """Each change's stream sequence number: a page shows each change once, though a
    batch retried after a partial failure announces changes already told again."""
    sequence_numbers: list[str] = field(default_factory=list)


def room_changes(records: Iterable[DynamoDBRecord]) -> list[RoomChange]:
    """Group a batch's inserts and removals by room, in stream order. A row without a room
    or a name (written by hand) is logged and skipped; updates change no membership."""
    changes: dict[str, RoomChange] = {}
    for record in records:
        name = record.event_name
        if name not in (DynamoDBRecordEventName.INSERT, DynamoDBRecordEventName.REMOVE):
            continue
        stream = record.dynamodb
        image = (
            stream.new_image if name is DynamoDBRecordEventName.INSERT else stream.old_image
        ) if stream else None  # fmt: skip
        room, member = (image or {}).get("room"), (image or {}).get("name")
        if not isinstance(room, str) or not isinstance(member, str):
            logger.warning(
                "skipped a connections record without room or name",
                extra={"event_id": record.event_id, "keys": stream.keys if stream else None},
            )
            continue
        change = changes.setdefault(room, RoomChange(room))
        inserted = name is DynamoDBRecordEventName.INSERT
        (change.joined if inserted else change.left).append(member)
        sequence = (stream.sequence_number if stream else None) or record.event_id or ""
        (change.joined_ids if inserted else change.left_ids).append(sequence)
        if stream and stream.sequence_number:
            change.sequence_numbers.append(stream.sequence_number)
    return list(changes.values())


class PresenceAnnouncer:
    """Tells each changed room who joined, who left and who is here; a handler gets one
    from ``chatroom.environment.presence_announcer``."""

    def __init__(self, environment: ChatEnvironment) -> None:
        self._connections = environment.connections
        self._fan_out = environment.fan_out
        self._clients = environment.clients
        self._clock = environment.clock

    def announce(self, change: RoomChange, remaining: Remaining = unlimited) -> FanOutResult:
        """Post the room's presence envelope to every member, joiners included (they are
        connected by now; one still in ``$connect`` is kept by the broadcaster's grace);
        a large room goes out in shards, like a message."""
        members = self._connections.members(change.room)
        snapshot = protocol.members_snapshot(
            [member.name for member in members], int(self._clock() * 1000)
        )
        envelope = protocol.presence(
            change.room,
            joined=change.joined,
            left=change.left,
            members=snapshot,
            ids=(change.joined_ids, change.left_ids),
        )
        result = self._fan_out.deliver(
            self._clients.configured(), change.room, protocol.encode(envelope), members, remaining
        )
        self._fan_out.clean_up(result, remaining)
        return result

    def handle(
        self, records: Iterable[DynamoDBRecord], remaining: Remaining = unlimited
    ) -> dict[str, Any]:
        """Announce every room of the batch; a room that cannot be told (its query or
        clients fail) has its records reported as failed, so Lambda retries from there.
        Posts that fail for single members never fail the batch."""
        failed: list[str] = []
        for change in room_changes(records):
            try:
                result = self.announce(change, remaining)
            except (BotoCoreError, ClientError, FanOutError):
                logger.exception("presence announcement failed", extra={"room": change.room})
                failed.extend(change.sequence_numbers)
                continue
            logger.info(
                "presence announced",
                extra={
                    "room": change.room,
                    "joined": len(change.joined),
                    "left": len(change.left),
                    **result.log_fields(),
                },
            )
        return {"batchItemFailures": [{"itemIdentifier": number} for number in failed]}
