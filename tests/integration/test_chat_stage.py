"""The project's own template on the local stage, with DynamoDB Local and real clients."""

import contextlib
import json
import os
import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from tests.support.tables import local_table

pytestmark = pytest.mark.integration


def join(stage, room, name):
    return connect(f"{stage.url}?room={room}&name={name}", open_timeout=20)


def receive(ws, timeout=10):
    return json.loads(ws.recv(timeout=timeout))


def receive_type(ws, kind, timeout=10):
    """The next envelope of ``kind``, skipping others (presence lines arrive too)."""
    deadline = time.monotonic() + timeout
    while True:
        envelope = receive(ws, max(0.1, deadline - time.monotonic()))
        if envelope.get("type") == kind:
            return envelope


def presence_until(ws, done, timeout=15):
    """Presence envelopes until one satisfies ``done``; that one is returned."""
    deadline = time.monotonic() + timeout
    while True:
        envelope = receive_type(ws, "presence", max(0.1, deadline - time.monotonic()))
        if done(envelope):
            return envelope


def sees(*names):
    """The room's member list, as the envelope gives it, is exactly ``names``."""
    return lambda envelope: envelope["members"]["names"] == sorted(names)


def assert_silent(ws, seconds=0.7):
    with pytest.raises(TimeoutError):
        ws.recv(timeout=seconds)


def put_ghost(stage, room, connected_ago_ms, **extra):
    """A row named "ghost" with no live connection behind it; the table is returned."""
    endpoint = stage.stage.config.endpoints["AWS_ENDPOINT_URL_DYNAMODB"]
    table = local_table(endpoint, "ConnectionsTable")
    table.put_item(
        Item={"connectionId": f"ghost-{room}", "room": room, "name": "ghost",
              "connectedAt": int(time.time() * 1000) - connected_ago_ms, **extra}
    )  # fmt: skip
    return table


def send(ws, message):
    ws.send(json.dumps({"action": "sendMessage", "message": message}))


def test_two_clients_in_a_room_exchange_messages_both_ways(chat_stage, room):
    with join(chat_stage, room, "alice") as alice, join(chat_stage, room, "bob") as bob:
        presence_until(alice, sees("alice", "bob"))
        send(alice, "hi bob")
        got = receive_type(bob, "newMessage")
        assert (got["payload"], got["sender"], got["room"]) == ("hi bob", "alice", room)
        send(bob, "hi alice")
        assert receive_type(alice, "newMessage")["payload"] == "hi alice"


def test_the_sender_gets_an_ack_and_not_its_own_message(chat_stage, room):
    with join(chat_stage, room, "alice") as alice, join(chat_stage, room, "bob") as bob:
        presence_until(alice, sees("alice", "bob"))
        send(alice, "hello")
        delivered = receive_type(bob, "newMessage")
        assert receive_type(alice, "ack")["id"] == delivered["id"]
        assert_silent(alice)


def test_a_client_in_another_room_receives_nothing(chat_stage, room):
    with join(chat_stage, room, "alice") as alice, join(chat_stage, room + "x", "eve") as eve:
        presence_until(eve, sees("eve"))
        send(alice, "secret")
        assert_silent(eve)


def test_a_joiner_hears_its_own_join_with_the_member_list(chat_stage, room):
    with join(chat_stage, room, "alice") as alice:
        envelope = presence_until(alice, sees("alice"))
    assert (envelope["room"], envelope["joined"], envelope["left"]) == (room, ["alice"], [])
    assert envelope["members"]["count"] == 1


def test_members_hear_joins_and_leaves(chat_stage, room):
    with join(chat_stage, room, "alice") as alice:
        presence_until(alice, sees("alice"))
        with join(chat_stage, room, "bob"):
            joined = presence_until(alice, sees("alice", "bob"))
        left = presence_until(alice, sees("alice"))
    assert joined["joined"] == ["bob"]
    assert (left["left"], left["members"]["count"]) == (["bob"], 1)


def test_a_row_expired_by_ttl_is_announced_as_left(chat_stage, room):
    # GIVEN a member whose row expired (its $disconnect was lost); it joined just now, so
    # the 410 its presence post gets is taken for a $connect in progress, not a ghost
    with join(chat_stage, room, "alice") as alice:
        presence_until(alice, sees("alice"))
        put_ghost(chat_stage, room, connected_ago_ms=0, ttl=int(time.time()) - 1)
        presence_until(alice, sees("alice", "ghost"))
        # WHEN the stage's TTL sweep runs
        assert chat_stage.stage.ttl_sweeper.sweep().deleted >= 1
        # THEN the room hears that the ghost left
        assert presence_until(alice, sees("alice"))["left"] == ["ghost"]


def test_a_ghost_row_that_answers_410_is_removed_and_announced_as_left(chat_stage, room):
    # GIVEN a row whose connection is long gone (connected an hour ago, no $disconnect)
    with join(chat_stage, room, "alice") as alice:
        presence_until(alice, sees("alice"))
        table = put_ghost(chat_stage, room, connected_ago_ms=3_600_000)
        # THEN the presence post to it answers 410, its row goes, and the room hears it
        assert presence_until(alice, sees("alice"))["left"] == ["ghost"]
        assert "Item" not in table.get_item(Key={"connectionId": f"ghost-{room}"})


def test_a_late_joiner_gets_the_history(chat_stage, room):
    # Messages of one connection are invoked concurrently, as on AWS: bob's receipt of
    # each message (stored before it is sent) fixes their order in the history.
    with join(chat_stage, room, "alice") as alice, join(chat_stage, room, "bob") as bob:
        for text in ("one", "two"):
            send(alice, text)
            assert receive_type(bob, "newMessage")["payload"] == text
        with join(chat_stage, room, "carol") as carol:
            carol.send(json.dumps({"action": "history"}))
            history = receive_type(carol, "history")
    assert [m["payload"] for m in history["messages"]] == ["one", "two"]
    assert history["room"] == room


def test_an_unknown_action_gets_the_default_routes_error(chat_stage, room):
    with join(chat_stage, room, "alice") as alice:
        alice.send(json.dumps({"action": "dance"}))
        error = receive_type(alice, "error")
    assert error["code"] == "unknown_action"
    assert "sendMessage" in error["message"]


def test_a_body_that_is_not_json_gets_an_error(chat_stage, room):
    with join(chat_stage, room, "alice") as alice:
        alice.send("hello?")
        assert receive_type(alice, "error")["code"] == "invalid_body"


def test_a_message_over_the_apps_limit_is_refused_and_the_connection_stays(chat_stage, room):
    with join(chat_stage, room, "alice") as alice:
        send(alice, "x" * (16 * 1024 + 1))
        assert receive_type(alice, "error")["code"] == "message_too_large"
        alice.send(json.dumps({"action": "history"}))
        assert receive_type(alice, "history")["messages"] == []


def test_a_bad_room_rejects_the_handshake_with_400(chat_stage):
    with pytest.raises(InvalidStatus) as caught:
        connect(f"{chat_stage.url}?room=no%20spaces", open_timeout=20)
    assert caught.value.response.status_code == 400
    assert b"invalid_room" in caught.value.response.body


def test_a_frame_over_32_kb_closes_the_connection_with_1009(chat_stage, room):
    with join(chat_stage, room, "alice") as alice:
        alice.send("x" * (32 * 1024 + 1))
        with pytest.raises(ConnectionClosed) as caught:
            alice.recv(timeout=10)
    assert caught.value.rcvd.code == 1009


def send_then_read(client, message) -> None:
    """The stage's close may arrive while the client is still sending, or after."""
    client.send(message)
    client.recv(timeout=10)


def test_a_message_over_128_kb_in_small_frames_closes_with_1009(chat_stage, room):
    with join(chat_stage, room, "alice") as alice, pytest.raises(ConnectionClosed) as caught:
        send_then_read(alice, iter(["x" * 30000] * 5))
    assert caught.value.rcvd.code == 1009


def test_a_fragmented_message_under_128_kb_is_delivered_whole(chat_stage, room):
    with join(chat_stage, room, "alice") as alice:
        body = json.dumps({"action": "sendMessage", "message": "y" * 50000})
        alice.send(iter([body[i : i + 20000] for i in range(0, len(body), 20000)]))
        assert receive_type(alice, "error")["code"] == "message_too_large"


def test_an_abrupt_close_runs_disconnect_and_the_room_hears_the_leave(chat_stage, room):
    with join(chat_stage, room, "alice") as alice, join(chat_stage, room, "bob") as bob:
        presence_until(alice, sees("alice", "bob"))
        bob.socket.shutdown(socket.SHUT_RDWR)  # no close frame: the TCP connection drops
        bob.socket.close()
        assert presence_until(alice, sees("alice"))["left"] == ["bob"]


def management_client(stage):
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=f"{stage.http}/{stage.stage.stage_name}",
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )


def test_connections_get_post_delete_and_410_after_close(chat_stage, room):
    api = management_client(chat_stage)
    before = {c.connection_id for c in chat_stage.stage.registry}
    with join(chat_stage, room, "alice") as alice:
        [connection_id] = {c.connection_id for c in chat_stage.stage.registry} - before
        described = api.get_connection(ConnectionId=connection_id)
        assert described["Identity"]["SourceIp"] == "127.0.0.1"
        assert described["ConnectedAt"] <= described["LastActiveAt"]
        api.post_to_connection(ConnectionId=connection_id, Data=b'{"type":"ping"}')
        assert receive(alice) == {"type": "ping"}
        api.delete_connection(ConnectionId=connection_id)
        with pytest.raises(ConnectionClosed):
            alice.recv(timeout=10)
    with pytest.raises(api.exceptions.GoneException):
        api.post_to_connection(ConnectionId=connection_id, Data=b"late")
    with pytest.raises(api.exceptions.GoneException):
        api.get_connection(ConnectionId=connection_id)


def test_a_post_over_128_kb_is_refused_with_413(chat_stage, room):
    api = management_client(chat_stage)
    before = {c.connection_id for c in chat_stage.stage.registry}
    with join(chat_stage, room, "alice"):
        [connection_id] = {c.connection_id for c in chat_stage.stage.registry} - before
        with pytest.raises(api.exceptions.PayloadTooLargeException):
            api.post_to_connection(ConnectionId=connection_id, Data=b"x" * (128 * 1024 + 1))


def test_a_killed_worker_is_replaced(chat_stage, room):
    with join(chat_stage, room, "alice") as alice, join(chat_stage, room, "bob") as bob:
        presence_until(alice, sees("alice", "bob"))
        for pid in chat_stage.worker_pids("SendMessageFunction"):
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)
        send(alice, "after the crash")
        assert receive_type(bob, "newMessage", timeout=30)["payload"] == "after the crash"


def test_clients_joining_at_once_all_stay_in_the_room(chat_stage, room):
    # Joins overlap: presence posts reach members still in their own $connect, which
    # answer 410. Those must not be removed from the room.
    with ThreadPoolExecutor(20) as pool, contextlib.ExitStack() as stack:
        connecting = list(pool.map(lambda i: join(chat_stage, room, f"c{i}"), range(20)))
        clients = [stack.enter_context(client) for client in connecting]
        send(clients[0], "everyone?")
        for client in clients[1:]:
            assert receive_type(client, "newMessage", timeout=20)["payload"] == "everyone?"
