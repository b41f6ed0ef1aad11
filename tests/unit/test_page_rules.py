"""The page's rules (frontend/rules.js, frontend/connection.js) agree with the server's
(chatroom.protocol): one name rule, the same limits. Run in Node, as the browser runs them."""

import json

import pytest

from chatroom import protocol
from chatroom.exceptions import InvalidJoinError
from tests.support.node import run_node
from tests.support.paths import FRONTEND

NAMES = [
    "alice", " alice ", "Zoë", "李小龙", "ali ce", "👍", "x" * 32, "x" * 33, "é" * 32,
    "e\u0301" * 16, "e\u0301" * 17, "", "   ", "a\u00a0b", "a\u200bb", "a\u200db",
    "👨\u200d👩\u200d👧", "\u202eevil", "a\u200eb", "a\u061cb", "a\u2066b\u2069", "a\tb",
    "a\u0000b", "a\u007fb", "a\u2028b", "a\u2029b", "\ue000", "a\u00adb", "a\ufeffb",
    "\u3000a", "a\u2003b", "שלום", "مرحبا", "\U0001d400bold",
]  # fmt: skip


def page_accepts(names: list[str]) -> list[bool]:
    script = f"""
        const rules = await import({json.dumps((FRONTEND / "rules.js").as_uri())});
        const names = {json.dumps(names)};
        console.log(JSON.stringify(names.map((name) => rules.checkJoin(name, "lobby") === null)));
    """
    return run_node(script)  # type: ignore[return-value]


def server_accepts(name: str) -> bool:
    try:
        protocol.parse_join({"name": name})
    except InvalidJoinError:
        return False
    return True


def test_the_page_and_the_server_accept_exactly_the_same_names():
    page = page_accepts(NAMES)
    disagreements = [
        (name, accepted, server_accepts(name))
        for name, accepted in zip(NAMES, page, strict=True)
        if accepted != server_accepts(name)
    ]
    assert disagreements == []


@pytest.mark.parametrize(
    "name", ["a\u00a0b", "a\u200bb", "👨\u200d👩\u200d👧", "\u202eevil", "a\u2066b\u2069"]
)
def test_invisible_bidi_and_non_ascii_spaces_are_refused_in_names(name):
    assert not server_accepts(name)


def test_the_page_takes_the_servers_limits_and_name_table():
    script = f"""
        const rules = await import({json.dumps((FRONTEND / "rules.js").as_uri())});
        console.log(JSON.stringify({{
            message: rules.MESSAGE_MAX_BYTES, name: rules.NAME_MAX_CHARS,
            room: rules.ROOM_PATTERN.source, refused: rules.NAME_REFUSED_CATEGORIES,
        }}));
    """
    page = run_node(script)
    assert page == {
        "message": protocol.DEFAULT_MESSAGE_MAX_BYTES,
        "name": protocol.NAME_MAX_CHARS,
        "room": f"^{protocol.ROOM_PATTERN.pattern}$",
        "refused": list(protocol.NAME_REFUSED_CATEGORIES),
    }


def choose(override: str | None, configured: str | None = None) -> dict:
    module = json.dumps((FRONTEND / "connection.js").as_uri())
    script = f"""
        const {{ chooseEndpoint }} = await import({module});
        const location = {{ protocol: "http:", host: "127.0.0.1:3001" }};
        console.log(JSON.stringify(chooseEndpoint({{
            override: {json.dumps(override)}, configured: {json.dumps(configured)}, location,
        }})));
    """
    return run_node(script)  # type: ignore[return-value]


def test_the_page_connects_to_the_host_that_served_it_by_default():
    assert choose(None) == {"url": "ws://127.0.0.1:3001"}


def test_a_ws_override_for_the_pages_own_host_is_taken():
    assert choose("ws://127.0.0.1:3001/local") == {"url": "ws://127.0.0.1:3001/local"}


def test_a_ws_override_for_another_server_is_refused_and_said():
    chosen = choose("wss://evil.example/collect", configured="wss://abc.execute-api.aws/dev")
    assert chosen["url"] == "wss://abc.execute-api.aws/dev"
    assert "evil.example" in chosen["refused"]


def test_a_ws_override_for_the_configured_api_is_taken():
    assert choose("wss://abc.execute-api.aws/prod", configured="wss://abc.execute-api.aws/dev") == {
        "url": "wss://abc.execute-api.aws/prod"
    }


def connection_module(expression: str) -> object:
    module = json.dumps((FRONTEND / "connection.js").as_uri())
    return run_node(f"const c = await import({module}); console.log(JSON.stringify({expression}));")


def test_the_room_and_name_are_encoded_in_the_websocket_url():
    url = connection_module('c.connectionUrl("ws://h:1", {room: "a b", name: "é&x"})')
    assert url == "ws://h:1?room=a%20b&name=%C3%A9%26x"


def test_a_token_from_the_pages_fragment_goes_in_the_websocket_url():
    token = connection_module('c.tokenFrom("#id_token=eyJ.a.b&expires_in=3600")')
    assert token == "eyJ.a.b"
    url = connection_module('c.connectionUrl("ws://h:1", {room: "r", name: "n", token: "eyJ.a.b"})')
    assert url == "ws://h:1?room=r&name=n&token=eyJ.a.b"
    assert connection_module('c.tokenFrom("")') is None
