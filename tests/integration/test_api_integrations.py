"""REST and HTTP APIs in front of a web server (tests/fixtures/relay_apis): REST's HTTP
integration (request template by content type, 415 when passthrough is NEVER, integration
responses by selectionPattern with status, response parameters and templates), REST's
and HTTP APIs' HTTP_PROXY (the HTTP API's with parameter mapping), over real HTTP."""

import json

import pytest

from tests.support.backends import free_port, requests_seen, running_backend
from tests.support.http import answered
from tests.support.paths import FIXTURES
from tests.support.stage import RunningStage
from wslocal.server import StageConfig
from wslocal.template import build_stage_model, read_template

pytestmark = pytest.mark.integration

APP = FIXTURES / "relay_apis"
BACKEND = FIXTURES / "relay_app" / "backend.py"


@pytest.fixture(scope="module")
def backend():
    with running_backend(BACKEND, free_port()) as url:
        yield url


@pytest.fixture(scope="module")
def stage(backend):
    model = build_stage_model(read_template(APP / "template.yaml"), APP, {"Backend": backend})
    with RunningStage(model, StageConfig(port=0, max_workers=1)) as running:
        yield running


def call(url, body=b"", headers=None, method="POST"):
    return answered(url, body, headers, method)


def test_rest_renders_the_template_for_the_content_type(stage, backend):
    status, headers, body = call(
        f"{stage.stage.proxy_url('Rest')}/notes",
        b'{"text": "hi"}',
        {"Content-Type": "application/json", "X-Who": "ann"},
    )
    assert (status, json.loads(body), headers["X-Backend"]) == (201, {"saved": True}, "relay")
    request = requests_seen(backend, "/say")[-1]
    assert json.loads(request["body"]) == {"text": "hi", "stage": "prod"}
    assert request["headers"]["X-Caller"] == "ann"


def test_rest_without_a_template_for_the_content_type_is_415_when_passthrough_is_never(stage):
    status, _, body = call(
        f"{stage.stage.proxy_url('Rest')}/notes", b"hi", {"Content-Type": "text/plain"}
    )
    assert (status, json.loads(body)) == (415, {"message": "Unsupported Media Type"})


def test_rest_selection_pattern_picks_the_status_and_template(stage):
    status, _, body = call(f"{stage.stage.proxy_url('Rest')}/refused", b"{}")
    assert (status, json.loads(body)) == (409, {"refused": "not today"})


def test_a_rest_mock_renders_the_response_its_request_templates_status_picks(stage):
    health = f"{stage.stage.proxy_url('Rest')}/health"
    ok = call(health, None, method="GET")
    down = call(f"{health}?deep=yes", None, method="GET")
    assert (ok[0], json.loads(ok[2])) == (200, {"healthy": True, "stage": "prod"})
    assert (down[0], json.loads(down[2])) == (503, {"healthy": False, "stage": "prod"})


def test_rest_http_proxy_passes_the_request_and_answer_through(stage, backend):
    status, _, body = call(f"{stage.stage.proxy_url('Rest')}/pass/echo?x=1", b"quiet")
    assert (status, body) == (200, "QUIET")
    assert requests_seen(backend, "/echo")[-1]["query"] == {"x": "1"}


def test_http_api_parameter_mapping_changes_the_proxied_request(stage, backend):
    status, _, body = call(
        f"{stage.stage.proxy_url('Http')}/shout?via=client&keep=1",
        b"loud",
        {"X-Tags": "a", "X-Secret": "s", "X-Who": "client"},
    )
    assert (status, body) == (200, "LOUD")
    request = requests_seen(backend, "/echo")[-1]
    assert request["headers"]["X-Tags"] == "a,extra"
    assert "X-Secret" not in request["headers"]
    assert request["headers"]["X-Who"] not in ("client", "")
    assert request["query"] == {"keep": "1", "via": "gateway"}
