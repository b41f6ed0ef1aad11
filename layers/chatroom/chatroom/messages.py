"""MessageStore: a room's recent history, kept in DynamoDB with a time-to-live."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
from boto3.dynamodb.conditions import Key

from chatroom import protocol

DEFAULT_HISTORY_TTL_HOURS = 24
HISTORY_LIMIT = 50


def time_ordered_id(sent_at_ms: int, token: Callable[[int], str] = secrets.token_hex) -> str:
    """A message id that sorts by time and is unique: the history table's sort key."""
    return f"{sent_at_ms:013d}-{token(8)}"


@dataclass(frozen=True)
class StoredMessage:
    message_id: str
    room: str
    sender: str
    payload: str
    sent_at_ms: int

    def envelope(self) -> protocol.Envelope:
        return protocol.new_message(
            message_id=self.message_id,
            room=self.room,
            sender=self.sender,
            payload=self.payload,
            sent_at_ms=self.sent_at_ms,
        )


class MessageStore:
    """Appends messages to a room's history and reads the newest of them back."""

    def __init__(
        self,
        table_name: str | None = None,
        table: Any = None,
        ttl_hours: int | None = None,
        id_factory: Callable[[int], str] = time_ordered_id,
    ) -> None:
        if table is None:
            name = table_name or os.environ["MESSAGES_TABLE"]
            table = boto3.resource("dynamodb").Table(name)
        self._table = table
        self._ttl_seconds = 3600 * (
            ttl_hours
            if ttl_hours is not None
            else int(os.environ.get("HISTORY_TTL_HOURS", DEFAULT_HISTORY_TTL_HOURS))
        )
        self._id_factory = id_factory

    def append(self, *, room: str, sender: str, payload: str, sent_at_ms: int) -> StoredMessage:
        message = StoredMessage(
            message_id=self._id_factory(sent_at_ms),
            room=room,
            sender=sender,
            payload=payload,
            sent_at_ms=sent_at_ms,
        )
        self._table.put_item(
            Item={
                "room": room,
                "messageId": message.message_id,
                "sender": sender,
                "payload": payload,
                "sentAt": sent_at_ms,
                "ttl": sent_at_ms // 1000 + self._ttl_seconds,
            }
        )
        return message

    def recent(
        self, room: str, limit: int = HISTORY_LIMIT, now_s: float | None = None
    ) -> list[StoredMessage]:
        """The newest ``limit`` messages of ``room``, oldest first; messages past their
        TTL are skipped (DynamoDB deletes expired items late)."""
        now = int(now_s if now_s is not None else time.time())
        page = self._table.query(
            KeyConditionExpression=Key("room").eq(room), ScanIndexForward=False, Limit=limit
        )
        return [
            StoredMessage(
                message_id=item["messageId"],
                room=item["room"],
                sender=item["sender"],
                payload=item["payload"],
                sent_at_ms=int(item["sentAt"]),
            )
            for item in reversed(page.get("Items", []))
            if int(item.get("ttl", now)) >= now
        ]
