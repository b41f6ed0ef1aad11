"""frontend/outbox.js, run in Node: what becomes of each message the page sends."""

import json

from tests.support.node import run_node
from tests.support.paths import FRONTEND


def outbox(steps: str) -> object:
    module = json.dumps((FRONTEND / "outbox.js").as_uri())
    return run_node(
        f"const {{ Outbox }} = await import({module});"
        ' const box = new Outbox(() => "c1"); const entry = box.add("hi");'
        f" box.sending(entry); {steps}"
    )


def test_delivery_failed_after_the_ack_shows_the_message_failed_with_retry():
    assert outbox(
        'box.acked({clientId: "c1", id: "m1", sentAt: "t"});'
        ' box.refused({clientId: "c1", code: "delivery_failed"}, "not everyone", true);'
        " console.log(JSON.stringify([entry.state, entry.id, entry.retry]));"
    ) == ["failed", "m1", True]


def test_another_error_after_the_ack_changes_nothing():
    assert (
        outbox(
            'box.acked({clientId: "c1", id: "m1", sentAt: "t"});'
            ' box.refused({clientId: "c1", code: "rate_limited"}, "slow down", true);'
            " console.log(JSON.stringify(entry.state));"
        )
        == "sent"
    )


def test_the_history_does_not_hide_a_message_that_did_not_reach_everyone():
    assert (
        outbox(
            'box.acked({clientId: "c1", id: "m1", sentAt: "t"});'
            ' box.refused({clientId: "c1", code: "delivery_failed"}, "not everyone", true);'
            ' box.reconcile([{clientId: "c1", id: "m1", sentAt: "t"}]);'
            " console.log(JSON.stringify(entry.state));"
        )
        == "failed"
    )


def test_its_retry_is_sent_again_and_the_next_ack_makes_it_sent():
    assert outbox(
        'box.acked({clientId: "c1", id: "m1", sentAt: "t"});'
        ' box.refused({clientId: "c1", code: "delivery_failed"}, "not everyone", true);'
        ' const again = box.retry("c1"); const frame = JSON.parse(box.frame(again));'
        ' box.sending(again); box.acked({clientId: "c1", id: "m1", sentAt: "t"});'
        " console.log(JSON.stringify([frame.clientId, entry.state]));"
    ) == ["c1", "sent"]


def test_a_message_is_ours_in_the_history_only_when_the_server_marks_it_mine():
    # c1's ack was lost; another member's message under the same clientId is not it
    assert outbox(
        'box.reconcile([{clientId: "c1", id: "m2", payload: "theirs"}], "w");'
        " console.log(JSON.stringify([entry.state, entry.id ?? null, box.due().length]));"
    ) == ["sending", None, 0]


def test_a_history_item_of_mine_that_failed_is_shown_failed_with_retry_after_a_reload():
    assert outbox(
        'box.reconcile([{mine: true, clientId: "c9", id: "m9", payload: "lost",'
        ' sentAt: "t", delivery: "failed"}], "not everyone has it");'
        ' const lost = box.entries.get("c9");'
        " console.log(JSON.stringify([lost.state, lost.text, lost.id, lost.error, lost.retry]));"
    ) == ["failed", "lost", "m9", "not everyone has it", True]


def test_the_retry_of_a_failed_history_item_is_sent_with_its_client_id():
    assert outbox(
        'box.reconcile([{mine: true, clientId: "c9", id: "m9", payload: "lost",'
        ' delivery: "failed"}], "w"); const again = box.retry("c9");'
        " const frame = JSON.parse(box.frame(again));"
        " console.log(JSON.stringify([frame.clientId, frame.message, box.due().length]));"
    ) == ["c9", "lost", 1]


def test_a_history_item_of_mine_still_pending_is_pending_and_not_sent_again():
    assert outbox(
        'box.reconcile([{mine: true, clientId: "c1", id: "m1", payload: "hi",'
        ' delivery: "pending"}], "w"); box.requeueInFlight();'
        " console.log(JSON.stringify([entry.state, entry.id, box.due().length]));"
    ) == ["pending", "m1", 0]


def test_a_history_item_of_mine_handed_off_is_sent():
    assert (
        outbox(
            'box.reconcile([{mine: true, clientId: "c1", id: "m1", payload: "hi",'
            ' delivery: "handedOff"}], "w"); console.log(JSON.stringify(entry.state));'
        )
        == "sent"
    )


def test_a_delivery_failed_on_a_later_connection_marks_a_pending_message_failed():
    assert outbox(
        'box.reconcile([{mine: true, clientId: "c1", id: "m1", payload: "hi",'
        ' delivery: "pending"}], "w");'
        ' box.refused({clientId: "c1", messageId: "m1", code: "delivery_failed"}, "told", true);'
        " console.log(JSON.stringify([entry.state, entry.retry]));"
    ) == ["failed", True]


def test_a_delivery_failed_naming_another_message_changes_nothing():
    assert (
        outbox(
            'box.acked({clientId: "c1", id: "m1", sentAt: "t"});'
            ' box.refused({clientId: "c1", messageId: "m2", code: "delivery_failed"}, "w", true);'
            " console.log(JSON.stringify(entry.state));"
        )
        == "sent"
    )


def test_a_failure_heard_stays_when_the_history_still_says_pending():
    assert outbox(
        'box.acked({clientId: "c1", id: "m1", sentAt: "t"});'
        ' box.refused({clientId: "c1", code: "delivery_failed"}, "told", true);'
        ' box.reconcile([{mine: true, clientId: "c1", id: "m1", delivery: "pending"}], "w");'
        " const kept = [entry.state, entry.error]; box.historyAsked();"
        ' box.reconcile([{mine: true, clientId: "c1", id: "m1", delivery: "handedOff"}], "w");'
        " console.log(JSON.stringify([...kept, entry.state]));"
    ) == ["failed", "told", "sent"]


def test_a_failure_heard_after_the_history_was_asked_for_is_not_undone_by_that_history():
    # the history was read before the server marked the message failed and told us
    assert outbox(
        'box.acked({clientId: "c1", id: "m1", sentAt: "t"}); box.historyAsked();'
        ' box.refused({clientId: "c1", code: "delivery_failed"}, "told", true);'
        ' box.reconcile([{mine: true, clientId: "c1", id: "m1", delivery: "handedOff"}], "w");'
        " console.log(JSON.stringify([entry.state, entry.error, entry.retry]));"
    ) == ["failed", "told", True]


def test_a_retry_on_its_way_goes_on_when_the_history_still_says_failed():
    assert outbox(
        'box.acked({clientId: "c1", id: "m1", sentAt: "t"});'
        ' box.refused({clientId: "c1", code: "delivery_failed"}, "told", true);'
        ' box.retry("c1"); box.sending(entry); box.requeueInFlight();'
        ' box.reconcile([{mine: true, clientId: "c1", id: "m1", delivery: "failed"}], "w");'
        " console.log(JSON.stringify([entry.state, box.due().length]));"
    ) == ["queued", 1]


def test_a_delivery_failed_for_a_message_whose_ack_was_lost_gives_it_its_id():
    assert outbox(
        ' box.refused({clientId: "c1", messageId: "m1", code: "delivery_failed"}, "w", true);'
        " console.log(JSON.stringify([entry.state, entry.id]));"
    ) == ["failed", "m1"]
