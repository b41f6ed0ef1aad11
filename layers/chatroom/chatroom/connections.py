"""ConnectionStore: who is connected, and to which room, kept in DynamoDB.

Rooms are read through the ``room-index`` GSI (a Query, every page), never a Scan, so the
cost of a broadcast grows with the room, not with the table.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import boto3
from boto3.dynamodb.conditions import Key

ROOM_INDEX = "room-index"
CONNECT_GRACE_MS = 30_000
"""API Gateway's longest integration timeout (29 s) and a margin: a connection younger
than this may still be in $connect, where posts answer 410 although it will open."""
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
        item = self._table.get_item(Key={"connectionId": connection_id}).get("Item")
        return _connection(item) if item else None

    def remove(self, connection_id: str) -> Connection | None:
        """Delete one connection; return what was stored, or None if it was not there."""
        old = self._table.delete_item(
            Key={"connectionId": connection_id}, ReturnValues="ALL_OLD"
        ).get("Attributes")
        return _connection(old) if old else None

    def remove_many(self, connection_ids: Iterable[str]) -> int:
        """Delete connections in batches of 25; return how many were asked for."""
        ids = sorted(set(connection_ids))
        if ids:
            with self._table.batch_writer() as batch:
                for connection_id in ids:
                    batch.delete_item(Key={"connectionId": connection_id})
        return len(ids)

    def members(self, room: str, page_size: int | None = None) -> list[Member]:
        """The connections in ``room``, read from the GSI page by page (``page_size``
        caps a page below DynamoDB's 1 MB)."""
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
            )
            if "LastEvaluatedKey" not in page:
                return members
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _connection(item: dict[str, Any]) -> Connection:
    return Connection(
        connection_id=item["connectionId"],
        room=item["room"],
        name=item["name"],
        connected_at=int(item["connectedAt"]),
        source_ip=item.get("sourceIp", ""),
    )
