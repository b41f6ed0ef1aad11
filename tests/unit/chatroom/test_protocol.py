import json

import pytest

from chatroom import protocol
from chatroom.exceptions import InvalidJoinError, InvalidMessageError


def test_join_defaults_to_the_lobby_and_a_generated_name():
    join = protocol.parse_join(None, name_factory=lambda: "guest-1a2b")
    assert join == protocol.Join(room="lobby", name="guest-1a2b")


def test_join_reads_room_and_name_from_the_query():
    assert protocol.parse_join({"room": "dev_team-2", "name": "alice"}) == protocol.Join(
        "dev_team-2", "alice"
    )


def test_join_strips_spaces_around_the_name():
    assert protocol.parse_join({"name": "  alice "}).name == "alice"


def test_generated_names_differ():
    assert protocol.generated_name().startswith("guest-")


@pytest.mark.parametrize("room", ["", "a b", "x" * 65, "café", "../etc", "room!"])
def test_join_rejects_a_room_outside_the_pattern(room):
    with pytest.raises(InvalidJoinError) as caught:
        protocol.parse_join({"room": room})
    assert caught.value.code == "invalid_room"


@pytest.mark.parametrize("name", ["", "   ", "x" * 33, "a\x00b", "tab\tname", "new\nline"])
def test_join_rejects_a_name_that_is_empty_too_long_or_unprintable(name):
    with pytest.raises(InvalidJoinError) as caught:
        protocol.parse_join({"name": name})
    assert caught.value.code == "invalid_name"


def test_join_accepts_a_32_character_unicode_name():
    assert protocol.parse_join({"name": "é" * 32}).name == "é" * 32


def test_chat_message_returns_the_text():
    body = json.dumps({"action": "sendMessage", "message": "Hello world"})
    assert protocol.parse_chat_message(body, max_bytes=100) == protocol.ChatMessage("Hello world")


def test_chat_message_returns_its_client_id():
    body = json.dumps({"action": "sendMessage", "message": "hi", "clientId": "c_1-A"})
    assert protocol.parse_chat_message(body, max_bytes=100).client_id == "c_1-A"


@pytest.mark.parametrize("client_id", ["", "x" * 65, "has space", "é", 7, ["c"]])
def test_a_client_id_outside_the_rule_is_refused(client_id):
    body = json.dumps({"action": "sendMessage", "message": "hi", "clientId": client_id})
    with pytest.raises(InvalidMessageError) as caught:
        protocol.parse_chat_message(body, max_bytes=100)
    assert caught.value.code == "invalid_client_id"


def test_a_refused_message_carries_its_client_id():
    body = json.dumps({"action": "sendMessage", "message": " ", "clientId": "c-9"})
    with pytest.raises(InvalidMessageError) as caught:
        protocol.parse_chat_message(body, max_bytes=100)
    assert (caught.value.code, caught.value.client_id) == ("empty_message", "c-9")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("not json", "invalid_body"),
        ("[1, 2]", "invalid_body"),
        ('"text"', "invalid_body"),
        (None, "invalid_body"),
        ('{"action": "sendMessage"}', "invalid_message"),
        ('{"action": "sendMessage", "message": 42}', "invalid_message"),
        ('{"action": "sendMessage", "message": null}', "invalid_message"),
        ('{"action": "sendMessage", "message": ""}', "empty_message"),
        ('{"action": "sendMessage", "message": " \\n "}', "empty_message"),
        ('{"action": "sendMessage", "message": "a\\ud800b"}', "invalid_message"),
    ],
)
def test_chat_message_rejects_each_bad_input_with_its_code(body, code):
    with pytest.raises(InvalidMessageError) as caught:
        protocol.parse_chat_message(body, max_bytes=100)
    assert caught.value.code == code


def test_message_size_counts_utf8_bytes_not_characters():
    fits = json.dumps({"message": "éé"})  # 4 bytes of UTF-8
    assert protocol.parse_chat_message(fits, max_bytes=4).text == "éé"
    with pytest.raises(InvalidMessageError) as caught:
        protocol.parse_chat_message(json.dumps({"message": "ééé"}), max_bytes=4)
    assert caught.value.code == "message_too_large"
    assert "6 bytes" in caught.value.message


def test_unknown_action_error_names_the_action_and_the_known_ones():
    problem = protocol.unknown_action_error('{"action": "shout"}')
    assert problem.code == "unknown_action"
    assert '"shout"' in problem.message
    assert "sendMessage" in problem.message and "history" in problem.message


def test_unknown_action_error_for_a_missing_action():
    assert "missing 'action'" in protocol.unknown_action_error("{}").message


def test_unknown_action_error_raises_for_a_body_that_is_not_an_object():
    with pytest.raises(InvalidMessageError):
        protocol.unknown_action_error("nope")


def test_new_message_keeps_the_seed_articles_payload_field():
    envelope = protocol.new_message(
        message_id="m1", room="lobby", sender="bob", payload="hi", sent_at_ms=1732447831120
    )
    assert envelope == {
        "type": "newMessage",
        "id": "m1",
        "room": "lobby",
        "sender": "bob",
        "payload": "hi",
        "sentAt": "2024-11-24T11:30:31.120Z",
    }


def test_members_snapshot_lists_names_alphabetically_with_the_whole_count():
    snapshot = protocol.members_snapshot(["bob", "Alice", "carol"], 1732447831120)
    assert snapshot == {
        "names": ["Alice", "bob", "carol"],
        "count": 3,
        "truncated": False,
        "asOf": "2024-11-24T11:30:31.120Z",
    }


def test_members_snapshot_of_a_large_room_is_bounded_and_says_so():
    names = [f"user{index:04d}" for index in range(protocol.MEMBER_LIST_LIMIT + 50)]
    snapshot = protocol.members_snapshot(names, 0)
    assert len(snapshot["names"]) == protocol.MEMBER_LIST_LIMIT
    assert (snapshot["count"], snapshot["truncated"]) == (protocol.MEMBER_LIST_LIMIT + 50, True)


def test_presence_envelope_says_who_joined_who_left_and_who_is_here():
    members = protocol.members_snapshot(["a", "b"], 0)
    assert protocol.presence("r", joined=["b"], left=["c"], members=members) == {
        "type": "presence",
        "room": "r",
        "joined": ["b"],
        "left": ["c"],
        "members": members,
    }


def test_history_envelope_carries_the_members():
    members = protocol.members_snapshot([], 0)
    assert protocol.history("r", [], members) == {
        "type": "history",
        "room": "r",
        "messages": [],
        "members": members,
        "more": False,
    }


def test_a_history_over_128_kb_keeps_the_newest_messages_that_fit_and_says_more_exist():
    # 50 messages of 16 KiB of quotes: about 1.6 MB once escaped
    messages = [
        protocol.new_message(
            message_id=f"m{index:02d}", room="r", sender="s", payload='"' * 16384, sent_at_ms=0
        )
        for index in range(50)
    ]
    envelope = protocol.history("r", messages, protocol.members_snapshot(["s"], 0))
    assert len(protocol.encode(envelope)) <= protocol.POST_MAX_BYTES
    assert envelope["more"] is True
    kept = [m["id"] for m in envelope["messages"]]
    assert kept == [f"m{index:02d}" for index in range(50 - len(kept), 50)] and len(kept) >= 3


def test_error_envelope():
    assert protocol.error("c", "m") == {"type": "error", "code": "c", "message": "m"}


def test_encode_is_compact_utf8():
    assert protocol.encode({"payload": "é"}) == '{"payload":"é"}'.encode()


def test_an_envelope_over_the_post_limit_is_refused_whatever_was_typed():
    # 30,000 control characters are 30,000 bytes typed but 180,000 once JSON-escaped
    envelope = protocol.new_message(
        message_id="m", room="r", sender="s", payload="\x01" * 30_000, sent_at_ms=0
    )
    with pytest.raises(InvalidMessageError) as caught:
        protocol.check_envelope_size(envelope)
    assert caught.value.code == "message_too_large"


def test_an_envelope_under_the_post_limit_passes():
    envelope = protocol.new_message(
        message_id="m", room="r", sender="s", payload="x" * 30_000, sent_at_ms=0
    )
    protocol.check_envelope_size(envelope)


def test_a_display_name_is_fitted_to_the_name_rule_not_refused():
    long_and_spoofing = "Alice\u202e" + "x" * 60
    name = protocol.display_name({"name": long_and_spoofing})
    assert len(name) == protocol.NAME_MAX_CHARS and "\u202e" not in name
    assert protocol.parse_join({}, verified_name=name).name == name


def test_a_display_name_of_nothing_usable_is_made_from_the_subject():
    assert (
        protocol.display_name({"name": "\u200b\u200b", "sub": "ab-cd-ef-12-34"}) == "user-abcdef12"
    )
