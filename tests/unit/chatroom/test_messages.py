import time

from chatroom.messages import HISTORY_LIMIT, MessageStore, time_ordered_id

NOW_MS = int(time.time() * 1000)


def test_recent_returns_the_rooms_messages_oldest_first(chat_tables):
    store = MessageStore(table=chat_tables.messages, ttl_hours=24)
    for index in range(3):
        store.append(room="lobby", sender="a", payload=f"m{index}", sent_at_ms=NOW_MS + index)
    assert [m.payload for m in store.recent("lobby")] == ["m0", "m1", "m2"]


def test_recent_keeps_only_the_newest_fifty(chat_tables):
    store = MessageStore(table=chat_tables.messages, ttl_hours=24)
    for index in range(60):
        store.append(room="lobby", sender="a", payload=f"m{index}", sent_at_ms=NOW_MS + index)
    payloads = [m.payload for m in store.recent("lobby")]
    assert len(payloads) == HISTORY_LIMIT
    assert payloads[0] == "m10" and payloads[-1] == "m59"


def test_recent_leaves_out_other_rooms(chat_tables):
    store = MessageStore(table=chat_tables.messages, ttl_hours=24)
    store.append(room="one", sender="a", payload="here", sent_at_ms=NOW_MS)
    store.append(room="two", sender="a", payload="elsewhere", sent_at_ms=NOW_MS)
    assert [m.payload for m in store.recent("one")] == ["here"]


def test_messages_expire_after_the_configured_hours(chat_tables):
    store = MessageStore(table=chat_tables.messages, ttl_hours=2)
    message = store.append(room="r", sender="a", payload="p", sent_at_ms=1_000_000).message
    item = chat_tables.messages.get_item(Key={"room": "r", "messageId": message.message_id})
    assert item["Item"]["ttl"] == 1_000 + 2 * 3600


def test_ids_sort_by_time_and_are_unique_within_a_millisecond():
    same = {time_ordered_id(5) for _ in range(100)}
    assert len(same) == 100
    assert time_ordered_id(9) < time_ordered_id(10) < time_ordered_id(1_732_447_831_120)


def test_stored_message_envelope_is_a_new_message(chat_tables):
    store = MessageStore(table=chat_tables.messages, ttl_hours=1)
    message = store.append(room="r", sender="bob", payload="hi", sent_at_ms=0).message
    envelope = message.envelope()
    assert envelope["type"] == "newMessage" and envelope["id"] == message.message_id
    assert envelope["sentAt"] == "1970-01-01T00:00:00.000Z"


def test_recent_skips_messages_past_their_ttl_that_dynamodb_has_not_deleted_yet(chat_tables):
    store = MessageStore(table=chat_tables.messages, ttl_hours=1)
    store.append(room="r", sender="a", payload="expired", sent_at_ms=NOW_MS - 2 * 3600 * 1000)
    store.append(room="r", sender="a", payload="fresh", sent_at_ms=NOW_MS)
    assert [m.payload for m in store.recent("r")] == ["fresh"]


def test_a_message_with_a_client_id_keeps_it_in_the_history(chat_tables):
    store = MessageStore(table=chat_tables.messages)
    store.append(room="r", sender="a", payload="hi", sent_at_ms=NOW_MS, client_id="c-1")
    [message] = store.recent("r", now_s=NOW_MS / 1000)
    assert message.client_id == "c-1"
    assert message.envelope()["clientId"] == "c-1"


def test_a_retry_of_the_same_client_id_is_not_stored_twice(chat_tables):
    store = MessageStore(table=chat_tables.messages)
    first = store.append(room="r", sender="a", payload="hi", sent_at_ms=NOW_MS, client_id="c-2")
    again = store.append(room="r", sender="a", payload="hi", sent_at_ms=NOW_MS + 5, client_id="c-2")
    assert (first.duplicate, again.duplicate) == (False, True)
    assert again.message.message_id == first.message.message_id
    assert again.message.sent_at_ms == NOW_MS
    assert [m.payload for m in store.recent("r", now_s=NOW_MS / 1000)] == ["hi"]


def test_messages_without_a_client_id_are_each_stored(chat_tables):
    store = MessageStore(table=chat_tables.messages)
    store.append(room="r", sender="a", payload="one", sent_at_ms=NOW_MS)
    store.append(room="r", sender="a", payload="two", sent_at_ms=NOW_MS + 1)
    assert len(store.recent("r", now_s=NOW_MS / 1000)) == 2


def test_claims_are_not_part_of_any_rooms_history(chat_tables):
    store = MessageStore(table=chat_tables.messages)
    store.append(room="r", sender="a", payload="hi", sent_at_ms=NOW_MS, client_id="r")
    assert [m.payload for m in store.recent("r", now_s=NOW_MS / 1000)] == ["hi"]


def test_a_claim_found_taken_then_gone_on_every_try_raises_and_stores_nothing_new(
    chat_tables, monkeypatch
):
    import pytest

    from chatroom.exceptions import ClaimVanishedError

    # GIVEN a clientId already claimed, whose claim reads as gone after every transaction
    store = MessageStore(table=chat_tables.messages, ttl_hours=24)
    store.append(room="r", sender="a", payload="first", sent_at_ms=NOW_MS, client_id="c-1")
    monkeypatch.setattr(MessageStore, "_claimed", lambda self, room, sender_key, cid: None)
    # WHEN the same clientId is sent again
    # THEN the store refuses to answer rather than name an id it never stored
    with pytest.raises(ClaimVanishedError):
        store.append(room="r", sender="a", payload="retry", sent_at_ms=NOW_MS, client_id="c-1")
    assert [m.payload for m in store.recent("r")] == ["first"]
