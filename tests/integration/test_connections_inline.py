"""``@connections`` calls on a kept-alive connection are answered inline by the front
door (``HttpConnection``); whatever else comes on the same connection is served as it
always was (tests/fixtures/echo_app, short limits)."""

import socket
import time

import pytest
from websockets.sync.client import connect

from tests.integration.test_echo_app import APP, connection_id, echo_stage
from tests.support.stage import RunningStage
from wslocal.apigateway.limits import Limits
from wslocal.faults import FaultPlan
from wslocal.server import StageConfig
from wslocal.template import build_stage_model, read_template

pytestmark = pytest.mark.integration

LIMITS = Limits(request_head_timeout=0.5, keep_alive_idle=1.0)


@pytest.fixture(scope="module")
def stage(tmp_path_factory):
    with echo_stage(tmp_path_factory.mktemp("inline") / "events.jsonl", limits=LIMITS) as running:
        yield running


@pytest.fixture
def client(stage):
    """A connected WebSocket client and its connection id."""
    before = {c.connection_id for c in stage.stage.registry}
    with connect(stage.url) as ws:
        yield ws, connection_id(stage, before)


def post(connection_id: str, body: bytes, *, version: str = "HTTP/1.1") -> bytes:
    return (
        f"POST /test/@connections/{connection_id} {version}\r\nHost: x\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def read_answers(sock: socket.socket, count: int) -> list[bytes]:
    """``count`` bodiless answers' heads (an answer with a body fails the test)."""
    data = b""
    while data.count(b"\r\n\r\n") < count:
        chunk = sock.recv(65536)
        assert chunk, f"closed after {data!r}"
        data += chunk
    heads = data.split(b"\r\n\r\n")[:count]
    assert all(b"Content-Length: 0" in head for head in heads), data
    return heads


def test_pipelined_posts_are_each_delivered_and_answered_in_order(stage, client):
    ws, cid = client
    with socket.create_connection(("127.0.0.1", stage.stage.port), timeout=5) as sock:
        sock.sendall(b"".join(post(cid, f"m{n}".encode()) for n in range(3)))
        heads = read_answers(sock, 3)
    assert [head.split(b"\r\n")[0] for head in heads] == [b"HTTP/1.1 200 OK"] * 3
    assert [ws.recv(timeout=5) for _ in range(3)] == ["m0", "m1", "m2"]


def test_a_post_whose_body_arrives_in_pieces_is_delivered_whole(stage, client):
    ws, cid = client
    request = post(cid, b"x" * 5000)
    with socket.create_connection(("127.0.0.1", stage.stage.port), timeout=5) as sock:
        sock.sendall(request[:100])
        time.sleep(0.05)
        sock.sendall(request[100:3000])
        time.sleep(0.05)
        sock.sendall(request[3000:])
        read_answers(sock, 1)
    assert ws.recv(timeout=5) == "x" * 5000


def test_a_post_to_a_gone_connection_is_answered_410_and_the_connection_kept(stage, client):
    ws, cid = client
    with socket.create_connection(("127.0.0.1", stage.stage.port), timeout=5) as sock:
        sock.sendall(post("gone", b"hi"))
        answer = sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 410")
        assert b"x-amzn-ErrorType: GoneException" in answer
        sock.sendall(post(cid, b"still here"))
        read_answers(sock, 1)
    assert ws.recv(timeout=5) == "still here"


def test_a_chunked_post_after_an_inline_one_is_served_on_the_same_connection(stage, client):
    ws, cid = client
    chunked = (
        f"POST /test/@connections/{cid} HTTP/1.1\r\nHost: x\r\n"
        "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", stage.stage.port), timeout=5) as sock:
        sock.sendall(post(cid, b"first"))
        read_answers(sock, 1)
        sock.sendall(chunked)
        read_answers(sock, 1)
    assert [ws.recv(timeout=5) for _ in range(2)] == ["first", "abcde"]


def test_an_http_1_0_post_is_answered_and_closed(stage, client):
    ws, cid = client
    with socket.create_connection(("127.0.0.1", stage.stage.port), timeout=5) as sock:
        sock.sendall(post(cid, b"old", version="HTTP/1.0"))
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200")
    assert b"Connection: close" in answer
    assert ws.recv(timeout=5) == "old"


def test_a_post_over_the_limit_after_an_inline_one_is_answered_413(stage, client):
    _, cid = client
    too_large = (
        f"POST /test/@connections/{cid} HTTP/1.1\r\nHost: x\r\nContent-Length: 52428800\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", stage.stage.port), timeout=5) as sock:
        sock.sendall(post(cid, b"fits"))
        read_answers(sock, 1)
        sock.sendall(too_large)
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 413")
    assert b"PayloadTooLargeException" in answer


def test_a_head_that_never_ends_after_an_inline_post_gets_408(stage, client):
    _, cid = client
    with socket.create_connection(("127.0.0.1", stage.stage.port), timeout=5) as sock:
        sock.sendall(post(cid, b"one"))
        read_answers(sock, 1)
        sock.sendall(f"POST /test/@connections/{cid} HTTP/1.1\r\nHost: x\r\n".encode())
        started = time.monotonic()
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 408")
    assert time.monotonic() - started < 3


def test_a_body_that_never_ends_gets_408(stage, client):
    _, cid = client
    with socket.create_connection(("127.0.0.1", stage.stage.port), timeout=5) as sock:
        sock.sendall(post(cid, b"0123456789")[:-5])
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 408")


def test_an_idle_connection_after_inline_posts_is_closed_quietly(stage, client):
    _, cid = client
    with socket.create_connection(("127.0.0.1", stage.stage.port), timeout=5) as sock:
        sock.sendall(post(cid, b"then nothing"))
        read_answers(sock, 1)
        started = time.monotonic()
        assert sock.recv(65536) == b""
    assert 0.5 < time.monotonic() - started < 3


def test_an_injected_post_fault_is_answered_500_and_nothing_is_sent(tmp_path):
    model = build_stage_model(
        read_template(APP / "template.yaml"), APP, {"EventLogPath": str(tmp_path / "log")}
    )
    config = StageConfig(port=0, max_workers=1, faults=FaultPlan(post_error=1.0, seed=1))
    with RunningStage(model, config) as running:
        before = {c.connection_id for c in running.stage.registry}
        with connect(running.url) as ws:
            cid = connection_id(running, before)
            with socket.create_connection(("127.0.0.1", running.stage.port), timeout=5) as sock:
                sock.sendall(post(cid, b"lost"))
                answer = sock.recv(65536)
            assert answer.startswith(b"HTTP/1.1 500")
            assert b"InternalServerErrorException" in answer
            with pytest.raises(TimeoutError):
                ws.recv(timeout=0.3)
