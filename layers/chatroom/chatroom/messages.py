"""MessageStore: a room's recent history, kept in DynamoDB with a time-to-live.

A message sent with a ``clientId`` is stored together with a claim on that id, in one
transaction: a retry of the same message (its ack was lost with the connection) finds
the claim and is answered with the message first stored, never stored twice. A claim
belongs to its room and sender: the same id sent by someone else, or to another room,
is another message.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from chatroom import protocol

DEFAULT_HISTORY_TTL_HOURS = 24
HISTORY_LIMIT = 50


def time_ordered_id(sent_at_ms: int, token: Callable[[int], str] = secrets.token_hex) -> str:
    """A message id that sorts by time and is unique: the history table's sort key."""
    return f"{sent_at_ms:013d}-{token(8)}"


CLAIM_SORT_KEY = "#claim"


def claim_key(room: str, sender: str, client_id: str) -> str:
    """The partition of a client id's claim, per room and sender: never a room (rooms
    have no '#'), and one per id, so claims spread over the table. Rooms and client ids
    have no '#' either, so the sender, last, cannot make two claims one."""
    return f"#client#{room}#{client_id}#{sender}"


@dataclass(frozen=True)
class StoredMessage:
    message_id: str
    room: str
    sender: str
    payload: str
    sent_at_ms: int
    client_id: str | None = None

    def envelope(self) -> protocol.Envelope:
        return protocol.new_message(
            message_id=self.message_id,
            room=self.room,
            sender=self.sender,
            payload=self.payload,
            sent_at_ms=self.sent_at_ms,
            client_id=self.client_id,
        )

    def item(self, ttl: int) -> dict[str, Any]:
        item = {
            "room": self.room,
            "messageId": self.message_id,
            "sender": self.sender,
            "payload": self.payload,
            "sentAt": self.sent_at_ms,
            "ttl": ttl,
        }
        if self.client_id is not None:
            item["clientId"] = self.client_id
        return item

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> StoredMessage:
        return cls(
            message_id=item["messageId"],
            room=item["room"],
            sender=item["sender"],
            payload=item["payload"],
            sent_at_ms=int(item["sentAt"]),
            client_id=item.get("clientId"),
        )


@dataclass(frozen=True)
class Appended:
    message: StoredMessage
    duplicate: bool = False
    """The client id had been stored already: ``message`` is the first one, not stored
    again."""


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

    def append(
        self,
        *,
        room: str,
        sender: str,
        payload: str,
        sent_at_ms: int,
        client_id: str | None = None,
    ) -> Appended:
        """Store a message; with a ``client_id``, at most once per id."""
        message = StoredMessage(
            message_id=self._id_factory(sent_at_ms),
            room=room,
            sender=sender,
            payload=payload,
            sent_at_ms=sent_at_ms,
            client_id=client_id,
        )
        ttl = sent_at_ms // 1000 + self._ttl_seconds
        if client_id is None:
            self._table.put_item(Item=message.item(ttl))
            return Appended(message)
        claim = {
            **message.item(ttl),
            "room": claim_key(room, sender, client_id),
            "messageId": CLAIM_SORT_KEY,
            "payload": "",  # the ack of a retry needs the id and time, not the text again
            "messageRoom": room,
            "originalId": message.message_id,
        }
        try:  # the resource's client serialises the items, as Table.put_item does
            self._table.meta.client.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": self._table.name, "Item": message.item(ttl)}},
                    {
                        "Put": {
                            "TableName": self._table.name,
                            "Item": claim,
                            "ConditionExpression": "attribute_not_exists(room)",
                        }
                    },
                ]
            )
        except ClientError as exc:
            if not _claim_taken(exc):
                raise
            return Appended(self._claimed(room, sender, client_id) or message, duplicate=True)
        return Appended(message)

    def _claimed(self, room: str, sender: str, client_id: str) -> StoredMessage | None:
        """The message first stored under ``client_id`` by ``sender`` in ``room`` (its id
        and time; the claim keeps no text)."""
        item = self._table.get_item(
            Key={"room": claim_key(room, sender, client_id), "messageId": CLAIM_SORT_KEY},
            ConsistentRead=True,
        ).get("Item")
        if item is None:
            return None
        return StoredMessage.from_item(
            {**item, "room": item["messageRoom"], "messageId": item["originalId"]}
        )

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
            StoredMessage.from_item(item)
            for item in reversed(page.get("Items", []))
            if int(item.get("ttl", now)) >= now
        ]


def _claim_taken(error: ClientError) -> bool:
    """A transaction cancelled because the claim's condition failed (the message is in
    the transaction's first place, the claim in the second)."""
    if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return False
    reasons = error.response.get("CancellationReasons") or []
    if reasons:
        return any(reason.get("Code") == "ConditionalCheckFailed" for reason in reasons)
    return "ConditionalCheckFailed" in str(error)
