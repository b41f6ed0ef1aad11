"""An unseen template of the seed's kind (tests/fixtures/relay_app): HTTP integrations with
request templates chosen by the message and request parameters, an HTTP_PROXY route with a
route response, a MOCK ping, and API Gateway's answers when a backend is slow, refuses,
is not there, or a template does not render. Real WebSocket clients, a real web server."""

import json
import logging
import time
import urllib.request

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.support.backends import free_port, running_backend
from tests.support.paths import FIXTURES
from tests.support.stage import RunningStage
from wslocal.server import StageConfig
from wslocal.template import build_stage_model, read_template

pytestmark = pytest.mark.integration

APP = FIXTURES / "relay_app"


@pytest.fixture(scope="module")
def backend():
    with running_backend(APP / "backend.py", free_port()) as url:
        yield url


@pytest.fixture(scope="module")
def stage(backend):
    model = build_stage_model(read_template(APP / "template.yaml"), APP, {"Backend": backend})
    with RunningStage(model, StageConfig(port=0, max_workers=1)) as running:
        yield running


def seen(backend, path, at_least=1, timeout=10):
    """The requests the backend got at ``path``, once there are ``at_least`` of them (a
    one-way route's call may still be on its way when the test asks)."""
    deadline = time.monotonic() + timeout
    while True:
        with urllib.request.urlopen(f"{backend}/seen", timeout=5) as response:
            found = [request for request in json.load(response) if request["path"] == path]
        if len(found) >= at_least or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def gateway_message(ws):
    answer = json.loads(ws.recv(timeout=10))
    assert set(answer) == {"message", "connectionId", "requestId"}
    return answer["message"]


def test_connect_reaches_the_backend_with_its_template_and_parameters(stage, backend):
    with connect(f"{stage.url}/live?name=alice"):
        pass
    (request,) = seen(backend, "/members/alice")
    assert json.loads(request["body"]) == {"event": "CONNECT", "route": "$connect"}
    assert request["query"] == {"ip": "127.0.0.1"}
    assert request["headers"]["X-Connection"]


def test_connect_is_refused_with_the_backends_status(stage):
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{stage.url}?name=mallory", open_timeout=10)
    assert refused.value.response.status_code == 403


def test_the_message_selects_its_request_template(stage, backend):
    with connect(f"{stage.url}?name=bob") as ws:
        ws.send(json.dumps({"type": "say", "format": "loud", "text": 'a "quote"'}))
        ws.send(json.dumps({"type": "say", "text": "plain"}))
        bodies = [json.loads(request["body"]) for request in seen(backend, "/say", 2)]
    assert {"text": 'a "quote"', "loud": True} in [
        {k: v for k, v in body.items() if k != "from"} for body in bodies
    ]
    assert any(body.get("text") == "plain" and "loud" not in body for body in bodies)


def test_an_http_proxy_route_response_returns_the_backends_body(stage):
    with connect(f"{stage.url}?name=carol") as ws:
        ws.send('{"type": "shout", "text": "hey"}')
        assert ws.recv(timeout=10) == '{"TYPE": "SHOUT", "TEXT": "HEY"}'


def test_a_mock_answers_from_its_response_template(stage):
    with connect(f"{stage.url}?name=dan") as ws:
        ws.send('{"type": "ping"}')
        answer = json.loads(ws.recv(timeout=10))
    assert answer["type"] == "pong" and answer["connection"]


def test_a_4xx_is_shaped_by_its_integration_response(stage):
    with connect(f"{stage.url}?name=erin") as ws:
        ws.send('{"type": "reject"}')
        assert json.loads(ws.recv(timeout=10)) == {"refused": "not today"}


def test_a_backend_past_the_timeout_gets_endpoint_request_timed_out(stage):
    with connect(f"{stage.url}?name=fay") as ws:
        ws.send('{"type": "slow"}')
        assert gateway_message(ws) == "Endpoint request timed out"


def test_a_backend_that_is_not_there_gets_internal_server_error(stage):
    with connect(f"{stage.url}?name=gus") as ws:
        ws.send('{"type": "gone"}')
        assert gateway_message(ws) == "Internal server error"


def test_a_template_that_does_not_render_is_logged_not_shown(stage, caplog):
    with caplog.at_level(logging.WARNING, logger="wslocal"), connect(f"{stage.url}?name=hal") as ws:
        ws.send('{"type": "broken"}')
        assert gateway_message(ws) == "Internal server error"
    assert any("request template does not render" in r.getMessage() for r in caplog.records)
