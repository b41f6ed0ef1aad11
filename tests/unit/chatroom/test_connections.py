import time

import boto3
import pytest

from chatroom.connections import (
    CONNECT_GRACE_MS,
    CONNECTION_TTL_SECONDS,
    RECIPIENT_ATTRIBUTES,
    ROOM_INDEX,
    Connection,
    ConnectionStore,
    Member,
    plain_client,
)

NOW_MS = int(time.time() * 1000)


def connection(connection_id: str, room: str = "lobby", name: str = "alice") -> Connection:
    return Connection(connection_id, room, name, connected_at=NOW_MS, source_ip="1.2.3.4")


class RecordingTable:
    """Passes calls to a real (moto) table and records which operations ran."""

    def __init__(self, table):
        self._table = table
        self.calls: list[tuple[str, dict]] = []

    def __getattr__(self, name):
        method = getattr(self._table, name)
        if not callable(method):  # name, meta: attributes, not operations
            return method

        def call(*args, **kwargs):
            self.calls.append((name, kwargs))
            return method(*args, **kwargs)

        return call


def test_added_connection_can_be_read_back(chat_tables):
    store = ConnectionStore(table=chat_tables.connections)
    store.add(connection("c1", room="dev", name="bob"))
    assert store.get("c1") == connection("c1", room="dev", name="bob")


def test_stored_row_expires_after_the_maximum_connection_duration_plus_a_margin(chat_tables):
    ConnectionStore(table=chat_tables.connections).add(connection("c1"))
    item = chat_tables.connections.get_item(Key={"connectionId": "c1"})["Item"]
    assert item["ttl"] == NOW_MS // 1000 + CONNECTION_TTL_SECONDS
    assert CONNECTION_TTL_SECONDS > 2 * 60 * 60


def test_unknown_connection_reads_as_none(chat_tables):
    assert ConnectionStore(table=chat_tables.connections).get("nope") is None


def test_remove_returns_what_was_stored_and_forgets_it(chat_tables):
    store = ConnectionStore(table=chat_tables.connections)
    store.add(connection("c1"))
    assert store.remove("c1") == connection("c1")
    assert store.get("c1") is None


def test_removing_an_unknown_connection_is_fine(chat_tables):
    assert ConnectionStore(table=chat_tables.connections).remove("nope") is None


def test_members_lists_only_that_rooms_connections(chat_tables):
    store = ConnectionStore(table=chat_tables.connections)
    store.add(connection("a", room="one"))
    store.add(connection("b", room="one"))
    store.add(connection("c", room="two"))
    assert sorted(m.connection_id for m in store.members("one")) == ["a", "b"]


def test_members_reads_every_page_of_a_large_room(chat_tables):
    table = RecordingTable(chat_tables.connections)
    store = ConnectionStore(table=table)
    with chat_tables.connections.batch_writer() as batch:
        for index in range(35):
            batch.put_item(Item={"connectionId": f"c{index:02d}", "room": "big", "name": "x"})
    members = store.members("big", page_size=10)
    assert sorted(m.connection_id for m in members) == [f"c{index:02d}" for index in range(35)]
    assert [name for name, _ in table.calls].count("query") == 4


def test_members_queries_the_room_index_and_never_scans(chat_tables):
    table = RecordingTable(chat_tables.connections)
    ConnectionStore(table=table).members("lobby")
    assert [name for name, _ in table.calls] == ["query"]
    assert table.calls[0][1]["IndexName"] == ROOM_INDEX


def test_remove_many_deletes_every_id_in_batches(chat_tables):
    store = ConnectionStore(table=chat_tables.connections)
    for index in range(60):
        store.add(connection(f"c{index}"))
    store.add(connection("keep"))
    assert store.remove_many([f"c{index}" for index in range(60)] + ["c1"]) == 60
    assert [m.connection_id for m in store.members("lobby")] == ["keep"]


def test_remove_many_of_nothing_writes_nothing(chat_tables):
    table = RecordingTable(chat_tables.connections)
    assert ConnectionStore(table=table).remove_many([]) == 0
    assert table.calls == []


def test_members_carry_their_connect_time_and_name_from_the_index(chat_tables):
    store = ConnectionStore(table=chat_tables.connections)
    store.add(connection("c1"))
    assert store.members("lobby") == [Member("c1", NOW_MS, "alice")]


def test_members_read_without_names_carry_their_id_and_connect_time(chat_tables):
    store = ConnectionStore(table=chat_tables.connections)
    store.add(connection("c1"))
    assert store.members("lobby", with_names=False) == [Member("c1", NOW_MS)]


def test_members_read_without_names_query_the_index_for_the_recipient_attributes_only(
    chat_tables,
):
    client = RecordingTable(plain_client(chat_tables.connections))
    ConnectionStore(table=chat_tables.connections, recipients_client=client).members(
        "lobby", with_names=False
    )
    [(operation, query)] = client.calls
    assert operation == "query" and query["IndexName"] == ROOM_INDEX
    assert query["ProjectionExpression"] == RECIPIENT_ATTRIBUTES


def test_members_read_without_names_come_through_the_plain_client_not_the_resource(
    chat_tables,
):
    table = RecordingTable(chat_tables.connections)
    store = ConnectionStore(table=table)
    store.add(connection("c1"))
    assert store.members("lobby", with_names=False) == [Member("c1", NOW_MS)]
    assert [name for name, _ in table.calls] == ["put_item"]


def test_members_read_without_names_read_every_page_of_a_large_room(chat_tables):
    client = RecordingTable(plain_client(chat_tables.connections))
    store = ConnectionStore(table=chat_tables.connections, recipients_client=client)
    for index in range(35):
        store.add(connection(f"c{index:02d}"))
    members = store.members("lobby", page_size=10, with_names=False)
    assert sorted(m.connection_id for m in members) == [f"c{index:02d}" for index in range(35)]
    assert [name for name, _ in client.calls] == ["query"] * 4


def test_a_member_read_without_names_and_without_a_connect_time_is_still_a_recipient(
    chat_tables,
):
    chat_tables.connections.put_item(Item={"connectionId": "old", "room": "lobby", "name": "x"})
    store = ConnectionStore(table=chat_tables.connections)
    assert store.members("lobby", with_names=False) == [Member("old", 0)]


def test_members_read_without_names_still_skip_a_row_past_its_ttl(chat_tables):
    store = ConnectionStore(table=chat_tables.connections)
    store.add(connection("live"))
    stale_ms = NOW_MS - (CONNECTION_TTL_SECONDS + 60) * 1000
    store.add(Connection("stale", "lobby", "bob", connected_at=stale_ms, source_ip="1.2.3.4"))
    assert [m.connection_id for m in store.members("lobby", with_names=False)] == ["live"]


def test_a_member_younger_than_the_integration_timeout_may_still_be_connecting():
    member = Member("c", connected_at=1_000_000)
    assert member.may_still_be_connecting(now_ms=1_000_000 + CONNECT_GRACE_MS - 1)
    assert not member.may_still_be_connecting(now_ms=1_000_000 + CONNECT_GRACE_MS)


def test_members_skip_a_row_past_its_ttl_that_dynamodb_has_not_deleted_yet(chat_tables):
    store = ConnectionStore(table=chat_tables.connections)
    store.add(connection("live"))
    stale_ms = NOW_MS - (CONNECTION_TTL_SECONDS + 60) * 1000
    store.add(Connection("stale", "lobby", "bob", connected_at=stale_ms, source_ip="1.2.3.4"))
    assert [m.connection_id for m in store.members("lobby")] == ["live"]


def test_get_reads_consistently(chat_tables):
    table = RecordingTable(chat_tables.connections)
    ConnectionStore(table=table).get("c1")
    assert table.calls == [("get_item", {"Key": {"connectionId": "c1"}, "ConsistentRead": True})]


def test_remove_many_resends_unprocessed_deletes_until_done(chat_tables, monkeypatch):
    store = ConnectionStore(table=chat_tables.connections)
    for index in range(3):
        store.add(connection(f"c{index}"))
    client = chat_tables.connections.meta.client
    real = client.batch_write_item
    answers = []

    def throttled_once(RequestItems):
        if not answers:  # the first answer leaves everything unprocessed
            answers.append("unprocessed")
            return {"UnprocessedItems": RequestItems}
        answers.append("done")
        return real(RequestItems=RequestItems)

    monkeypatch.setattr(client, "batch_write_item", throttled_once)
    assert store.remove_many(["c0", "c1", "c2"]) == 3
    assert answers == ["unprocessed", "done"]
    assert store.members("lobby") == []


def test_remove_many_gives_up_within_its_budget_and_never_raises(chat_tables, monkeypatch):
    store = ConnectionStore(table=chat_tables.connections)
    store.add(connection("c0"))
    client = chat_tables.connections.meta.client
    monkeypatch.setattr(
        client, "batch_write_item", lambda RequestItems: {"UnprocessedItems": RequestItems}
    )
    started = time.monotonic()
    assert store.remove_many(["c0"]) == 0
    assert time.monotonic() - started < 2.0


class _Sent(Exception):
    """Raised in place of sending: the request was signed."""


def test_the_plain_client_signs_with_the_tables_credentials_and_region():
    # DynamoDB Local names its database by access key and region: a client with another
    # session's credentials would read the room from another database.
    session = boto3.session.Session(
        aws_access_key_id="AKIDOFTHETABLE", aws_secret_access_key="s", region_name="eu-west-3"
    )
    table = session.resource("dynamodb", endpoint_url="http://127.0.0.1:9").Table("t")
    client = plain_client(table)
    signed = []

    def capture(request, **kwargs):
        signed.append(request.headers["Authorization"].decode())
        raise _Sent

    client.meta.events.register("before-send.dynamodb.Query", capture)
    with pytest.raises(_Sent):
        client.query(TableName="t", KeyConditionExpression="room = :r")
    assert "Credential=AKIDOFTHETABLE/" in signed[0]
    assert "/eu-west-3/dynamodb/" in signed[0]
    assert client.meta.endpoint_url == "http://127.0.0.1:9"
