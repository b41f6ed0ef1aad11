"""A REST API written as CloudFormation resources (tests/fixtures/rest_resources_app: no
OpenAPI body, AWS::ApiGateway::Resource/Method/Deployment/Stage) served on the stage and
called over real HTTP: its Lambda proxy method, its MOCK rendering Velocity, its HTTP
integration to a web server with a request template and integration responses, its
TOKEN authorizer."""

import json

import pytest

from tests.support.backends import free_port, requests_seen, running_backend
from tests.support.http import answered
from tests.support.paths import FIXTURES
from tests.support.stage import RunningStage
from wslocal.server import StageConfig
from wslocal.template import build_stage_model, read_template

pytestmark = pytest.mark.integration

APP = FIXTURES / "rest_resources_app"
BACKEND = FIXTURES / "relay_app" / "backend.py"


@pytest.fixture(scope="module")
def backend():
    with running_backend(BACKEND, free_port()) as url:
        yield url


@pytest.fixture(scope="module")
def api(backend):
    model = build_stage_model(read_template(APP / "template.yaml"), APP, {"Backend": backend})
    with RunningStage(model, StageConfig(port=0, max_workers=1)) as running:
        yield running.stage.proxy_url("Api")


call = answered


def test_the_stage_resource_names_the_path_prefix(api):
    assert api.endswith("/v1")


def test_a_lambda_proxy_method_on_a_nested_resource_gets_its_path_parameters(api):
    status, _, body = call(f"{api}/items/42")
    assert status == 200
    assert json.loads(body) == {
        "resource": "/items/{id}",
        "path": "/items/42",
        "pathParameters": {"id": "42"},
        "stage": "v1",
        "stageVariables": {"color": "blue"},
    }


def test_a_mock_method_renders_the_response_its_request_templates_status_picks(api):
    ok = call(f"{api}/health")
    down = call(f"{api}/health?deep=yes")
    assert (ok[0], json.loads(ok[2])) == (200, {"healthy": True, "stage": "v1", "color": "blue"})
    assert (down[0], json.loads(down[2])) == (503, {"healthy": False, "stage": "v1"})


def test_an_http_method_sends_its_request_template_and_answers_its_integration_response(
    api, backend
):
    status, headers, body = call(
        f"{api}/notes",
        b'{"text": "hi"}',
        {"Content-Type": "application/json", "X-Who": "ann"},
        method="POST",
    )
    assert (status, json.loads(body), headers["X-Backend"]) == (201, {"saved": True}, "relay")
    request = requests_seen(backend, "/say")[-1]
    assert json.loads(request["body"]) == {"text": "hi", "stage": "v1"}
    assert request["headers"]["X-Caller"] == "ann"


def test_an_http_methods_selection_pattern_picks_the_status_and_template(api):
    status, _, body = call(f"{api}/notes/refused", b"{}", method="POST")
    assert (status, json.loads(body)) == (409, {"refused": "not today"})


def test_a_path_with_no_method_is_answered_as_api_gateway_answers_it(api):
    status, _, body = call(f"{api}/items")
    assert (status, json.loads(body)) == (403, {"message": "Missing Authentication Token"})


def test_a_custom_method_is_called_only_when_its_token_authorizer_allows(api):
    missing = call(f"{api}/items/secret")
    denied = call(f"{api}/items/secret", headers={"Authorization": "Bearer nope"})
    allowed = call(f"{api}/items/secret", headers={"Authorization": "Bearer let-me-in"})
    assert (missing[0], json.loads(missing[2])) == (401, {"message": "Unauthorized"})
    assert denied[0] == 403
    assert (allowed[0], json.loads(allowed[2])["resource"]) == (200, "/items/secret")
