"""ConnectionStore: who is connected, and to which room, kept in DynamoDB.

Rooms are read through the ``room-index`` GSI (a Query, every page), never a Scan, so the
cost of a broadcast grows with the room, not with the table.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import boto3
from boto3.dynamodb.conditions import Key
from botocore.exceptions import BotoCoreError, ClientError

from chatroom.telemetry import logger

ROOM_INDEX = "room-index"
CONNECT_GRACE_MS = 30_000
"""API Gateway's longest integration timeout (29 s) and a margin: a connection younger
than this may still be in $connect, where posts answer 410 although it will open."""
BATCH_WRITE_MAX = 25
REMOVE_ATTEMPTS = 5
REMOVE_FIRST_BACKOFF_S = 0.05
REMOVE_BUDGET_S = 1.0
CONNECTION_TTL_SECONDS = 2 * 60 * 60 + 15 * 60
"""API Gateway's 2 h maximum connection duration plus a margin: rows whose $disconnect was
lost expire on their own."""


@dataclass(frozen=True)
class Connection:
    connection_id: str
    room: str
    name: str
    connected_at: int
    """Epoch milliseconds, as in ``requestContext.connectedAt``."""
    source_ip: str

    @property
    def expires_at(self) -> int:
        """The ``ttl`` attribute: epoch seconds after which DynamoDB may delete the row."""
        return self.connected_at // 1000 + CONNECTION_TTL_SECONDS


@dataclass(frozen=True)
class Member:
    """A connection as the room index lists it."""

    connection_id: str
    connected_at: int
    name: str = ""

    def may_still_be_connecting(self, now_ms: int) -> bool:
        return now_ms - self.connected_at < CONNECT_GRACE_MS


class ConnectionStore:
    """Adds, finds and removes connections; lists the members of a room."""

    def __init__(self, table_name: str | None = None, table: Any = None) -> None:
        """Pass ``table`` (a boto3 Table) in tests; handlers pass nothing and get
        the table named by ``CONNECTIONS_TABLE``."""
        if table is None:
            name = table_name or os.environ["CONNECTIONS_TABLE"]
            table = boto3.resource("dynamodb").Table(name)
        self._table = table

    def add(self, connection: Connection) -> None:
        self._table.put_item(
            Item={
                "connectionId": connection.connection_id,
                "room": connection.room,
                "name": connection.name,
                "connectedAt": connection.connected_at,
                "sourceIp": connection.source_ip,
                "ttl": connection.expires_at,
            }
        )

    def get(self, connection_id: str) -> Connection | None:
        """A strongly consistent read: a first message right after ``$connect`` must find
        the row it wrote."""
        item = self._table.get_item(Key={"connectionId": connection_id}, ConsistentRead=True).get(
            "Item"
        )
        return _connection(item) if item else None

    def remove(self, connection_id: str) -> Connection | None:
        """Delete one connection; return what was stored, or None if it was not there."""
        old = self._table.delete_item(
            Key={"connectionId": connection_id}, ReturnValues="ALL_OLD"
        ).get("Attributes")
        return _connection(old) if old else None

    def remove_many(self, connection_ids: Iterable[str]) -> int:
        """Delete connections in batches of 25, resending what DynamoDB leaves unprocessed
        with jittered backoff for at most ``REMOVE_BUDGET_S``; return how many were
        deleted. Never raises: this clean-up runs after the message was stored and
        delivered, and a row left behind answers 410 next time (or expires)."""
        ids = sorted(set(connection_ids))
        deleted = 0
        for start in range(0, len(ids), BATCH_WRITE_MAX):
            chunk = ids[start : start + BATCH_WRITE_MAX]
            deleted += self._delete_batch(chunk)
        return deleted

    def _delete_batch(self, ids: list[str]) -> int:
        name = self._table.name
        requests = [{"DeleteRequest": {"Key": {"connectionId": cid}}} for cid in ids]
        client = self._table.meta.client
        deadline = time.monotonic() + REMOVE_BUDGET_S
        for attempt in range(REMOVE_ATTEMPTS):
            try:
                answer = client.batch_write_item(RequestItems={name: requests})
            except (BotoCoreError, ClientError) as exc:
                logger.warning("removing gone connections failed", extra={"error": str(exc)})
                return len(ids) - len(requests)
            requests = answer.get("UnprocessedItems", {}).get(name, [])
            if not requests:
                return len(ids)
            pause = random.uniform(0, REMOVE_FIRST_BACKOFF_S * 2**attempt)
            if time.monotonic() + pause > deadline:
                break
            time.sleep(pause)
        logger.warning("gone connections left for later", extra={"left": len(requests)})
        return len(ids) - len(requests)

    def members(
        self, room: str, page_size: int | None = None, now_ms: int | None = None
    ) -> list[Member]:
        """The live connections in ``room``, read from the GSI page by page (``page_size``
        caps a page below DynamoDB's 1 MB). Rows past their TTL are skipped: DynamoDB
        deletes expired items late, and nobody should post to them."""
        now_s = (now_ms if now_ms is not None else int(time.time() * 1000)) // 1000
        members: list[Member] = []
        query: dict[str, Any] = {
            "IndexName": ROOM_INDEX,
            "KeyConditionExpression": Key("room").eq(room),
        }
        if page_size is not None:
            query["Limit"] = page_size
        while True:
            page = self._table.query(**query)
            members.extend(
                Member(item["connectionId"], int(item.get("connectedAt", 0)), item.get("name", ""))
                for item in page.get("Items", [])
                if not _expired(item, now_s)
            )
            if "LastEvaluatedKey" not in page:
                return members
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _expired(item: dict[str, Any], now_s: int) -> bool:
    """Past its TTL (derived from connectedAt: the index does not project ``ttl``)."""
    connected_at = item.get("connectedAt")
    return connected_at is not None and int(connected_at) // 1000 + CONNECTION_TTL_SECONDS < now_s


def _connection(item: dict[str, Any]) -> Connection:
    return Connection(
        connection_id=item["connectionId"],
        room=item["room"],
        name=item["name"],
        connected_at=int(item["connectedAt"]),
        source_ip=item.get("sourceIp", ""),
    )
