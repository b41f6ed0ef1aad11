"""MessageStore: a room's recent history, kept in DynamoDB with a time-to-live.

A message sent with a ``clientId`` is stored together with a claim on that id, in one
transaction: a retry of the same message (its ack was lost with the connection) finds
the claim and is answered with the message first stored, never stored twice. A claim
belongs to its room and sender: the same id sent by someone else, or to another room,
is another message.

Each message is stored ``pending`` with the time its sender's invocation ends
(``deliverBy``) and is marked ``handedOff`` once every member was posted or queued, or
``failed`` once a member was given up on (its sender is told). A message still pending
after ``deliverBy`` is delivered by the backstop (``chatroom.delivery``); a retry of one
that is not handed off delivers it again, under the same id, a failed one set back to
pending with a new ``deliverBy`` first (``reopen``), so the backstop covers the retry too.

Each message keeps its sender's key (``chatroom.senders``): claims are theirs, and the
history tells them (only them) the delivery state of their own messages.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import BotoCoreError, ClientError

from chatroom import budgets, protocol, retry
from chatroom.exceptions import ClaimVanishedError
from chatroom.retry import unlimited
from chatroom.telemetry import Remaining, logger

DEFAULT_HISTORY_TTL_HOURS = 24
HISTORY_LIMIT = 50


def time_ordered_id(sent_at_ms: int, token: Callable[[int], str] = secrets.token_hex) -> str:
    """A message id that sorts by time and is unique: the history table's sort key."""
    return f"{sent_at_ms:013d}-{token(8)}"


CLAIM_SORT_KEY = "#claim"
PENDING = "pending"
HANDED_OFF = "handedOff"
FAILED = "failed"
"""The states of a message's delivery (its ``delivery`` attribute)."""


CLAIM_READS = 2
"""Transactions tried when a claim is found taken but cannot be read (it expired in
between): then the message is stored anew, never acknowledged under an id not stored."""


def claim_key(room: str, sender_key: str, client_id: str) -> str:
    """The partition of a client id's claim, per room and sender (``chatroom.senders``):
    never a room (rooms have no '#'), and one per id, so claims spread over the table.
    Rooms and client ids have no '#' either, so the sender, last, cannot make two claims
    one."""
    return f"#client#{room}#{client_id}#{sender_key}"


@dataclass(frozen=True)
class StoredMessage:
    message_id: str
    room: str
    sender: str
    payload: str
    sent_at_ms: int
    client_id: str | None = None
    sender_connection_id: str | None = None
    delivery: str | None = None
    """PENDING, HANDED_OFF or FAILED (None: stored before delivery was tracked)."""
    deliver_by_ms: int | None = None
    """When the sending invocation ends: a message still pending then is overdue."""
    sender_key: str | None = None
    """Whose it is (``chatroom.senders``; None: stored before senders had keys)."""

    @property
    def handed_off(self) -> bool:
        return self.delivery not in (PENDING, FAILED)

    def envelope(self, requester_key: str | None = None) -> protocol.Envelope:
        """The ``newMessage`` envelope; to its own sender (``requester_key``, in the
        history), with ``mine`` and its delivery state."""
        mine = requester_key is not None and requester_key == self.sender_key
        return protocol.new_message(
            message_id=self.message_id,
            room=self.room,
            sender=self.sender,
            payload=self.payload,
            sent_at_ms=self.sent_at_ms,
            client_id=self.client_id,
            delivery=(self.delivery or HANDED_OFF) if mine else None,
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
        if self.sender_connection_id is not None:
            item["senderConnectionId"] = self.sender_connection_id
        if self.delivery is not None:
            item["delivery"] = self.delivery
        if self.deliver_by_ms is not None:
            item["deliverBy"] = self.deliver_by_ms
        if self.sender_key is not None:
            item["senderKey"] = self.sender_key
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
            sender_connection_id=item.get("senderConnectionId"),
            delivery=item.get("delivery"),
            deliver_by_ms=int(item["deliverBy"]) if "deliverBy" in item else None,
            sender_key=item.get("senderKey"),
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
        table: Any,
        ttl_hours: int = DEFAULT_HISTORY_TTL_HOURS,
        id_factory: Callable[[int], str] = time_ordered_id,
        mark_client: Any = None,
    ) -> None:
        """``mark_client`` is the DynamoDB client of the marks, made after the store: a
        resource's client (it takes Python values), one attempt per call
        (``budgets.ONE_ATTEMPT``: ``retry`` decides); by default the table's own."""
        self._table = table
        self._ttl_seconds = 3600 * ttl_hours
        self._id_factory = id_factory
        self._mark_client = mark_client or table.meta.client

    def append(
        self,
        *,
        room: str,
        sender: str,
        payload: str,
        sent_at_ms: int,
        client_id: str | None = None,
        sender_connection_id: str | None = None,
        deliver_by_ms: int | None = None,
        sender_key: str | None = None,
    ) -> Appended:
        """Store a message, pending delivery until ``deliver_by_ms``; with a
        ``client_id``, at most once per id and sender (``sender_key``, by default the
        name). Raises ClaimVanishedError rather than answer with an id never stored."""
        message = StoredMessage(
            message_id=self._id_factory(sent_at_ms),
            room=room,
            sender=sender,
            payload=payload,
            sent_at_ms=sent_at_ms,
            client_id=client_id,
            sender_connection_id=sender_connection_id,
            delivery=PENDING,
            deliver_by_ms=deliver_by_ms,
            sender_key=sender_key,
        )
        ttl = sent_at_ms // 1000 + self._ttl_seconds
        if client_id is None:
            self._table.put_item(Item=message.item(ttl))
            return Appended(message)
        owner = sender_key or sender
        claim = {
            **StoredMessage(message.message_id, room, sender, "", sent_at_ms, client_id).item(ttl),
            "room": claim_key(room, owner, client_id),
            "messageId": CLAIM_SORT_KEY,
            "payload": "",  # the retry reads the message itself; the claim names it
            "messageRoom": room,
            "originalId": message.message_id,
        }
        for _ in range(CLAIM_READS):
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
                first = self._claimed(room, owner, client_id)
                if first is not None:
                    return Appended(first, duplicate=True)
                logger.warning("a claim was taken, then gone: storing the message again")
                continue
            return Appended(message)
        raise ClaimVanishedError(f"the claim of {client_id!r} was taken, then gone")

    def _claimed(self, room: str, sender_key: str, client_id: str) -> StoredMessage | None:
        """The message first stored under ``client_id`` by ``sender_key`` in ``room``,
        with its delivery state (from the claim alone if the message has expired)."""
        item = self._table.get_item(
            Key={"room": claim_key(room, sender_key, client_id), "messageId": CLAIM_SORT_KEY},
            ConsistentRead=True,
        ).get("Item")
        if item is None:
            return None
        return self.get(room, item["originalId"]) or StoredMessage.from_item(
            {**item, "room": item["messageRoom"], "messageId": item["originalId"]}
        )

    def reopen(self, room: str, message_id: str, deliver_by_ms: int, connection_id: str) -> bool:
        """Set a failed message back to pending, due by ``deliver_by_ms`` and sent from
        ``connection_id``, before its Retry is acknowledged: its stream record (a MODIFY
        to pending) puts the backstop on it again. False if it was not failed."""
        try:
            self._table.update_item(
                Key={"room": room, "messageId": message_id},
                UpdateExpression=(
                    "SET delivery = :pending, deliverBy = :by, senderConnectionId = :connection"
                ),
                ConditionExpression="delivery = :failed",
                ExpressionAttributeValues={
                    ":pending": PENDING,
                    ":failed": FAILED,
                    ":by": deliver_by_ms,
                    ":connection": connection_id,
                },
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def get(self, room: str, message_id: str) -> StoredMessage | None:
        """One message, read consistently (its delivery state must be the latest)."""
        item = self._table.get_item(
            Key={"room": room, "messageId": message_id}, ConsistentRead=True
        ).get("Item")
        return StoredMessage.from_item(item) if item else None

    def mark(
        self, room: str, message_id: str, delivery: str, remaining: Remaining = unlimited
    ) -> bool:
        """Record the message's delivery: HANDED_OFF only over PENDING (a member given up
        on stays FAILED), FAILED over anything. Within the ``MARK`` budget; False when it
        could not be written (the backstop then delivers the message again: members see
        it once, by its id)."""
        condition = "attribute_exists(room)"
        values: dict[str, Any] = {":state": delivery}
        if delivery == HANDED_OFF:
            condition += " AND delivery = :pending"
            values[":pending"] = PENDING
        problem: Exception | None = None
        for _ in retry.attempts(budgets.MARK, remaining):
            try:
                self._mark_client.update_item(
                    TableName=self._table.name,
                    Key={"room": room, "messageId": message_id},
                    UpdateExpression="SET delivery = :state",
                    ConditionExpression=condition,
                    ExpressionAttributeValues=values,
                )
                return True
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                    return True  # expired, or marked already
                problem = exc
            except BotoCoreError as exc:
                problem = exc
        logger.warning("could not mark a message's delivery", extra={"error": str(problem)})
        return False

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
