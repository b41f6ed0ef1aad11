"""Every handler with the layer, against moto's DynamoDB, SQS and Management API (its
server, over real HTTP, for the layer's signed keep-alive posts)."""

import io
import json

import pytest

from chatroom.connections import ConnectionStore
from chatroom.messages import MessageStore
from tests.support.chat_handlers import SENDER, invoke, join, message_event, received
from tests.support.events import load_event
from tests.support.handlers import LambdaContextStub, load_handler


@pytest.fixture
def chat(chat_tables, moto_server_url, monkeypatch):
    monkeypatch.setenv("CONNECTIONS_TABLE", chat_tables.names["ConnectionsTable"])
    monkeypatch.setenv("MESSAGES_TABLE", chat_tables.names["MessagesTable"])
    monkeypatch.setenv("MESSAGE_MAX_BYTES", "64")
    monkeypatch.setenv("AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI", moto_server_url)
    chat_tables.store = ConnectionStore(table=chat_tables.connections)
    return chat_tables


@pytest.mark.parametrize(
    ("folder", "event_file"),
    [
        ("connect", "connect"),
        ("send_message", "send_message"),
        ("history", "history"),
        ("default", "default"),
        ("disconnect", "disconnect"),
    ],
)
def test_each_sample_event_runs_through_its_handler(chat, folder, event_file):
    join(chat, "someone-else")
    if folder != "connect":
        invoke("connect", load_event("connect"))
    assert invoke(folder, load_event(event_file))["statusCode"] == 200


def test_connect_stores_the_connection_in_the_room_and_name_of_its_url(chat):
    invoke("connect", load_event("connect"))
    stored = chat.store.get(SENDER)
    assert (stored.room, stored.name, stored.source_ip) == ("lobby", "alice", "203.0.113.10")
    assert stored.connected_at == 1732447824000


def test_connect_without_a_query_joins_the_lobby_with_a_generated_name(chat):
    event = load_event("connect")
    del event["queryStringParameters"], event["multiValueQueryStringParameters"]
    assert invoke("connect", event)["statusCode"] == 200
    assert chat.store.get(SENDER).name.startswith("guest-")


@pytest.mark.parametrize("query", [{"room": "no spaces"}, {"name": "x" * 40}, {"name": ""}])
def test_connect_rejects_a_bad_room_or_name_with_400_and_stores_nothing(chat, query):
    event = load_event("connect")
    event["queryStringParameters"] = query
    response = invoke("connect", event)
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["type"] == "error"
    assert chat.store.get(SENDER) is None


def test_connect_stores_the_row_and_posts_nothing(chat):
    join(chat, "bob")
    assert invoke("connect", load_event("connect"))["statusCode"] == 200
    assert chat.store.get(SENDER).room == "lobby"
    assert received("bob") == []


def test_send_message_stores_it_and_delivers_it_to_the_other_members(chat):
    join(chat, SENDER, name="alice")
    join(chat, "bob")
    join(chat, "carol")
    assert invoke("send_message", load_event("send_message"))["statusCode"] == 200
    for member in ("bob", "carol"):
        [envelope] = received(member)
        assert envelope["type"] == "newMessage"
        assert (envelope["payload"], envelope["sender"], envelope["room"]) == (
            "Hello world",
            "alice",
            "lobby",
        )
    stored = [item for item in chat.messages.scan()["Items"] if not item["room"].startswith("#")]
    assert len(stored) == 1  # (rooms have no '#': those are the sender's rate counters)


def test_the_room_is_read_only_once_the_message_is_stored(chat, monkeypatch):
    # GIVEN stores that note the order of the message's store and the room's read
    # (a member whose $connect lands before the store is promised the message)
    steps = []
    read_room, store = ConnectionStore.members, MessageStore.append

    def members(self, *args, **kwargs):
        steps.append("room read")
        return read_room(self, *args, **kwargs)

    def append(self, **kwargs):
        stored = store(self, **kwargs)
        steps.append("stored")
        return stored

    monkeypatch.setattr(ConnectionStore, "members", members)
    monkeypatch.setattr(MessageStore, "append", append)
    join(chat, SENDER, name="alice")
    join(chat, "bob")
    # WHEN alice sends, THEN the room is read after the store, and bob has the message
    invoke("send_message", load_event("send_message"))
    assert steps == ["stored", "room read"]
    assert [e["type"] for e in received("bob")] == ["newMessage"]


def test_a_message_that_could_not_be_stored_is_sent_to_no_one(chat, monkeypatch):
    # GIVEN a store that fails
    def append(self, **kwargs):
        raise RuntimeError("the store failed")

    monkeypatch.setattr(MessageStore, "append", append)
    join(chat, SENDER, name="alice")
    join(chat, "bob")
    # WHEN alice sends, THEN the invocation fails and no one hears of the message
    with pytest.raises(RuntimeError):
        invoke("send_message", load_event("send_message"))
    assert received(SENDER) == [] and received("bob") == []


def test_send_message_acknowledges_to_the_sender_and_skips_other_rooms(chat):
    join(chat, SENDER)
    join(chat, "elsewhere", room="other")
    invoke("send_message", load_event("send_message"))
    [ack] = received(SENDER)
    assert (ack["type"], ack["clientId"], ack["duplicate"]) == ("ack", None, False)
    assert received("elsewhere") == []


def test_the_ack_carries_the_client_id_and_the_stored_id(chat):
    join(chat, SENDER)
    join(chat, "bob")
    body = {"action": "sendMessage", "message": "hi", "clientId": "c-42"}
    invoke("send_message", message_event("sendMessage", body))
    [ack] = received(SENDER)
    [delivered] = received("bob")
    assert ack["clientId"] == delivered["clientId"] == "c-42"
    assert ack["id"] == delivered["id"] and ack["sentAt"] == delivered["sentAt"]


def test_a_retried_client_id_is_acknowledged_again_and_stored_and_delivered_once(chat):
    # GIVEN a message stored, whose ack the sender never got (its connection dropped)
    join(chat, SENDER)
    join(chat, "bob")
    body = {"action": "sendMessage", "message": "once", "clientId": "c-retry"}
    invoke("send_message", message_event("sendMessage", body))
    [first] = received(SENDER)
    # WHEN the sender sends it again with the same clientId
    invoke("send_message", message_event("sendMessage", body))
    # THEN it is acknowledged with the first id, delivered once, and in the history once
    [_, again] = received(SENDER)
    assert (again["id"], again["duplicate"]) == (first["id"], True)
    assert [m["payload"] for m in received("bob")] == ["once"]
    history = invoke("history", message_event("history", {"action": "history"}))
    assert [m["payload"] for m in json.loads(history["body"])["messages"]] == ["once"]


def test_a_sender_over_its_rate_is_told_and_nothing_is_stored_and_others_go_on(chat, monkeypatch):
    # GIVEN a rate of 2 messages per minute
    monkeypatch.setenv("MESSAGE_RATE_LIMIT", "2")
    monkeypatch.setenv("MESSAGE_RATE_WINDOW_SECONDS", "60")
    join(chat, SENDER)
    join(chat, "bob", source_ip="5.6.7.8")  # another sender: another address
    handler = load_handler("send_message")  # one execution environment for every send

    def send(connection_id, text):
        body = {"action": "sendMessage", "message": text, "clientId": f"c-{text}"}
        event = message_event("sendMessage", body, connection_id)
        return handler.lambda_handler(event, LambdaContextStub())

    # WHEN the sender sends a third message within the minute
    for text in ("one", "two", "three"):
        send(SENDER, text)
    # THEN the third is refused as rate_limited (with its clientId) and not stored
    *_, refused = received(SENDER)
    assert (refused["code"], refused["clientId"]) == ("rate_limited", "c-three")
    history = invoke("history", message_event("history", {"action": "history"}))
    assert [m["payload"] for m in json.loads(history["body"])["messages"]] == ["one", "two"]
    # AND another member still sends
    assert send("bob", "mine")["statusCode"] == 200


def test_a_reconnect_does_not_start_a_new_count(chat, monkeypatch):
    # GIVEN a rate of 2 a minute, used up by alice's first connection
    monkeypatch.setenv("MESSAGE_RATE_LIMIT", "2")
    monkeypatch.setenv("MESSAGE_RATE_WINDOW_SECONDS", "60")
    handler = load_handler("send_message")
    join(chat, SENDER, name="alice")
    join(chat, "alice-again", name="alice")  # her reconnect: same address, same name

    def send(connection_id, text):
        body = {"action": "sendMessage", "message": text, "clientId": f"c-{text}"}
        return handler.lambda_handler(
            message_event("sendMessage", body, connection_id), LambdaContextStub()
        )

    send(SENDER, "one")
    send(SENDER, "two")
    # WHEN she sends from her new connection
    send("alice-again", "three")
    # THEN it is refused: the count is hers, not her connection's
    [refused] = [m for m in received("alice-again") if m["type"] == "error"]
    assert refused["code"] == "rate_limited"


def test_a_client_id_sent_by_someone_else_in_another_room_is_another_message(chat):
    # GIVEN alice's message with clientId c-same in the lobby
    join(chat, SENDER, room="lobby")
    join(chat, "carol", room="kitchen", name="carol")
    join(chat, "dave", room="kitchen", name="dave")
    body = {"action": "sendMessage", "message": "from alice", "clientId": "c-same"}
    invoke("send_message", message_event("sendMessage", body))
    # WHEN carol sends the same clientId in her room
    mine = {"action": "sendMessage", "message": "from carol", "clientId": "c-same"}
    invoke("send_message", message_event("sendMessage", mine, "carol"))
    # THEN hers is stored and delivered, and acknowledged as new, with her own id
    [ack] = received("carol")
    [alice_ack] = received(SENDER)
    assert ack["duplicate"] is False and ack["id"] != alice_ack["id"]
    assert [m["payload"] for m in received("dave")] == ["from carol"]


def test_a_refused_message_names_its_client_id(chat):
    join(chat, SENDER)
    body = {"action": "sendMessage", "message": "", "clientId": "c-empty"}
    invoke("send_message", message_event("sendMessage", body))
    [error] = received(SENDER)
    assert (error["code"], error["clientId"]) == ("empty_message", "c-empty")


def test_a_client_id_that_breaks_the_rule_is_refused_and_nothing_stored(chat):
    join(chat, SENDER)
    body = {"action": "sendMessage", "message": "hi", "clientId": "has space"}
    response = invoke("send_message", message_event("sendMessage", body))
    assert response["statusCode"] == 400
    [error] = received(SENDER)
    assert error["code"] == "invalid_client_id"
    history = invoke("history", message_event("history", {"action": "history"}))
    assert json.loads(history["body"])["messages"] == []


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"action": "sendMessage"}, "invalid_message"),
        ({"action": "sendMessage", "message": 7}, "invalid_message"),
        ({"action": "sendMessage", "message": ""}, "empty_message"),
        ({"action": "sendMessage", "message": "x" * 65}, "message_too_large"),
        ('{"action": "sendMessage", "message": "\\ud800"}', "invalid_message"),
    ],
)
def test_send_message_answers_each_bad_input_with_an_error_and_stores_nothing(chat, body, code):
    join(chat, SENDER)
    join(chat, "bob")
    response = invoke("send_message", message_event("sendMessage", body))
    assert response["statusCode"] == 400
    [error] = received(SENDER)
    assert (error["type"], error["code"]) == ("error", code)
    assert received("bob") == []
    assert chat.messages.scan()["Count"] == 0
    assert chat.store.get(SENDER) is not None


def test_a_message_whose_envelope_would_pass_128_kb_is_refused_and_not_stored(chat, monkeypatch):
    # GIVEN the largest MessageMaxBytes the template allows
    monkeypatch.setenv("MESSAGE_MAX_BYTES", "30000")
    join(chat, SENDER)
    join(chat, "bob")
    # WHEN 30,000 control characters are sent (180 KB once escaped in the envelope)
    body = {"action": "sendMessage", "message": "\x01" * 30_000}
    response = invoke("send_message", message_event("sendMessage", body))
    # THEN the sender is told, and nothing is stored or delivered
    assert response["statusCode"] == 400
    [error] = received(SENDER)
    assert error["code"] == "message_too_large"
    assert received("bob") == [] and chat.messages.scan()["Count"] == 0


def test_send_message_from_a_connection_not_in_a_room_is_told_to_reconnect(chat):
    invoke("send_message", load_event("send_message"))
    assert received(SENDER)[0]["code"] == "not_joined"


def test_history_answers_the_rooms_newest_messages_oldest_first(chat):
    join(chat, SENDER)
    for text in ("one", "two", "three"):
        invoke(
            "send_message", message_event("sendMessage", {"action": "sendMessage", "message": text})
        )
    response = invoke("history", load_event("history"))
    reply = json.loads(response["body"])
    assert reply["type"] == "history" and reply["room"] == "lobby"
    assert [m["payload"] for m in reply["messages"]] == ["one", "two", "three"]


def test_default_names_the_unknown_action_and_the_known_ones(chat):
    reply = json.loads(invoke("default", load_event("default"))["body"])
    assert reply["code"] == "unknown_action"
    assert '"shout"' in reply["message"] and "sendMessage" in reply["message"]


def test_default_answers_a_body_that_is_not_json(chat):
    reply = json.loads(invoke("default", message_event("$default", "hello?"))["body"])
    assert reply == {
        "type": "error",
        "code": "invalid_body",
        "message": "the message must be a JSON object",
    }


def test_disconnect_removes_the_row_and_posts_nothing(chat):
    join(chat, SENDER, name="alice")
    join(chat, "bob")
    assert invoke("disconnect", load_event("disconnect"))["statusCode"] == 200
    assert chat.store.get(SENDER) is None
    assert received("bob") == []


def test_disconnect_of_an_unknown_connection_is_fine(chat):
    join(chat, "bob")
    assert invoke("disconnect", load_event("disconnect"))["statusCode"] == 200
    assert received("bob") == []


def test_sample_events_parse_with_powertools_parser_models():
    from aws_lambda_powertools.utilities.parser.models import (
        APIGatewayWebSocketConnectEventModel,
        APIGatewayWebSocketDisconnectEventModel,
        APIGatewayWebSocketMessageEventModel,
    )

    APIGatewayWebSocketConnectEventModel.model_validate(load_event("connect"))
    APIGatewayWebSocketDisconnectEventModel.model_validate(load_event("disconnect"))
    for name in ("send_message", "history", "default"):
        APIGatewayWebSocketMessageEventModel.model_validate(load_event(name))


@pytest.fixture
def log_output():
    """What the layer's Powertools logger writes (its handler is bound at import time)."""
    from chatroom.telemetry import logger

    handler = logger.registered_handler
    stream = io.StringIO()
    previous = handler.setStream(stream)
    yield stream
    handler.setStream(previous)


def test_logs_are_json_with_the_request_id_connection_and_room(chat, log_output):
    join(chat, SENDER)
    join(chat, "bob")
    invoke("send_message", load_event("send_message"))
    lines = [json.loads(line) for line in log_output.getvalue().splitlines()]
    [fanout] = [line for line in lines if line["message"] == "fan-out done"]
    assert fanout["correlation_id"] == "BsL9yFvxIAMFR3Q="
    assert fanout["connection_id"] == SENDER
    assert fanout["room"] == "lobby"
    assert (fanout["recipients"], fanout["delivered"]) == (1, 1)


def test_metrics_are_emitted_as_emf(chat, capsys):
    join(chat, SENDER)
    join(chat, "bob")
    invoke("send_message", load_event("send_message"))
    [emf] = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    names = {m["Name"] for m in emf["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert {"Messages", "Deliveries", "FanOutDuration"} <= names
    assert emf["Messages"] == [1.0]


def test_history_says_who_is_in_the_room(chat):
    join(chat, SENDER, name="alice")
    join(chat, "bob")
    join(chat, "elsewhere", room="other")
    reply = json.loads(invoke("history", load_event("history"))["body"])
    assert reply["members"]["names"] == ["alice", "bob"]
    assert reply["members"]["count"] == 2


# --- presence, from the connections table's stream ------------------------------------


@pytest.fixture
def presence(chat, monkeypatch):
    """The presence handler, posting to moto's Management API like the others."""
    monkeypatch.setenv(
        "MANAGEMENT_API_ENDPOINT", "https://abcdef1234.execute-api.us-east-1.amazonaws.com/dev"
    )
    return chat


def test_presence_tells_each_member_who_joined_who_left_and_who_is_here(presence):
    # GIVEN alice's row is in the table and bob's and carol's are gone (the sample batch)
    join(presence, SENDER, name="alice")
    join(presence, "dave")
    # WHEN the stream batch arrives
    response = invoke("presence", load_event("presence_stream"))
    # THEN one envelope reaches every member, the joiner included
    assert response == {"batchItemFailures": []}
    for member in (SENDER, "dave"):
        [envelope] = received(member)
        assert envelope["type"] == "presence"
        assert (envelope["room"], envelope["joined"], envelope["left"]) == (
            "lobby",
            ["alice"],
            ["bob", "carol"],
        )
        assert envelope["members"]["names"] == ["alice", "dave"]
        assert envelope["members"]["count"] == 2


def test_each_presence_change_carries_its_stream_id_the_same_when_announced_again(presence):
    # GIVEN a batch that is delivered twice (Lambda retrying from a partial failure)
    join(presence, SENDER, name="alice")
    event = load_event("presence_stream")
    sequence = [record["dynamodb"]["SequenceNumber"] for record in event["Records"]]
    invoke("presence", event)
    invoke("presence", load_event("presence_stream"))
    # THEN both announcements name each change by its record's sequence number
    first, again = received(SENDER)
    assert (first["joinedIds"], first["leftIds"]) == ([sequence[0]], sequence[1:])
    assert (again["joinedIds"], again["leftIds"]) == (first["joinedIds"], first["leftIds"])


def test_presence_sends_one_envelope_per_room(presence):
    join(presence, SENDER, name="alice")
    join(presence, "eve", room="other", name="eve")
    event = load_event("presence_stream")
    moved = event["Records"][1]["dynamodb"]["OldImage"]
    moved["room"] = {"S": "other"}
    invoke("presence", event)
    [lobby] = received(SENDER)
    [other] = received("eve")
    assert (lobby["joined"], lobby["left"]) == (["alice"], ["carol"])
    assert (other["joined"], other["left"]) == ([], ["bob"])


def test_presence_skips_a_row_without_room_or_name_and_announces_the_rest(presence):
    join(presence, SENDER, name="alice")
    event = load_event("presence_stream")
    del event["Records"][1]["dynamodb"]["OldImage"]["name"]
    assert invoke("presence", event) == {"batchItemFailures": []}
    [envelope] = received(SENDER)
    assert envelope["left"] == ["carol"]


def test_presence_ignores_updates_of_a_row(presence):
    join(presence, SENDER, name="alice")
    event = load_event("presence_stream")
    for record in event["Records"]:
        record["eventName"] = "MODIFY"
    assert invoke("presence", event) == {"batchItemFailures": []}
    assert received(SENDER) == []


def test_presence_reports_the_records_of_a_room_it_could_not_tell(presence, monkeypatch):
    # GIVEN the room index cannot be read
    handler = load_handler("presence")
    from botocore.exceptions import ClientError

    def throttled(room, page_size=None):
        raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "Query")

    monkeypatch.setattr(handler.presence._connections, "members", throttled)
    # WHEN the batch is handled
    response = handler.lambda_handler(load_event("presence_stream"), LambdaContextStub())
    # THEN every record of that room is reported, so Lambda retries from the first
    assert response == {
        "batchItemFailures": [
            {"itemIdentifier": "100000000012345678901"},
            {"itemIdentifier": "100000000012345678902"},
            {"itemIdentifier": "100000000012345678903"},
        ]
    }


def test_presence_sample_event_parses_with_powertools_parser_model():
    from aws_lambda_powertools.utilities.parser.models import DynamoDBStreamModel

    DynamoDBStreamModel.model_validate(load_event("presence_stream"))


@pytest.fixture
def sharded(chat, monkeypatch):
    """The chat with a fan-out queue in moto and rooms of more than two sharded."""
    import boto3

    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="fan-out")["QueueUrl"]
    monkeypatch.setenv("FANOUT_QUEUE_URL", url)
    monkeypatch.setenv("INLINE_FANOUT_MAX", "2")
    monkeypatch.setenv("FANOUT_SHARD_SIZE", "2")
    monkeypatch.setenv(
        "MANAGEMENT_API_ENDPOINT", "https://abcdef1234.execute-api.us-east-1.amazonaws.com/dev"
    )
    chat.sqs, chat.queue_url = sqs, url
    return chat


def shard_event(sqs, url) -> dict:
    """What Lambda would invoke FanOutFunction with: the queued shards as SQS records."""
    records = []
    while answer := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        for message in answer:
            record = load_event("fan_out_shard")["Records"][0]
            record.update(messageId=message["MessageId"], body=message["Body"])
            records.append(record)
    return {"Records": records}


def test_a_large_room_is_posted_by_the_fan_out_function_in_shards(sharded):
    # GIVEN a room of five: the sender and four others, over the inline limit of two
    join(sharded, SENDER, name="alice")
    for index in range(4):
        join(sharded, f"member-{index}")
    # WHEN alice sends, the message is stored and queued as two shards of two
    assert invoke("send_message", message_event("sendMessage", {"action": "sendMessage",
                  "message": "to many"}))["statusCode"] == 200  # fmt: skip
    assert all(received(f"member-{index}") == [] for index in range(4))
    event = shard_event(sharded.sqs, sharded.queue_url)
    assert len(event["Records"]) == 2
    # THEN the fan-out function posts both shards and reports no failure
    assert invoke("fan_out", event) == {"batchItemFailures": []}
    for index in range(4):
        [envelope] = received(f"member-{index}")
        assert (envelope["type"], envelope["payload"]) == ("newMessage", "to many")


def test_a_malformed_shard_is_a_batch_item_failure_and_the_others_go_on(sharded):
    join(sharded, "member-0")
    event = load_event("fan_out_shard")
    good = event["Records"][0]
    good["body"] = good["body"].replace("L0SM9cOFvHcCIhw=", "member-0")
    bad = {**good, "messageId": "bad-shard", "body": '{"v": 1, "room": "lobby"}'}
    event["Records"].append(bad)
    assert invoke("fan_out", event) == {"batchItemFailures": [{"itemIdentifier": "bad-shard"}]}
    [envelope] = received("member-0")
    assert envelope["payload"] == "hello, room"


def test_the_sender_is_told_when_the_room_cannot_be_queued_and_the_message_is_kept(
    sharded, monkeypatch
):
    # GIVEN the fan-out queue is gone
    sharded.sqs.delete_queue(QueueUrl=sharded.queue_url)
    join(sharded, SENDER, name="alice")
    for index in range(3):
        join(sharded, f"member-{index}")
    # WHEN alice sends to the room
    response = invoke("send_message", message_event("sendMessage", {"action": "sendMessage",
                      "message": "kept"}))  # fmt: skip
    # THEN she hears that it was not delivered, and it is in the room's history
    assert response["statusCode"] == 502
    [ack, error] = received(SENDER)
    assert (ack["type"], error["code"]) == ("ack", "delivery_failed")
    history = invoke("history", message_event("history", {"action": "history"}))
    assert [m["payload"] for m in json.loads(history["body"])["messages"]] == ["kept"]


def test_fan_out_sample_event_parses_with_powertools_parser_model():
    from aws_lambda_powertools.utilities.parser.models import SqsModel

    SqsModel.model_validate(load_event("fan_out_shard"))
