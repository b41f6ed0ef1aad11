"""What the page shows of each message it sends (pending, sent, failed with a retry), and
that no message is lost or doubled when a handler fails or the connection drops."""

import dataclasses
import time

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import serving
from tests.e2e.test_chat_page import log, open_chat, say
from tests.support.paths import FIXTURES, FUNCTIONS
from tests.support.tables import chat_model, local_table

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def armed(tmp_path_factory):
    """The file that makes the next sendMessage misbehave once (see flaky_send/app.py)."""
    return tmp_path_factory.mktemp("flaky") / "armed"


@pytest.fixture(scope="module")
def flaky_stage(armed):
    model = chat_model()
    send = model.functions["SendMessageFunction"]
    flaky = dataclasses.replace(
        send,
        code_dir=FIXTURES / "flaky_send",
        handler="app.lambda_handler",
        environment={
            **send.environment,
            "REAL_HANDLER": str(FUNCTIONS / "send_message" / "app.py"),
            "FLAKY_ARMED": str(armed),
        },
    )
    functions = {**model.functions, "SendMessageFunction": flaky}
    with serving(dataclasses.replace(model, functions=functions)) as stage:
        yield stage


def own(page):
    return log(page).locator(".message.own")


def stored_payloads(stage, room):
    endpoint = stage.config.endpoints["AWS_ENDPOINT_URL_DYNAMODB"]
    table = local_table(endpoint, stage.model.table("MessagesTable").table_name)
    items = table.query(
        KeyConditionExpression="room = :room", ExpressionAttributeValues={":room": room}
    )["Items"]
    return [item["payload"] for item in items]


def test_a_message_is_sent_once_acknowledged(browser, flaky_stage, room):
    alice = open_chat(browser, flaky_stage, "alice", room)
    say(alice, "hello")
    expect(own(alice)).to_have_attribute("data-state", "sent")
    expect(own(alice).locator(".pending-note")).to_have_count(0)


def test_a_message_whose_handler_fails_is_shown_failed_and_a_retry_sends_it_once(
    browser, flaky_stage, armed, room
):
    # GIVEN two people in a room, and a sendMessage that will fail once
    alice = open_chat(browser, flaky_stage, "alice", room)
    bob = open_chat(browser, flaky_stage, "bob", room)
    expect(log(alice)).to_contain_text("bob joined")
    armed.write_text("fail")
    # WHEN alice sends
    say(alice, "through a failure")
    # THEN her page says it failed, with the server's words and a retry
    expect(own(alice)).to_have_attribute("data-state", "failed")
    expect(own(alice)).to_contain_text("Internal server error")
    assert not armed.exists(), "the handler did not fail"
    # AND a retry sends it: stored once, delivered once
    own(alice).get_by_role("button", name="Retry").click()
    expect(own(alice)).to_have_attribute("data-state", "sent")
    expect(log(bob).locator(".message.other .text")).to_have_text(["through a failure"])
    time.sleep(0.5)
    expect(log(bob).locator(".message.other")).to_have_count(1)
    assert stored_payloads(flaky_stage, room) == ["through a failure"]


def test_a_connection_dropped_mid_send_loses_nothing_and_doubles_nothing(
    browser, flaky_stage, armed, room
):
    # GIVEN two people in a room, and a connection that will drop as alice's message is sent
    alice = open_chat(browser, flaky_stage, "alice", room)
    bob = open_chat(browser, flaky_stage, "bob", room)
    expect(log(alice)).to_contain_text("bob joined")
    armed.write_text("drop")
    # WHEN alice sends it and loses her connection before its ack
    say(alice, "across a drop")
    # THEN her page reconnects and shows it sent, once
    expect(alice.get_by_role("status")).to_have_text("Connected", timeout=20000)
    expect(own(alice)).to_have_attribute("data-state", "sent", timeout=20000)
    expect(own(alice)).to_have_count(1)
    assert not armed.exists(), "the connection was not dropped"
    # AND bob has it once, and the room's history once
    expect(log(bob).locator(".message.other .text")).to_have_text(["across a drop"])
    time.sleep(0.5)
    assert stored_payloads(flaky_stage, room) == ["across a drop"]
    expect(log(bob).locator(".message.other")).to_have_count(1)


def test_messages_typed_before_the_history_arrives_are_pending_then_sent(
    browser, flaky_stage, room
):
    alice = open_chat(browser, flaky_stage, "alice", room)
    # WHEN the page joins again and alice types before the history is back
    alice.evaluate("document.getElementById('join-button').click()")
    say(alice, "typed while joining")
    # THEN it is sent after the history (and shown once)
    expect(own(alice)).to_have_attribute("data-state", "sent", timeout=20000)
    expect(own(alice)).to_have_count(1)
    assert stored_payloads(flaky_stage, room) == ["typed while joining"]
