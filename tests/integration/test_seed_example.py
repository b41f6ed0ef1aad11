"""The seed article's design (examples/seed_chat): WebSocket routes -> HTTP integrations
with request templates -> an aiohttp web server that posts back through @connections,
all on localhost with real WebSocket clients, no deployment and no tunnel."""

import asyncio
import contextlib
import json
import logging
import socket
import struct

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.support.backends import free_port, running_backend
from tests.support.paths import ROOT
from tests.support.raw_websocket import open_raw, send_masked
from tests.support.stage import RunningStage
from wslocal.server import StageConfig
from wslocal.template import build_stage_model, read_template

pytestmark = pytest.mark.integration

EXAMPLE = ROOT / "examples" / "seed_chat"


@contextlib.contextmanager
def seed_chat(backend_port):
    model = build_stage_model(
        read_template(EXAMPLE / "template.yaml"),
        EXAMPLE,
        {"BackendUrl": f"http://127.0.0.1:{backend_port}"},
    )
    with RunningStage(model, StageConfig(port=0, max_workers=1)) as running:
        yield running


@pytest.fixture(scope="module")
def stage():
    port = free_port()
    with seed_chat(port) as running:
        management = f"{running.http}/{running.stage.stage_name}"
        with running_backend(EXAMPLE / "backend.py", port, "--management-endpoint", management):
            yield running


async def session_tasks(stage):
    return {session.task for session in stage.stage.front_door.sessions}


async def served(tasks, timeout=10.0):
    """Whether these clients' tasks (their sessions and whatever logs their end) finished."""
    return not (await asyncio.wait(tasks, timeout=timeout))[1]


def receive(ws):
    return json.loads(ws.recv(timeout=10))


def test_a_message_reaches_every_connection_through_the_web_server(stage):
    with connect(stage.url) as alice, connect(stage.url) as bob:
        alice.send(json.dumps({"action": "sendMessage", "message": "hello"}))
        replies = [receive(alice), receive(alice)]
        got = receive(bob)
    assert got["message"] == "hello"
    assert {"delivered": 2} in replies
    assert any(reply.get("message") == "hello" for reply in replies)


def test_the_request_template_sends_the_connection_id_the_server_posts_back_to(stage):
    with connect(stage.url) as alice:
        alice.send(json.dumps({"action": "sendMessage", "message": {"nested": [1, 2]}}))
        replies = [receive(alice), receive(alice)]
    posted = next(reply for reply in replies if "from" in reply)
    assert posted["message"] == {"nested": [1, 2]}
    assert posted["from"]


def test_a_refusal_of_the_server_comes_back_through_the_4xx_response_template(stage):
    with connect(stage.url) as alice:
        alice.send(json.dumps({"action": "sendMessage", "message": ""}))
        assert receive(alice) == {"error": "message is required"}


def test_a_disconnected_client_is_forgotten_by_the_server(stage):
    with connect(stage.url) as alice:
        with connect(stage.url):
            pass
        alice.send(json.dumps({"action": "sendMessage", "message": "anyone?"}))
        replies = [receive(alice), receive(alice)]
    assert {"delivered": 1} in replies


def test_a_client_that_resets_after_a_frame_is_closed_quietly_and_its_frame_delivered(
    stage, caplog
):
    # wscat -x '{"action":"sendMessage",...}' sends its frame and resets the TCP connection.
    with connect(stage.url) as bob:
        before = stage.call(session_tasks(stage))
        sock = open_raw(stage.url)
        send_masked(sock, 0x1, json.dumps({"action": "sendMessage", "message": "hi"}).encode())
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        reset = stage.call(session_tasks(stage)) - before
        with caplog.at_level(logging.ERROR):
            sock.shutdown(socket.SHUT_WR)  # the stage reads the frame, then the end...
            sock.close()  # ...and its half-close meets a reset connection
            assert receive(bob)["message"] == "hi"
            assert stage.call(served(reset))
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


def test_connect_is_refused_when_the_web_server_is_down():
    with seed_chat(free_port()) as running, pytest.raises(InvalidStatus) as refused:
        connect(running.url, open_timeout=10)
    assert refused.value.response.status_code == 502
