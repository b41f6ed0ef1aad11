"""frontend/timeline.js, run in Node: what the page shows of the room, decided without
the DOM."""

import json

from tests.support.node import run_node
from tests.support.paths import FRONTEND


def timeline(expression: str) -> object:
    module = json.dumps((FRONTEND / "timeline.js").as_uri())
    return run_node(f"const t = await import({module}); console.log(JSON.stringify({expression}));")


def test_a_message_that_arrived_while_the_history_loaded_is_kept_after_it():
    merged = timeline(
        't.mergeHistory([{id: "1"}, {id: "2"}], [{id: "2"}, {id: "3"}]).map((m) => m.id)'
    )
    assert merged == ["1", "2", "3"]  # 2 was in both: once; 3 was stored after the read


def test_you_is_decided_by_the_pages_own_client_ids_not_by_name():
    assert timeline(
        '[t.isOwn({sender: "alice", clientId: "c1"}, new Map([["c1", {}]])),'
        ' t.isOwn({sender: "alice", clientId: "c2"}, new Map([["c1", {}]])),'
        ' t.isOwn({sender: "alice"}, new Map())]'
    ) == [True, False, False]


def test_a_presence_change_announced_again_is_shown_once():
    shown = timeline(
        "(() => { const seen = new Set();"
        ' const e = {joined: ["bob"], left: ["carol"], joinedIds: ["10"], leftIds: ["11"]};'
        " return [t.freshPresence(e, seen), t.freshPresence(e, seen)]; })()"
    )
    assert shown == [{"joined": ["bob"], "left": ["carol"]}, {"joined": [], "left": []}]


def test_changes_without_ids_are_shown_as_they_come():
    assert timeline('t.freshPresence({joined: ["bob"], left: []}, new Set())') == {
        "joined": ["bob"],
        "left": [],
    }


def test_a_senders_message_puts_them_in_the_list_until_the_next_snapshot():
    snapshot = timeline(
        't.withSender({names: ["alice"], count: 1, truncated: false, asOf: "x"}, "bob")'
    )
    assert (snapshot["names"], snapshot["count"]) == (["alice", "bob"], 2)
    same = timeline('t.withSender({names: ["alice"], count: 1, truncated: false}, "alice")')
    assert same["count"] == 1
