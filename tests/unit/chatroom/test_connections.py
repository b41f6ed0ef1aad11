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
    from_row,
    plain_client,
    row,
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
    ConnectionStore(table=chat_tables.connections, raw_client=client).members(
        "lobby", with_names=False
    )
    [(operation, query)] = client.calls
    assert operation == "query" and query["IndexName"] == ROOM_INDEX
    assert query["ProjectionExpression"] == RECIPIENT_ATTRIBUTES


def test_rows_and_members_read_without_names_come_through_the_plain_client_not_the_resource(
    chat_tables,
):
    table = RecordingTable(chat_tables.connections)
    store = ConnectionStore(table=table)
    store.add(connection("c1"))
    assert store.get("c1") == connection("c1")
    assert store.members("lobby", with_names=False) == [Member("c1", NOW_MS)]
    assert store.remove("c1") == connection("c1")
    assert table.calls == []


def test_members_read_without_names_read_every_page_of_a_large_room(chat_tables):
    client = RecordingTable(plain_client(chat_tables.connections))
    store = ConnectionStore(table=chat_tables.connections, raw_client=client)
    for index in range(35):
        store.add(connection(f"c{index:02d}"))
    members = store.members("lobby", page_size=10, with_names=False)
    assert sorted(m.connection_id for m in members) == [f"c{index:02d}" for index in range(35)]
    assert [name for name, _ in client.calls[35:]] == ["query"] * 4


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
    client = RecordingTable(plain_client(chat_tables.connections))
    ConnectionStore(table=chat_tables.connections, raw_client=client).get("c1")
    [(operation, request)] = client.calls
    assert operation == "get_item" and request["ConsistentRead"] is True
    assert request["Key"] == {"connectionId": {"S": "c1"}}


def test_the_row_holds_strings_as_s_and_numbers_as_n():
    assert row(connection("c1")) == {
        "connectionId": {"S": "c1"},
        "room": {"S": "lobby"},
        "name": {"S": "alice"},
        "connectedAt": {"N": str(NOW_MS)},
        "sourceIp": {"S": "1.2.3.4"},
        "senderKey": {"S": "ip:1.2.3.4:alice"},
        "ttl": {"N": str(NOW_MS // 1000 + CONNECTION_TTL_SECONDS)},
    }


def test_the_row_of_a_verified_user_holds_the_subject_and_the_users_sender_key():
    verified = Connection("c1", "lobby", "alice", NOW_MS, "1.2.3.4", verified_subject="u-1")
    item = row(verified)
    assert item["subject"] == {"S": "u-1"}
    assert item["senderKey"] == {"S": "user:u-1"}


def test_the_row_of_a_guest_has_no_subject():
    assert "subject" not in row(connection("c1"))


@pytest.mark.parametrize("subject", [None, "u-1"])
def test_the_row_is_the_item_the_tables_resource_writes_and_reads_back(chat_tables, subject):
    # The item boto3's resource writes from the same Python values: the raw row is the
    # same item, read back the same way by both.
    added = Connection("c1", "lobby", "alice", NOW_MS, "1.2.3.4", verified_subject=subject)
    ConnectionStore(table=chat_tables.connections).add(added)
    stored = chat_tables.connections.get_item(Key={"connectionId": "c1"})["Item"]
    assert stored == {
        "connectionId": "c1",
        "room": "lobby",
        "name": "alice",
        "connectedAt": NOW_MS,
        "sourceIp": "1.2.3.4",
        "senderKey": added.sender_key,
        "ttl": added.expires_at,
        **({"subject": subject} if subject else {}),
    }
    raw = plain_client(chat_tables.connections).get_item(
        TableName=chat_tables.connections.name, Key={"connectionId": {"S": "c1"}}
    )["Item"]
    assert raw == row(added)
    assert from_row(raw) == added


def test_a_row_written_without_an_address_reads_as_an_empty_address(chat_tables):
    chat_tables.connections.put_item(
        Item={"connectionId": "old", "room": "lobby", "name": "x", "connectedAt": 5}
    )
    assert ConnectionStore(table=chat_tables.connections).get("old") == Connection(
        "old", "lobby", "x", 5, ""
    )


def test_add_refuses_as_the_table_does(chat_tables):
    from botocore.exceptions import ClientError

    store = ConnectionStore(table=chat_tables.connections)
    chat_tables.connections.meta.client.delete_table(TableName=chat_tables.connections.name)
    with pytest.raises(ClientError) as raised:
        store.add(connection("c1"))
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"


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
