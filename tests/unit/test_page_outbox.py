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
