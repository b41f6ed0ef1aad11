"""The delivery guarantee under faults injected at each point of the send path.

An acknowledged message reaches every member connected when it was stored, or its sender
is told (``delivery_failed``), whatever fails after the store. The handlers run against
moto (DynamoDB, SQS, the Management API over real HTTP); the backstop's chain (stream,
DeliveryWatchFunction, the fan-out queue, FanOutFunction) runs as ``settle`` drives it.
A member may receive a message twice (a retry, the backstop): pages show it once, by id,
so each test counts the ids each member would show.
"""

from __future__ import annotations

import json
from concurrent.futures import Future

import boto3
import pytest
from botocore.exceptions import BotoCoreError, ClientError

from chatroom.connections import ConnectionStore
from chatroom.messages import MessageStore
from tests.support.chat_handlers import (
    SENDER,
    invoke,
    join,
    message_event,
    received,
    settle,
)
from tests.support.faulty_connections import Fault, FaultyConnections
from tests.support.handlers import LambdaContextStub, load_handler

OTHERS = ("bob", "carol")


class WorkerKilled(BaseException):
    """The invocation dies here (a crash, a timeout): nothing after it runs, nothing
    catches it, as when Lambda stops the runtime."""


@pytest.fixture
def chat(chat_tables, moto_server_url, monkeypatch):
    """A room of three (alice sends) with the template's fan-out queue, in moto."""
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="fan-out")["QueueUrl"]
    monkeypatch.setenv("CONNECTIONS_TABLE", chat_tables.names["ConnectionsTable"])
    monkeypatch.setenv("MESSAGES_TABLE", chat_tables.names["MessagesTable"])
    monkeypatch.setenv("AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI", moto_server_url)
    monkeypatch.setenv("FANOUT_QUEUE_URL", url)
    chat_tables.store = ConnectionStore(table=chat_tables.connections)
    chat_tables.sqs, chat_tables.queue_url = sqs, url
    join(chat_tables, SENDER, name="alice")
    for name in OTHERS:
        join(chat_tables, name)
    return chat_tables


@pytest.fixture
def faulty(moto_server_url, monkeypatch):
    """The Management API with faults: posts go through it to moto."""
    connections = FaultyConnections(moto_server_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI", connections.start())
    yield connections
    connections.stop()


def send(text: str = "hello", client_id: str = "c-1") -> dict:
    body = {"action": "sendMessage", "message": text, "clientId": client_id}
    return invoke("send_message", message_event("sendMessage", body))


def shown(connection_id: str) -> dict[str, int]:
    """Each message id the member's page would show, and how often it arrived."""
    counts: dict[str, int] = {}
    for envelope in received(connection_id):
        if envelope["type"] == "newMessage":
            counts[envelope["id"]] = counts.get(envelope["id"], 0) + 1
    return counts


def told(client_id: str = "c-1") -> bool:
    return any(
        e.get("code") == "delivery_failed" and e.get("clientId") == client_id
        for e in received(SENDER)
    )


def stored_ids(chat) -> list[str]:
    return [
        item["messageId"]
        for item in chat.messages.scan(ConsistentRead=True)["Items"]
        if "delivery" in item
    ]


def assert_the_promise_is_kept(chat, client_id: str = "c-1") -> None:
    """Every member has the one stored message, or the sender was told."""
    [message_id] = stored_ids(chat)
    reached = all(message_id in shown(member) for member in OTHERS)
    assert reached or told(client_id), {m: shown(m) for m in OTHERS}


def kill_after(monkeypatch, target, name: str) -> None:
    """Let ``target.name`` run, then kill the invocation."""
    real = getattr(target, name)

    def then_die(self, *args, **kwargs):
        real(self, *args, **kwargs)
        raise WorkerKilled(name)

    monkeypatch.setattr(target, name, then_die)


def test_a_worker_killed_right_after_the_store_is_delivered_by_the_backstop(chat, monkeypatch):
    kill_after(monkeypatch, MessageStore, "append")
    with pytest.raises(WorkerKilled):
        send()
    assert received(SENDER) == [] and all(shown(m) == {} for m in OTHERS)
    settle(chat)
    [message_id] = stored_ids(chat)
    assert all(shown(m) == {message_id: 1} for m in OTHERS)


def test_a_worker_killed_after_the_ack_is_delivered_by_the_backstop(chat, monkeypatch):
    def killed(self, room, *args, **kwargs):
        raise WorkerKilled("the room's Query")

    with monkeypatch.context() as fault:
        fault.setattr(ConnectionStore, "members", killed)
        with pytest.raises(WorkerKilled):
            send()
    [ack] = received(SENDER)
    assert ack["type"] == "ack"
    settle(chat)
    assert all(shown(m) == {ack["id"]: 1} for m in OTHERS)


def test_a_worker_killed_mid_fan_out_reaches_the_rest_by_the_backstop(chat, monkeypatch):
    # The first member's post arrives; the invocation dies before the second is made.
    from chatroom.fanout.broadcast import Broadcaster

    real_post = Broadcaster.post

    def post_then_die(self, client, connection_id, *args, **kwargs):
        if connection_id in OTHERS and any(shown(m) for m in OTHERS):
            raise WorkerKilled("mid-fan-out")
        return real_post(self, client, connection_id, *args, **kwargs)

    with monkeypatch.context() as fault:
        fault.setattr(Broadcaster, "post", post_then_die)
        # Every attempt through post, one after another: the one-thread first attempts
        # would have both posts under way at once, with no point between them to die at.
        fault.setattr(Broadcaster, "_drives_sockets", lambda self, client: False)
        fault.setattr(Broadcaster, "_pool", lambda self: _InOrder())
        with pytest.raises(WorkerKilled):
            send()
    assert sum(1 for m in OTHERS if shown(m)) == 1
    settle(chat)
    [message_id] = stored_ids(chat)
    assert all(message_id in shown(m) for m in OTHERS)


def test_a_worker_killed_amid_the_first_attempts_reaches_the_rest_by_the_backstop(
    chat, monkeypatch
):
    # The one thread driving the first attempts dies as it starts carol's post (other
    # posts may be under way on their sockets): the backstop delivers to every member.
    from chatroom.fanout.broadcast import Broadcaster
    from chatroom.fanout.management_api import KeepAliveManagementApi

    real_request_bytes = KeepAliveManagementApi.request_bytes
    real_first_attempts = Broadcaster._first_attempts
    one_thread: list[int] = []

    def request_or_die(self, connection_id, data):
        if connection_id == OTHERS[1]:
            raise WorkerKilled("amid the first attempts")
        return real_request_bytes(self, connection_id, data)

    def first_attempts(self, *args, **kwargs):
        one_thread.append(1)
        return real_first_attempts(self, *args, **kwargs)

    with monkeypatch.context() as fault:
        fault.setattr(KeepAliveManagementApi, "request_bytes", request_or_die)
        fault.setattr(Broadcaster, "_first_attempts", first_attempts)
        with pytest.raises(WorkerKilled):
            send()
    assert one_thread  # the kill fell on the one-thread path, not the threads'
    settle(chat)
    [message_id] = stored_ids(chat)
    assert all(message_id in shown(m) for m in OTHERS)


class _InOrder:
    """A pool that runs its work at once in the caller's thread, so posts are made one
    after another (and the kill falls between two)."""

    def submit(self, function):
        done = Future()
        try:
            done.set_result(function())
        except BaseException as exc:  # the kill, handed to the caller as a pool does
            done.set_exception(exc)
        return done


def test_a_throttled_room_query_tells_the_sender_and_the_backstop_delivers(chat, monkeypatch):
    def throttled(self, room, *args, **kwargs):
        raise ClientError(
            {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}},
            "Query",
        )

    with monkeypatch.context() as fault:
        fault.setattr(ConnectionStore, "members", throttled)
        assert send()["statusCode"] == 502
    assert [e["type"] for e in received(SENDER)] == ["ack", "error"] and told()
    settle(chat)
    [message_id] = stored_ids(chat)
    assert all(shown(m) == {message_id: 1} for m in OTHERS)


def test_a_retry_of_a_message_not_handed_off_delivers_it_under_the_same_id(chat, monkeypatch):
    # GIVEN a message stored and acked whose fan-out never happened (reproduced in the
    # issue: a throttled Query; the retry was answered duplicate and delivered to no one)
    def throttled(self, room, *args, **kwargs):
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": ""}}, "Query")

    with monkeypatch.context() as fault:
        fault.setattr(ConnectionStore, "members", throttled)
        send()
    [ack, _] = received(SENDER)
    # WHEN the sender retries it (its page shows Retry)
    assert send()["statusCode"] == 200
    # THEN it is acknowledged as the same message and reaches everyone under that id
    again = received(SENDER)[-1]
    assert (again["type"], again["id"], again["duplicate"]) == ("ack", ack["id"], True)
    assert all(shown(m) == {ack["id"]: 1} for m in OTHERS)
    # AND the backstop, finding it handed off, sends nothing more
    settle(chat)
    assert all(shown(m) == {ack["id"]: 1} for m in OTHERS)


def test_a_retry_of_a_message_handed_off_is_only_acknowledged_again(chat):
    send()
    send()
    [message_id] = stored_ids(chat)
    assert all(shown(m) == {message_id: 1} for m in OTHERS)


@pytest.fixture(params=["refused", "silent"])
def sqs_outage(request):
    """An SQS endpoint that is down: one that refuses connections, or one that accepts
    them and never answers (each call then ends at its read timeout)."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    if request.param == "refused":
        listener.close()
    else:
        listener.listen(64)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        listener.close()


def test_sqs_down_for_the_hand_off_tells_the_sender_and_the_backstop_delivers(
    chat, faulty, sqs_outage, monkeypatch
):
    # GIVEN carol's posts fail (she must be queued) and SQS is down
    faulty.faults["carol"] = Fault(status=500)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", sqs_outage)
    # WHEN alice sends
    assert send()["statusCode"] == 502
    # THEN bob has it, and alice was acknowledged, then told it did not reach everyone
    [message_id] = stored_ids(chat)
    assert shown("bob") == {message_id: 1}
    assert [e["type"] for e in received(SENDER)] == ["ack", "error"] and told()
    assert received(SENDER)[0]["id"] == message_id
    # AND once SQS and carol are back, the backstop delivers it to her
    monkeypatch.delenv("AWS_ENDPOINT_URL_SQS")
    faulty.faults.clear()
    settle(chat)
    assert message_id in shown("carol")


def test_a_member_whose_posts_keep_failing_is_tried_three_times_then_the_sender_told(chat, faulty):
    faulty.faults["carol"] = Fault(status=500)
    assert send()["statusCode"] == 200
    settle(chat)
    assert told()
    [message_id] = stored_ids(chat)
    assert shown("bob") == {message_id: 1} and shown("carol") == {}
    item = chat.messages.get_item(Key={"room": "lobby", "messageId": message_id})["Item"]
    assert item["delivery"] == "failed"
    # AND when carol is back, the sender's Retry delivers it to her under the same id
    faulty.faults.clear()
    send()
    assert shown("carol") == {message_id: 1} and shown("bob") == {message_id: 2}


def test_a_management_api_answering_500_now_and_then_loses_nothing(chat, faulty):
    answered: dict[str, int] = {}

    def first_post_only(connection_id: str) -> bool:
        answered[connection_id] = answered.get(connection_id, 0) + 1
        return answered[connection_id] == 1

    faulty.faults["*"] = Fault(status=500)
    faulty.until = first_post_only
    assert send()["statusCode"] == 200
    settle(chat)
    [message_id] = stored_ids(chat)
    assert all(shown(m) == {message_id: 1} for m in OTHERS)
    assert not told()
    # the ack survived its own 500 (retried), and each post was made exactly twice
    [ack] = received(SENDER)
    assert (ack["type"], ack["id"]) == ("ack", message_id)
    assert sorted(faulty.posts) == sorted(
        (who, status) for who in (SENDER, *OTHERS) for status in (500, 200)
    )


def test_a_management_api_taking_2_5_s_still_delivers_inline(chat, faulty):
    faulty.faults["*"] = Fault(delay_s=2.5)
    assert send()["statusCode"] == 200
    [message_id] = stored_ids(chat)
    assert all(shown(m) == {message_id: 1} for m in OTHERS) and not told()
    assert chat.sqs.receive_message(QueueUrl=chat.queue_url).get("Messages") is None
    # the ack survived, and each post was made once: none timed out and was made again
    [ack] = received(SENDER)
    assert (ack["type"], ack["id"]) == ("ack", message_id)
    assert sorted(faulty.posts) == sorted((who, 200) for who in (SENDER, *OTHERS))


def test_an_invocation_short_of_time_queues_the_members_it_could_not_post(chat):
    # 20 s left: less than the reserve, so nobody is posted inline; all are queued.
    body = {"action": "sendMessage", "message": "late", "clientId": "c-1"}
    context = LambdaContextStub(remaining_ms=20_000)
    assert invoke("send_message", message_event("sendMessage", body), context)["statusCode"] == 200
    assert all(shown(m) == {} for m in OTHERS)
    settle(chat)
    [message_id] = stored_ids(chat)
    assert all(shown(m) == {message_id: 1} for m in OTHERS)


def test_every_stored_message_is_marked_once_handed_off(chat):
    send()
    [item] = [i for i in chat.messages.scan()["Items"] if "delivery" in i]
    assert item["delivery"] == "handedOff" and item["senderConnectionId"] == SENDER
    assert int(item["deliverBy"]) > int(item["sentAt"])


def test_the_watch_queues_no_check_for_a_message_handed_off_in_its_batch(chat):
    from tests.support.chat_handlers import messages_stream

    send()
    response = load_handler("delivery_watch").lambda_handler(
        messages_stream(chat.messages), LambdaContextStub()
    )
    assert response == {"batchItemFailures": []}
    assert chat.sqs.receive_message(QueueUrl=chat.queue_url).get("Messages") is None


def test_overdue_checks_that_cannot_be_queued_fail_their_records_for_the_stream(chat, monkeypatch):
    from tests.support.chat_handlers import messages_stream

    kill_after(monkeypatch, MessageStore, "append")
    with pytest.raises(WorkerKilled):
        send()
    monkeypatch.setenv("FANOUT_QUEUE_URL", "http://127.0.0.1:9/000000000000/down")
    batch = messages_stream(chat.messages)
    response = load_handler("delivery_watch").lambda_handler(batch, LambdaContextStub())
    assert response["batchItemFailures"] == [
        {"itemIdentifier": batch["Records"][0]["dynamodb"]["SequenceNumber"]}
    ]


def last_receive_of_check(message_id: str) -> dict:
    """The fan-out queue's record of an overdue check of ``message_id``, on its last
    receive (the queue's ``maxReceiveCount``)."""
    from chatroom.delivery import LAST_RECEIVE
    from chatroom.fanout.shards import OverdueCheck

    return {
        "messageId": "m-1",
        "receiptHandle": "r",
        "body": OverdueCheck("lobby", message_id).body(),
        "attributes": {"ApproximateReceiveCount": str(LAST_RECEIVE)},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:1:q",
        "awsRegion": "us-east-1",
    }


def test_the_backstop_tells_the_sender_on_the_checks_last_receive(chat, monkeypatch):
    with monkeypatch.context() as fault:
        kill_after(fault, MessageStore, "append")
        with pytest.raises(WorkerKilled):
            send()
    [message_id] = stored_ids(chat)

    def throttled(self, room, *args, **kwargs):
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": ""}}, "Query")

    monkeypatch.setattr(ConnectionStore, "members", throttled)
    record = last_receive_of_check(message_id)
    response = invoke("fan_out", {"Records": [record]})
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert told()
    assert json.loads(json.dumps(received(SENDER)[-1]))["code"] == "delivery_failed"


def test_dynamodb_down_acknowledges_nothing_and_fails_the_invocation(chat, monkeypatch):
    # DynamoDB unreachable (DynamoDB Local killed): nothing can be stored, so nothing is
    # acknowledged; the invocation fails, and API Gateway's failure frame makes the page
    # show the message failed with Retry (tests/e2e/test_chat_page_sending.py).
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:9")
    with pytest.raises(BotoCoreError):
        send()
    assert received(SENDER) == [] and all(shown(m) == {} for m in OTHERS)


# --- every path: the holes the review found (issue 23) -----------------------------------


def state(chat, message_id: str) -> str:
    return chat.messages.get_item(
        Key={"room": "lobby", "messageId": message_id}, ConsistentRead=True
    )["Item"]["delivery"]


def notices(connection_id: str, client_id: str = "c-1") -> list[dict]:
    """The ``delivery_failed`` notices a connection got for ``client_id``."""
    return [
        e
        for e in received(connection_id)
        if e.get("code") == "delivery_failed" and e.get("clientId") == client_id
    ]


def history_of(connection_id: str) -> list[dict]:
    reply = invoke("history", message_event("history", {"action": "history"}, connection_id))
    return json.loads(reply["body"])["messages"]


def a_failed_message(chat, faulty) -> str:
    """alice's message, marked failed: carol's posts kept failing until she was given up on."""
    faulty.faults["carol"] = Fault(status=500)
    send()
    settle(chat)
    [message_id] = stored_ids(chat)
    assert state(chat, message_id) == "failed" and shown("carol") == {}
    faulty.faults.clear()
    return message_id


def test_a_retry_of_a_failed_message_killed_after_its_ack_is_delivered_by_the_backstop(
    chat, faulty, monkeypatch
):
    # GIVEN a message marked failed, its sender told
    message_id = a_failed_message(chat, faulty)

    # WHEN the sender retries it and the worker dies right after the retry's ack
    def killed(self, room, *args, **kwargs):
        raise WorkerKilled("the room's Query")

    with monkeypatch.context() as fault:
        fault.setattr(ConnectionStore, "members", killed)
        with pytest.raises(WorkerKilled):
            send()
    assert (received(SENDER)[-1]["type"], received(SENDER)[-1]["id"]) == ("ack", message_id)
    # THEN it is pending again, so the backstop delivers it to carol and marks it
    assert state(chat, message_id) == "pending"
    settle(chat)
    assert shown("carol") == {message_id: 1} and state(chat, message_id) == "handedOff"


def test_a_retry_of_a_failed_message_that_reaches_everyone_marks_it_handed_off(chat, faulty):
    message_id = a_failed_message(chat, faulty)
    assert send()["statusCode"] == 200
    assert shown("carol") == {message_id: 1} and state(chat, message_id) == "handedOff"


def test_a_sender_offline_when_told_finds_the_failure_in_the_history(chat, faulty):
    # GIVEN alice's page is gone (her posts answer 410) when her message fails
    faulty.faults[SENDER] = Fault(status=410)
    message_id = a_failed_message(chat, faulty)
    # WHEN she comes back on a new connection (same address, same name) and asks for the
    # history
    chat.store.remove(SENDER)
    join(chat, "alice-again", name="alice")
    [mine] = history_of("alice-again")
    # THEN her message says it failed, and carries its clientId for her Retry
    assert (mine["id"], mine["mine"], mine["delivery"], mine["clientId"]) == (
        message_id,
        True,
        "failed",
        "c-1",
    )


def test_the_history_marks_only_the_requesters_own_messages(chat):
    send()
    [theirs] = history_of("bob")
    assert "mine" not in theirs and "delivery" not in theirs
    [mine] = history_of(SENDER)
    assert (mine["mine"], mine["delivery"]) == (True, "handedOff")


def test_a_reconnected_sender_is_told_on_its_new_connection(chat, faulty):
    # GIVEN alice sent, then her page reconnected (the old connection is gone)
    faulty.faults["carol"] = Fault(status=500)
    send()
    chat.store.remove(SENDER)
    join(chat, "alice-again", name="alice")
    # WHEN carol is given up on
    settle(chat)
    [message_id] = stored_ids(chat)
    # THEN the new connection is told, naming the message
    [notice] = notices("alice-again")
    assert notice["messageId"] == message_id
    assert state(chat, message_id) == "failed"


def test_every_connection_of_the_sender_is_told(chat, faulty):
    join(chat, "alice-tab-2", name="alice")
    faulty.faults["carol"] = Fault(status=500)
    send()
    settle(chat)
    assert notices(SENDER) and notices("alice-tab-2") and not notices("bob")


def test_a_claim_that_vanishes_before_it_is_read_never_acks_an_unstored_id(chat, monkeypatch):
    # GIVEN alice's first try was stored; the claim expires between her retry's
    # transaction and the read that follows it
    send()
    real = MessageStore._claimed

    def claim_gone(self, room, sender, client_id):
        for item in chat.messages.scan(ConsistentRead=True)["Items"]:
            if item["messageId"] == "#claim":
                chat.messages.delete_item(Key={"room": item["room"], "messageId": "#claim"})
        return real(self, room, sender, client_id)

    monkeypatch.setattr(MessageStore, "_claimed", claim_gone)
    # WHEN she retries
    send()
    # THEN every id she was acked is a stored message
    acked = {e["id"] for e in received(SENDER) if e["type"] == "ack"}
    assert acked <= set(stored_ids(chat))


def test_a_signed_in_users_claims_are_theirs_not_their_display_names(chat):
    # GIVEN two signed-in users shown under the same name, in the same room
    join(chat, "alice-1", name="alice", verified_subject="sub-1")
    join(chat, "alice-2", name="alice", verified_subject="sub-2")
    # WHEN both send a message with the same clientId
    for connection_id in ("alice-1", "alice-2"):
        body = {"action": "sendMessage", "message": connection_id, "clientId": "c-9"}
        invoke("send_message", message_event("sendMessage", body, connection_id))
    # THEN both are stored and delivered
    payloads = [m["payload"] for m in history_of("bob")]
    assert sorted(payloads) == ["alice-1", "alice-2"]


def test_a_new_display_name_does_not_reset_the_rate_limit(chat, monkeypatch):
    # GIVEN a rate of 2 a minute, used up from one address under one name
    monkeypatch.setenv("MESSAGE_RATE_LIMIT", "2")
    monkeypatch.setenv("MESSAGE_RATE_WINDOW_SECONDS", "60")
    handler = load_handler("send_message")
    join(chat, "renamed", name="not-alice")  # the same address, another name

    def send_from(connection_id, text):
        body = {"action": "sendMessage", "message": text, "clientId": f"c-{text}"}
        handler.lambda_handler(
            message_event("sendMessage", body, connection_id), LambdaContextStub()
        )

    send_from(SENDER, "one")
    send_from(SENDER, "two")
    # WHEN the same address sends under a new name
    send_from("renamed", "three")
    # THEN it is refused
    assert [e["code"] for e in received("renamed") if e["type"] == "error"] == ["rate_limited"]


def test_a_shard_whose_worker_dies_on_every_receive_tells_the_sender(chat, monkeypatch):
    # GIVEN a room over the inline limit: alice's message goes to its members as a shard
    from chatroom.delivery import LAST_RECEIVE
    from chatroom.fanout.broadcast import Broadcaster
    from tests.support.chat_handlers import queue_event

    monkeypatch.setenv("INLINE_FANOUT_MAX", "1")
    assert send()["statusCode"] == 200
    [message_id] = stored_ids(chat)
    assert state(chat, message_id) == "handedOff"  # the shard is queued: handed off

    # WHEN FanOutFunction's worker dies mid-post on each of the queue's receives
    def killed(self, client, connection_id, *args, **kwargs):
        if connection_id in OTHERS:
            raise WorkerKilled("mid-shard")
        return real_post(self, client, connection_id, *args, **kwargs)

    real_post = Broadcaster.post
    monkeypatch.setattr(Broadcaster, "post", killed)
    monkeypatch.setattr(Broadcaster, "_drives_sockets", lambda self, client: False)  # all in post
    fan_out = load_handler("fan_out")
    for receive in range(1, LAST_RECEIVE + 1):
        event = queue_event(chat.sqs, chat.queue_url)
        [record] = event["Records"]
        assert record["attributes"]["ApproximateReceiveCount"] == str(receive)
        with pytest.raises(WorkerKilled):
            fan_out.lambda_handler(event, LambdaContextStub())
        chat.sqs.change_message_visibility(
            QueueUrl=chat.queue_url, ReceiptHandle=record["receiptHandle"], VisibilityTimeout=0
        )
    # THEN before the shard goes to the dead-letter queue, its sender was told, and the
    # message is marked failed (the history says so; a Retry delivers it)
    assert [n["messageId"] for n in notices(SENDER)] == [message_id]
    assert state(chat, message_id) == "failed"


def test_a_checks_last_receive_whose_worker_dies_mid_delivery_has_told_the_sender(
    chat, monkeypatch
):
    # GIVEN a message stored pending, its sender's worker dead before the ack
    with monkeypatch.context() as fault:
        kill_after(fault, MessageStore, "append")
        with pytest.raises(WorkerKilled):
            send()
    [message_id] = stored_ids(chat)
    record = last_receive_of_check(message_id)

    # WHEN FanOutFunction's worker dies on the check's last receive, reading the room
    def killed(self, room, *args, **kwargs):
        raise WorkerKilled("the room's Query")

    monkeypatch.setattr(ConnectionStore, "members", killed)
    with pytest.raises(WorkerKilled):
        invoke("fan_out", {"Records": [record]})
    # THEN the sender was told before it died (the check then goes to the dead-letter
    # queue: nobody could tell after), and the message is marked failed
    assert [n["messageId"] for n in notices(SENDER)] == [message_id]
    assert state(chat, message_id) == "failed"
