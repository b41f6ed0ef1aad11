"""The delivery guarantee on the local stage with a worker process really killed: the
sendMessage worker dies (``os._exit``) right after the store, before the ack, or right
after the ack of a Retry of a failed message. The backstop (DynamoDB Local's stream, the
template's filter, DeliveryWatchFunction, the fan-out queue's delay, FanOutFunction)
delivers the message to the room under its id, about the sender's deadline later; a
retry of it is acknowledged with the same id and not sent again."""

import json
import time

import pytest
from websockets.sync.client import connect

from tests.support.paths import ROOT
from tests.support.stage import chat_on_engines_of_its_own, chat_template_with

pytestmark = pytest.mark.integration

DIES_AFTER_THE_STORE = f'''"""sendMessage; its worker dies once it stored a "die". A "doomed"
message is marked failed as it is stored (a member given up on) and its worker dies; its
Retry's worker dies right after the ack. An "acked, then killed" dies right after its ack; a
"midway" once one member was posted. A "given up on" is marked failed and its sender
told (as when a member is given up on), then its worker dies."""

import importlib.util
import os

from chatroom.delivery import origin_of
from chatroom.fanout.broadcast import Broadcaster
from chatroom.messages import FAILED, MessageStore

_spec = importlib.util.spec_from_file_location(
    "real_send_message", {str(ROOT / "functions" / "send_message" / "app.py")!r}
)
_real = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_real)
_append = MessageStore.append
_dying_after_the_ack = []


def _append_then_die(self, **message):
    stored = _append(self, **message)
    if "die" in message["payload"] and not stored.duplicate:
        os._exit(137)
    if "doomed" in message["payload"]:
        if not stored.duplicate:
            self.mark(stored.message.room, stored.message.message_id, FAILED)
            os._exit(137)
        _dying_after_the_ack.append(stored.message.message_id)
    if "given up on" in message["payload"] and not stored.duplicate:
        first = stored.message
        _real.chat._backstop.tell_sender(first.room, origin_of(first))
        os._exit(137)
    if "acked, then killed" in message["payload"]:
        _dying_after_the_ack.append(stored.message.message_id)
    return stored


_post = Broadcaster.post
_posted_midway = []


def _post_or_die(self, client, connection_id, data, *args, **kwargs):
    if b"midway" in data and b'"type":"newMessage"' in data:
        if _posted_midway:
            os._exit(137)
        _posted_midway.append(connection_id)
    delivery = _post(self, client, connection_id, data, *args, **kwargs)
    if b'"type":"ack"' in data and any(f'"{{m}}"'.encode() in data for m in _dying_after_the_ack):
        os._exit(137)  # right after the ack (the room is read beside the store, before it)
    return delivery


MessageStore.append = _append_then_die
Broadcaster.post = _post_or_die
Broadcaster._drives_sockets = lambda self, client: False  # every attempt through post
lambda_handler = _real.lambda_handler
'''


@pytest.fixture(scope="module")
def killing_stage(tmp_path_factory):
    """The chat, its SendMessageFunction wrapped, on its own DynamoDB Local and SQS (so
    no other stage's functions read its streams or queues)."""
    app = tmp_path_factory.mktemp("killed_worker_app")
    wrapper = app / "send_message"
    wrapper.mkdir()
    (wrapper / "app.py").write_text(DIES_AFTER_THE_STORE)
    with chat_on_engines_of_its_own(app, chat_template_with("send_message", wrapper)) as running:
        yield running


def new_messages(socket, until_s: float) -> list[dict]:
    """Every newMessage the socket gets before ``until_s`` (monotonic)."""
    seen = []
    while (left := until_s - time.monotonic()) > 0:
        try:
            envelope = json.loads(socket.recv(timeout=left))
        except TimeoutError:
            break
        if envelope.get("type") == "newMessage":
            seen.append(envelope)
            until_s = min(until_s, time.monotonic() + 3)  # a second copy would come soon
    return seen


def test_a_worker_killed_after_the_store_is_delivered_by_the_backstop_on_the_local_stage(
    killing_stage,
):
    url = killing_stage.url
    with (
        connect(f"{url}?room=kill&name=alice") as alice,
        connect(f"{url}?room=kill&name=bob") as bob,
    ):
        body = {"action": "sendMessage", "message": "please die", "clientId": "c-die"}
        alice.send(json.dumps(body))
        # alice's worker died: no ack, API Gateway's failure frame instead
        failure = json.loads(alice.recv(timeout=30))
        assert failure.get("type") != "ack", failure
        # the backstop delivers it to bob after alice's deadline (30 s) has passed
        [delivered] = new_messages(bob, time.monotonic() + 75)
        assert (delivered["payload"], delivered["clientId"]) == ("please die", "c-die")
        # alice's Retry (her page offers it): acknowledged with the same id, not sent again
        alice.send(json.dumps({**body, "message": "please die"}))
        while (ack := json.loads(alice.recv(timeout=30))).get("type") != "ack":
            pass
        assert (ack["id"], ack["duplicate"]) == (delivered["id"], True)
        assert new_messages(bob, time.monotonic() + 3) == []


def test_a_failed_messages_retry_killed_after_its_ack_is_delivered_by_the_backstop_on_the_stage(
    killing_stage,
):
    url = killing_stage.url
    with (
        connect(f"{url}?room=doom&name=alice") as alice,
        connect(f"{url}?room=doom&name=bob") as bob,
    ):
        # GIVEN a message stored and marked failed (its worker died: no ack)
        body = {"action": "sendMessage", "message": "doomed", "clientId": "c-doom"}
        alice.send(json.dumps(body))
        assert json.loads(alice.recv(timeout=30)).get("type") != "ack"
        # WHEN alice retries it and the worker dies right after the Retry's ack
        alice.send(json.dumps(body))
        while (ack := json.loads(alice.recv(timeout=30))).get("type") != "ack":
            pass
        assert ack["duplicate"] is True
        # THEN the worker died before any hand-off: nothing for bob at once
        assert new_messages(bob, time.monotonic() + 5) == []
        # AND the stream's MODIFY to pending puts the backstop on it: bob gets it
        [delivered] = new_messages(bob, time.monotonic() + 75)
        assert (delivered["id"], delivered["clientId"]) == (ack["id"], "c-doom")
        # AND alice's history says it was handed off
        alice.send(json.dumps({"action": "history"}))
        while (reply := json.loads(alice.recv(timeout=30))).get("type") != "history":
            pass
        [mine] = [m for m in reply["messages"] if m["id"] == ack["id"]]
        assert (mine["mine"], mine["delivery"]) == (True, "handedOff")


def test_a_worker_killed_after_the_ack_is_delivered_by_the_backstop_on_the_stage(killing_stage):
    url = killing_stage.url
    with (
        connect(f"{url}?room=acked&name=alice") as alice,
        connect(f"{url}?room=acked&name=bob") as bob,
    ):
        body = {"action": "sendMessage", "message": "acked, then killed", "clientId": "c-ack"}
        alice.send(json.dumps(body))
        while (ack := json.loads(alice.recv(timeout=30))).get("type") != "ack":
            pass
        # the worker died before any hand-off: nothing for bob at once, then the backstop's
        assert new_messages(bob, time.monotonic() + 5) == []
        [delivered] = new_messages(bob, time.monotonic() + 75)
        assert (delivered["id"], delivered["clientId"]) == (ack["id"], "c-ack")


def test_a_worker_killed_mid_fan_out_reaches_every_member_once_on_the_stage(killing_stage):
    url = killing_stage.url
    with (
        connect(f"{url}?room=midway&name=alice") as alice,
        connect(f"{url}?room=midway&name=bob") as bob,
        connect(f"{url}?room=midway&name=carol") as carol,
    ):
        body = {"action": "sendMessage", "message": "midway", "clientId": "c-mid"}
        alice.send(json.dumps(body))
        while (ack := json.loads(alice.recv(timeout=30))).get("type") != "ack":
            pass
        # each member shows it once, by id (one may have it twice: the backstop's copy)
        until = time.monotonic() + 75
        for member in (bob, carol):
            ids = {m["id"] for m in new_messages(member, until)}
            assert ids == {ack["id"]}


def test_a_room_of_100_with_the_worker_killed_at_the_ack_gets_it_99_times_of_99(killing_stage):
    # The delivery check of issue 23: every other member of a room of 100 has the message
    # once, by id, though the sender's worker died right after its ack.
    from contextlib import ExitStack

    url = killing_stage.url
    with ExitStack() as sockets:
        alice = sockets.enter_context(connect(f"{url}?room=hundred&name=alice"))
        others = [
            sockets.enter_context(connect(f"{url}?room=hundred&name=m{index}"))
            for index in range(99)
        ]
        body = {"action": "sendMessage", "message": "acked, then killed", "clientId": "c-99"}
        alice.send(json.dumps(body))
        while (ack := json.loads(alice.recv(timeout=30))).get("type") != "ack":
            pass
        until = time.monotonic() + 90
        reached = [first_message_id(member, until) for member in others]
        assert reached.count(ack["id"]) == 99


def first_message_id(socket, until_s: float) -> str | None:
    """The id of the first newMessage the socket gets before ``until_s`` (monotonic)."""
    while (left := until_s - time.monotonic()) > 0:
        try:
            envelope = json.loads(socket.recv(timeout=left))
        except TimeoutError:
            break
        if envelope.get("type") == "newMessage":
            return envelope["id"]
    return None


def test_a_sender_is_told_on_the_connection_it_has_now_and_finds_the_state_in_the_history(
    killing_stage,
):
    url = killing_stage.url
    with (
        connect(f"{url}?room=told&name=alice") as alice,
        connect(f"{url}?room=told&name=alice") as alice_again,  # her page, reloaded
    ):
        # WHEN her message sent from her first connection is given up on
        body = {"action": "sendMessage", "message": "given up on", "clientId": "c-told"}
        alice.send(json.dumps(body))
        # THEN the connection she has now is told, naming the message
        while (notice := json.loads(alice_again.recv(timeout=30))).get("type") != "error":
            pass
        assert (notice["code"], notice["clientId"]) == ("delivery_failed", "c-told")
        # AND her history there says it failed
        alice_again.send(json.dumps({"action": "history"}))
        while (reply := json.loads(alice_again.recv(timeout=30))).get("type") != "history":
            pass
        [mine] = [m for m in reply["messages"] if m.get("clientId") == "c-told"]
        assert (mine["id"], mine["mine"], mine["delivery"]) == (notice["messageId"], True, "failed")
