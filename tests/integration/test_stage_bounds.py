"""The local stage's bounds: what a client that misbehaves gets, and that the stage and
its other clients go on (tests/fixtures/echo_app, short limits)."""

import json
import socket
import time
import urllib.error
import urllib.request

import pytest
from websockets.sync.client import connect

from tests.integration.test_echo_app import connection_id, echo, echo_stage, logged
from tests.support.raw_websocket import open_raw
from wslocal.apigateway.limits import Limits

pytestmark = pytest.mark.integration

LIMITS = Limits(
    request_head_timeout=0.5,
    keep_alive_idle=1.0,
    send_buffer_bytes=256 * 1024,
    max_inflight_messages=2,
)


@pytest.fixture(scope="module")
def log_path(tmp_path_factory):
    return tmp_path_factory.mktemp("bounds") / "events.jsonl"


@pytest.fixture(scope="module")
def stage(log_path):
    with echo_stage(log_path, limits=LIMITS) as running:
        yield running


def raw_http(stage, request: bytes, timeout: float = 5) -> bytes:
    """Send ``request`` as is; read until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", stage.stage.port), timeout=timeout) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_a_post_over_the_limit_is_answered_413_before_its_body_is_sent(stage):
    head = (
        b"POST /test/@connections/abc HTTP/1.1\r\nHost: x\r\n"
        b"Content-Length: 52428800\r\n\r\n"
    )  # 50 MB announced, not one byte of it sent
    answer = raw_http(stage, head)
    assert answer.startswith(b"HTTP/1.1 413")
    assert b"PayloadTooLargeException" in answer


def test_a_request_head_that_never_ends_gets_408(stage):
    started = time.monotonic()
    answer = raw_http(stage, b"GET / HTTP/1.1\r\nHost: x\r\n")
    assert answer.startswith(b"HTTP/1.1 408")
    assert time.monotonic() - started < 3


def test_a_connection_that_sends_nothing_is_closed(stage):
    started = time.monotonic()
    assert raw_http(stage, b"") == b""
    assert time.monotonic() - started < 3


def test_an_idle_keep_alive_connection_is_closed_after_its_idle_time(stage):
    with socket.create_connection(("127.0.0.1", stage.stage.port), timeout=5) as sock:
        sock.sendall(b"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n")
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 404")
        started = time.monotonic()
        assert sock.recv(65536) == b""  # closed by the stage
    assert 0.5 < time.monotonic() - started < 3


def test_a_client_that_does_not_read_is_closed_and_the_posts_then_get_410(stage, log_path):
    before = {c.connection_id for c in stage.stage.registry}
    sock = open_raw(stage.url)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        target = connection_id(stage, before)
        url = f"{stage.http}/test/@connections/{target}"
        statuses = []
        for _ in range(400):  # up to 40 MB; the kernel's buffers take a few MB
            try:
                urllib.request.urlopen(urllib.request.Request(url, b"x" * 100_000), timeout=5)
                statuses.append(200)
            except urllib.error.HTTPError as exc:
                statuses.append(exc.code)
                break
        assert statuses[-1] == 410
        [event] = logged(log_path, "DISCONNECT", target)
        assert event["requestContext"]["disconnectStatusCode"] == 1001
        assert "does not read" in event["requestContext"]["disconnectReason"]
    finally:
        sock.close()


def test_messages_over_the_in_flight_bound_are_answered_too_many_requests(stage):
    with connect(stage.url) as ws:
        for _ in range(3):  # EchoFn sleeps 3 s on this one, past its 1 s timeout
            ws.send('{"type":"echo","do":"sleep"}')
        answers = [json.loads(ws.recv(timeout=15))["message"] for _ in range(3)]
        assert sorted(answers) == ["Internal server error"] * 2 + ["Too Many Requests"]
        # AND the connection goes on once the calls are done
        assert echo(ws, {"type": "echo"})["routeKey"] == "echo"


def test_a_route_response_over_128_kb_is_internal_server_error_and_the_connection_stays(stage):
    with connect(stage.url) as ws:
        quotes = '{"type":"echo","pad":"' + '\\\\"' * 30_000 + '"}'  # escapes to > 128 KB
        ws.send(iter([quotes[i : i + 30_000] for i in range(0, len(quotes), 30_000)]))
        assert json.loads(ws.recv(timeout=15))["message"] == "Internal server error"
        assert echo(ws, {"type": "echo"})["routeKey"] == "echo"


def test_the_stage_still_serves_after_all_of_it(stage):
    with connect(stage.url) as ws:
        assert echo(ws, {"type": "echo"})["greeting"] == "echo"
