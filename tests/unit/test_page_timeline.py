"""frontend/timeline.js, run in Node: what the page shows of the room, decided without
the DOM."""

import json
import random

from chatroom.messages import time_ordered_id
from tests.support.node import run_node
from tests.support.paths import FRONTEND


def timeline(expression: str, setup: str = "") -> object:
    """`expression` with timeline.js as `t` and outbox.js's Outbox, after `setup`."""
    module = json.dumps((FRONTEND / "timeline.js").as_uri())
    outbox = json.dumps((FRONTEND / "outbox.js").as_uri())
    return run_node(
        f"const t = await import({module}); const {{ Outbox }} = await import({outbox});"
        f" {setup} console.log(JSON.stringify({expression}));"
    )


def placed(keys: list[str]) -> str:
    """JS: the keys placed one by one as they arrive, by insertionIndex."""
    return (
        f"{json.dumps(keys)}.reduce((log, key) => {{"
        " log.splice(t.insertionIndex(log, key), 0, key); return log; }, [])"
    )


def test_the_servers_ids_are_placed_in_time_order_whatever_order_they_arrive_in():
    times = [999, 1000, 1_732_447_831_120, 1_732_447_831_121, 1_732_447_831_121, 9_999_999_999_999]
    ids = [time_ordered_id(ms) for ms in times]
    arrival = ids[:]
    random.Random(7).shuffle(arrival)
    order = timeline(placed(arrival))
    assert [int(key.split("-")[0]) for key in order] == times


def test_a_late_copy_of_a_message_goes_before_the_messages_stored_after_it():
    early, middle, late = (time_ordered_id(ms) for ms in (1000, 2000, 3000))
    assert timeline(placed([early, late, middle])) == [early, middle, late]


def test_our_messages_not_stored_yet_stay_after_every_stored_one():
    stored = time_ordered_id(9_999_999_999_999)
    assert (
        timeline(
            f"(() => {{ const log = [t.unsentKey(1), t.unsentKey(2)];"
            f" return t.insertionIndex(log, {json.dumps(stored)}); }})()"
        )
        == 0
    )


def test_a_presence_line_stays_after_the_message_it_followed_and_before_later_ones():
    first, between, second, later = (time_ordered_id(ms) for ms in (1000, 1500, 2000, 3000))
    order = timeline(
        f"(() => {{ const log = [{json.dumps(first)}, {json.dumps(second)}, t.unsentKey(1)];"
        " const line = t.lineKey(log, 1); log.splice(t.insertionIndex(log, line), 0, line);"
        f" for (const key of [{json.dumps(later)}, {json.dumps(between)}])"
        " log.splice(t.insertionIndex(log, key), 0, key);"
        " return log.map((key) => key === line ? 'line' : key); })()"
    )
    assert order == [first, between, second, "line", later, "~000000000001"]


def test_the_history_and_the_live_messages_are_merged_in_id_order():
    assert timeline(
        't.mergeHistory([{id: "2"}, {id: "3"}], [{id: "1"}, {id: "3"}]).map((m) => m.id)'
    ) == ["1", "2", "3"]  # 1: a late copy of an older message arrived while it loaded


def test_you_is_the_id_the_server_acked_to_this_page():
    page = (
        'const box = new Outbox(() => "c1"); box.add("hi");'
        ' box.acked({clientId: "c1", id: "m1", sentAt: "t"});'
    )
    assert timeline(
        '[t.isOwn({id: "m1", sender: "alice", clientId: "c1"}, box),'
        ' t.isOwn({id: "m2", sender: "alice", clientId: "c1"}, box),'
        ' t.isOwn({id: "m3", sender: "alice"}, box)]',
        page,
    ) == [True, False, False]


def test_a_history_item_the_server_marks_mine_is_ours():
    page = 'const box = new Outbox(() => "c1"); box.add("hi");'
    assert timeline(
        '[t.ownEntry({id: "m1", clientId: "c1", mine: true}, box)?.clientId ?? null,'
        ' t.ownEntry({id: "m1", clientId: "c1"}, box)]',
        page,
    ) == ["c1", None]


def test_a_member_reusing_my_client_id_is_not_me_on_my_page_nor_after_a_reconnect():
    # GIVEN two pages: the victim's message is stored as m1 under c1; the other member
    # sent theirs under the same c1 (it is in every newMessage), stored as m2
    pages = (
        'const victim = new Outbox(() => "c1"); victim.add("mine");'
        ' victim.acked({clientId: "c1", id: "m1", sentAt: "t"});'
        ' const spoofer = new Outbox(() => "c1"); spoofer.add("spoof");'
        ' spoofer.acked({clientId: "c1", id: "m2", sentAt: "t"});'
        ' const m1 = {id: "m1", sender: "alice", clientId: "c1", payload: "mine"};'
        ' const m2 = {id: "m2", sender: "mallory", clientId: "c1", payload: "spoof"};'
        " const historyFor = (mineId) => [m1, m2].map((m) =>"
        " m.id === mineId ? {...m, mine: true, delivery: 'handedOff'} : m);"
        " const view = (box, history) => { box.reconcile(history, 'w');"
        " return history.map((m) => [m.id, t.isOwn(m, box), t.ownEntry(m, box)?.text ?? null]); };"
    )
    # THEN each page's live view labels only its own message "you"
    assert timeline("[t.isOwn(m2, victim), t.isOwn(m1, spoofer)]", pages) == [False, False]
    # AND after a reconnect each history shows each text once, "you" only on its own
    assert timeline("[view(victim, historyFor('m1')), view(spoofer, historyFor('m2'))]", pages) == [
        [["m1", True, "mine"], ["m2", False, None]],
        [["m1", False, None], ["m2", True, "spoof"]],
    ]


def test_a_message_that_arrived_while_the_history_loaded_is_kept_after_it():
    merged = timeline(
        't.mergeHistory([{id: "1"}, {id: "2"}], [{id: "2"}, {id: "3"}]).map((m) => m.id)'
    )
    assert merged == ["1", "2", "3"]  # 2 was in both: once; 3 was stored after the read


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
