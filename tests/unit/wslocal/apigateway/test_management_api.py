import json
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wslocal.apigateway.connections import ConnectionRegistry
from wslocal.apigateway.management_api import (
    connection_id_from_path,
    handle_management_request,
    is_management_path,
)


class RecordingOutbound:
    def __init__(self):
        self.sent: list[bytes] = []
        self.closed: list[tuple[int, str]] = []

    def send(self, data: bytes) -> None:
        self.sent.append(data)

    def close(self, code: int, reason: str) -> None:
        self.closed.append((code, reason))


@pytest.fixture
def registry():
    times = iter([1731324924.5, 1731324930.25])
    return ConnectionRegistry(clock=lambda: next(times))


def call(registry, method, path, body=b""):
    return handle_management_request(
        registry, method=method, path=path, body=body, stage="local", max_post_bytes=10
    )


def open_connection(registry, connection_id="abc="):
    outbound = RecordingOutbound()
    registry.register(connection_id, outbound, "127.0.0.1", "wscat")
    registry.open(connection_id)
    return outbound


def test_paths_with_and_without_the_stage_name_the_connection():
    assert connection_id_from_path("/local/@connections/abc%3D", "local") == "abc="
    assert connection_id_from_path("/@connections/abc%3D", "local") == "abc="
    assert connection_id_from_path("/other/@connections/x", "local") is None
    assert connection_id_from_path("/local/@connections/", "local") is None
    assert is_management_path("/local/@connections/x") and not is_management_path("/index.html")


@pytest.mark.parametrize(
    ("path", "connection_id"),
    [
        ("/local/@connections/x?y=1", "x"),
        ("/local/@connections/x/", "x"),
        ("/local//@connections/x", None),
        ("/local/@connections/x/y", None),
        ("/local/local/@connections/x", None),
    ],
)
def test_a_query_or_a_last_slash_is_not_the_id_and_other_segments_are_no_path(path, connection_id):
    assert connection_id_from_path(path, "local") == connection_id


def by_the_general_rules(path: str, stage: str) -> str | None:
    """The rules every path form takes, without the fast path for ``/{stage}/@connections/{id}``."""
    parts = path.split("?", 1)[0].strip("/").split("/")
    if parts[0] == stage:
        del parts[0]
    if len(parts) != 2 or parts[0] != "@connections" or not parts[1]:
        return None
    return unquote(parts[1])


PATH_PIECES = st.sampled_from(
    ["/", "local", "a?b", "a", "@connections", "x", "%3D", "?", "=", ".."]
)


@given(st.lists(PATH_PIECES, max_size=8).map("".join), st.sampled_from(["local", "a?b", "a", ""]))
def test_the_usual_path_is_read_as_the_general_rules_read_it(tail, stage):
    path = f"/{stage}/@connections/{tail}"
    assert connection_id_from_path(path, stage) == by_the_general_rules(path, stage)


def test_a_stage_name_is_one_segment():
    assert connection_id_from_path("/a/b/@connections/x", "a/b") is None


@pytest.mark.parametrize(
    ("segment", "connection_id"),
    [
        ("abc%3D", "abc="),
        ("abc%3d", "abc="),
        ("a%2Fb%3D", "a/b="),
        ("a%3Db", "a=b"),
        ("abc%", "abc%"),
        ("abc", "abc"),
    ],
)
def test_an_id_is_decoded_as_unquote_decodes_it(segment, connection_id):
    assert connection_id_from_path(f"/local/@connections/{segment}", "local") == connection_id


def test_post_sends_the_raw_bytes_and_answers_200(registry):
    outbound = open_connection(registry)
    response = call(registry, "POST", "/local/@connections/abc%3D", b"hi")
    assert response.status == 200
    assert outbound.sent == [b"hi"]


def test_post_to_an_unknown_connection_is_gone(registry):
    response = call(registry, "POST", "/local/@connections/nope", b"x")
    assert response.status == 410
    assert response.headers["x-amzn-ErrorType"] == "GoneException"


def test_post_while_connect_still_runs_is_gone(registry):
    registry.register("abc=", RecordingOutbound(), "127.0.0.1")
    assert call(registry, "POST", "/local/@connections/abc%3D", b"x").status == 410


def test_post_after_close_is_gone(registry):
    open_connection(registry)
    registry.unregister("abc=")
    assert call(registry, "POST", "/local/@connections/abc%3D", b"x").status == 410


def test_post_over_the_payload_limit_is_413(registry):
    outbound = open_connection(registry)
    response = call(registry, "POST", "/local/@connections/abc%3D", b"x" * 11)
    assert response.status == 413
    assert response.headers["x-amzn-ErrorType"] == "PayloadTooLargeException"
    assert outbound.sent == []


def test_get_describes_the_connection(registry):
    open_connection(registry)
    registry.touch("abc=")
    response = call(registry, "GET", "/local/@connections/abc%3D")
    assert response.status == 200
    assert json.loads(response.body) == {
        "connectedAt": "2024-11-11T11:35:24.500Z",
        "identity": {"sourceIp": "127.0.0.1", "userAgent": "wscat"},
        "lastActiveAt": "2024-11-11T11:35:30.250Z",
    }


def test_delete_closes_the_connection_and_answers_204(registry):
    outbound = open_connection(registry)
    assert call(registry, "DELETE", "/local/@connections/abc%3D").status == 204
    assert outbound.closed == [(1000, "")]


def test_a_deleted_connection_is_gone_before_its_client_has_closed(registry):
    # The closing handshake takes a round trip; the API forgets the connection at once.
    outbound = open_connection(registry)
    call(registry, "DELETE", "/local/@connections/abc%3D")
    assert call(registry, "POST", "/local/@connections/abc%3D", b"late").status == 410
    assert call(registry, "GET", "/local/@connections/abc%3D").status == 410
    assert outbound.sent == []


def test_get_and_delete_of_an_unknown_connection_are_gone(registry):
    assert call(registry, "GET", "/local/@connections/x").status == 410
    assert call(registry, "DELETE", "/local/@connections/x").status == 410


def test_other_methods_and_paths_are_forbidden(registry):
    open_connection(registry)
    assert call(registry, "PUT", "/local/@connections/abc%3D").status == 403
    assert call(registry, "POST", "/local/@connections").status == 403
