"""ConnectionStore: who is connected, and to which room, kept in DynamoDB.

Rooms are read through the ``room-index`` GSI (a Query, every page), never a Scan, so the
cost of a broadcast grows with the room, not with the table.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.session
from boto3.dynamodb.conditions import Key
from botocore.exceptions import BotoCoreError, ClientError

from chatroom import budgets, retry, senders
from chatroom.query_items import with_scalar_items_taken
from chatroom.retry import unlimited
from chatroom.telemetry import Remaining, logger

ROOM_INDEX = "room-index"
SENDER_INDEX = "sender-index"
CONNECT_GRACE_MS = 30_000
"""API Gateway's longest integration timeout (29 s) and a margin: a connection younger
than this may still be in $connect, where posts answer 410 although it will open."""
BATCH_WRITE_MAX = 25
CONNECTION_TTL_SECONDS = 2 * 60 * 60 + 15 * 60
"""API Gateway's 2 h maximum connection duration plus a margin: rows whose $disconnect was
lost expire on their own."""
RECIPIENT_ATTRIBUTES = "connectionId, connectedAt"
"""What a message's delivery needs of a member: whom to post to, and the connect time
that decides whether a refused post is a connection still in $connect."""


@dataclass(frozen=True)
class Connection:
    connection_id: str
    room: str
    name: str
    connected_at: int
    """Epoch milliseconds, as in ``requestContext.connectedAt``."""
    source_ip: str
    verified_subject: str | None = None
    """The signed-in user's id (the $connect authorizer's principalId), if any."""

    @property
    def sender_key(self) -> str:
        """Who sends from this connection (``chatroom.senders``)."""
        return senders.sender_key(
            verified_subject=self.verified_subject, source_ip=self.source_ip, name=self.name
        )

    @property
    def rate_key(self) -> str:
        """Whom the rate limit counts for this connection (``chatroom.senders``)."""
        return senders.rate_key(verified_subject=self.verified_subject, source_ip=self.source_ip)

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

    def __init__(self, table: Any, clean_up_client: Any = None, raw_client: Any = None) -> None:
        """``table`` is a boto3 Table; ``clean_up_client`` the DynamoDB client of the
        clean-up, a resource's client (it takes Python values), one attempt per call
        (``budgets.ONE_ATTEMPT``: ``retry`` decides), by default the table's own;
        ``raw_client`` a plain DynamoDB client (not a resource's: it takes and answers
        DynamoDB's own attribute values) with the table's retries, by default one made
        like the table's: a connection's row and each message's read of its room go
        through it, and boto3's resource would walk every attribute value again to turn
        it into a Python value (docs/benchmarks.md, "The chat's init and joins")."""
        self._table = table
        self._clean_up_client = clean_up_client or table.meta.client
        self._raw_client = raw_client or plain_client(table)

    def add(self, connection: Connection) -> None:
        self._raw_client.put_item(TableName=self._table.name, Item=row(connection))

    def get(self, connection_id: str) -> Connection | None:
        """A strongly consistent read: a first message right after ``$connect`` must find
        the row it wrote."""
        item = self._raw_client.get_item(
            TableName=self._table.name,
            Key={"connectionId": {"S": connection_id}},
            ConsistentRead=True,
        ).get("Item")
        return from_row(item) if item else None

    def remove(self, connection_id: str) -> Connection | None:
        """Delete one connection; return what was stored, or None if it was not there."""
        old = self._raw_client.delete_item(
            TableName=self._table.name,
            Key={"connectionId": {"S": connection_id}},
            ReturnValues="ALL_OLD",
        ).get("Attributes")
        return from_row(old) if old else None

    def remove_many(self, connection_ids: Iterable[str], remaining: Remaining = unlimited) -> int:
        """Delete connections in batches of 25, resending what DynamoDB leaves unprocessed,
        all within the ``CLEAN_UP`` budget; return how many were deleted. Never raises:
        this clean-up runs last, after the message was handed off, and a row left behind
        answers 410 next time (or expires)."""
        ids = sorted(set(connection_ids))
        name = self._table.name
        pending = [
            [
                {"DeleteRequest": {"Key": {"connectionId": cid}}}
                for cid in ids[at : at + BATCH_WRITE_MAX]
            ]
            for at in range(0, len(ids), BATCH_WRITE_MAX)
        ]
        for _ in retry.attempts(budgets.CLEAN_UP, remaining):
            left = []
            for requests in pending:
                try:
                    answer = self._clean_up_client.batch_write_item(RequestItems={name: requests})
                except (BotoCoreError, ClientError) as exc:
                    logger.warning("removing gone connections failed", extra={"error": str(exc)})
                    left.append(requests)
                    continue
                if unprocessed := answer.get("UnprocessedItems", {}).get(name):
                    left.append(unprocessed)
            pending = left
            if not pending:
                return len(ids)
        still = sum(len(requests) for requests in pending)
        logger.warning("gone connections left for later", extra={"left": still})
        return len(ids) - still

    def of_sender(self, sender_key: str) -> list[str]:
        """The connections of one sender now (``Connection.sender_key``), from the
        ``sender-index`` GSI: whom a failure notice goes to, whichever connection sent."""
        ids: list[str] = []
        query: dict[str, Any] = {
            "IndexName": SENDER_INDEX,
            "KeyConditionExpression": Key("senderKey").eq(sender_key),
        }
        while True:
            page = self._table.query(**query)
            ids.extend(item["connectionId"] for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return ids
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def members(
        self,
        room: str,
        page_size: int | None = None,
        now_ms: int | None = None,
        *,
        with_names: bool = True,
    ) -> list[Member]:
        """The live connections in ``room``, read from the GSI page by page (``page_size``
        caps a page below DynamoDB's 1 MB). Rows past their TTL are skipped: DynamoDB
        deletes expired items late, and nobody should post to them. ``with_names=False``
        reads only ``RECIPIENT_ATTRIBUTES`` (the names are shown by presence and history,
        not needed to deliver), through the plain client: every message reads its room
        this way, and boto3's resource would walk each member's attribute values again to
        turn them into Python values (docs/benchmarks.md, "The sender's side")."""
        now_s = (now_ms if now_ms is not None else int(time.time() * 1000)) // 1000
        if not with_names:
            return self._recipients(room, page_size, now_s)
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

    def _recipients(self, room: str, page_size: int | None, now_s: int) -> list[Member]:
        """``members(with_names=False)``: the same Query, its answer read as DynamoDB
        gives it (``{"S": ...}``, ``{"N": ...}``)."""
        members: list[Member] = []
        query: dict[str, Any] = {
            "TableName": self._table.name,
            "IndexName": ROOM_INDEX,
            "KeyConditionExpression": "#room = :room",
            "ExpressionAttributeNames": {"#room": "room"},
            "ExpressionAttributeValues": {":room": {"S": room}},
            "ProjectionExpression": RECIPIENT_ATTRIBUTES,
        }
        if page_size is not None:
            query["Limit"] = page_size
        oldest_ms = (now_s - CONNECTION_TTL_SECONDS) * 1000
        while True:
            page = self._raw_client.query(**query)
            for item in page.get("Items", ()):
                connected = item.get("connectedAt")
                connected_at = int(connected["N"]) if connected else 0
                if connected and connected_at < oldest_ms:
                    continue  # past its TTL (``_expired``)
                members.append(Member(item["connectionId"]["S"], connected_at))
            if "LastEvaluatedKey" not in page:
                return members
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _expired(item: dict[str, Any], now_s: int) -> bool:
    """Past its TTL (derived from connectedAt: the index does not project ``ttl``)."""
    connected_at = item.get("connectedAt")
    return connected_at is not None and int(connected_at) // 1000 + CONNECTION_TTL_SECONDS < now_s


def plain_client(table: Any) -> Any:
    """A DynamoDB client like the table's (credentials, region, endpoint, configuration)
    without boto3's resource layer, its Queries' items taken as answered
    (``chatroom.query_items``). The table's own credentials, not a new session's
    default ones: DynamoDB Local names its database by access key and region, so a client
    signing with other credentials would read the room from another database."""
    source = table.meta.client
    meta = source.meta
    session = botocore.session.Session()
    # botocore has no public getter for a client's credentials; the object is shared, so
    # credentials that refresh keep refreshing for both clients.
    session.register_component("credential_provider", _Given(source._get_credentials()))
    return with_scalar_items_taken(
        boto3.session.Session(botocore_session=session).client(
            "dynamodb",
            region_name=meta.region_name,
            endpoint_url=meta.endpoint_url,
            config=meta.config,
        )
    )


class _Given:
    """A credential provider for a botocore session that gives credentials already
    resolved (another client's)."""

    def __init__(self, credentials: Any) -> None:
        self._credentials = credentials

    def load_credentials(self) -> Any:
        return self._credentials


def row(connection: Connection) -> dict[str, dict[str, str]]:
    """A connection's row in DynamoDB's own attribute values, as boto3's resource writes
    it from Python values: strings as ``S``, numbers as ``N``; no ``subject`` without a
    verified user."""
    item = {
        "connectionId": {"S": connection.connection_id},
        "room": {"S": connection.room},
        "name": {"S": connection.name},
        "connectedAt": {"N": str(connection.connected_at)},
        "sourceIp": {"S": connection.source_ip},
        "senderKey": {"S": connection.sender_key},
        "ttl": {"N": str(connection.expires_at)},
    }
    if connection.verified_subject:
        item["subject"] = {"S": connection.verified_subject}
    return item


def from_row(item: dict[str, Any]) -> Connection:
    """The connection a row read as DynamoDB gives it holds (``row``'s inverse)."""
    source_ip = item.get("sourceIp")
    subject = item.get("subject")
    return Connection(
        connection_id=item["connectionId"]["S"],
        room=item["room"]["S"],
        name=item["name"]["S"],
        connected_at=int(item["connectedAt"]["N"]),
        source_ip=source_ip["S"] if source_ip else "",
        verified_subject=subject["S"] if subject else None,
    )
