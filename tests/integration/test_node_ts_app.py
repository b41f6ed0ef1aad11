"""A TypeScript SAM app (tests/fixtures/node_ts_app: BuildMethod esbuild, a package.json
dependency bundled in, the SDK v3 left to the runtime) serving its REST routes against
DynamoDB Local; an edit to its .ts file reaches the next call, rebuilt."""

import json
import shutil
import time

import pytest

from tests.support.http import call
from tests.support.paths import FIXTURES
from tests.support.stage import RunningStage
from wslocal.engines.dynamodb import create_tables
from wslocal.server import StageConfig
from wslocal.template import build_stage_model, read_template

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """A copy of the app, so a test may edit it."""
    folder = tmp_path_factory.mktemp("ts") / "node_ts_app"
    shutil.copytree(FIXTURES / "node_ts_app", folder)
    return folder


@pytest.fixture(scope="module")
def ts_stage(app, dynamodb_local):
    model = build_stage_model(read_template(app / "template.yaml"), app, {})
    create_tables(dynamodb_local, model.tables, model.region)
    config = StageConfig(
        port=0,
        endpoints={"AWS_ENDPOINT_URL_DYNAMODB": dynamodb_local.endpoint},
        max_workers=2,
        watch=True,
    )
    with RunningStage(model, config) as running:
        yield running


def items(stage, method="GET", path="", body=None):
    status, _, answer = call(
        stage.stage.proxy_url("ServerlessRestApi"),
        method=method,
        path=f"/items{path}",
        headers=[("Content-Type", "application/json")] if body else [],
        body=json.dumps(body).encode() if body else b"",
    )
    return status, json.loads(answer)


def test_a_posted_item_is_read_back_with_what_the_dependency_computed(ts_stage):
    assert items(ts_stage, "POST", body={"id": "a1", "name": "anvil"}) == (
        201,
        {"id": "a1", "name": "anvil", "keepForMs": 172800000},
    )
    assert items(ts_stage, path="/a1") == (
        200,
        {"id": "a1", "name": "anvil", "keepForMs": 172800000},
    )


def test_a_bad_request_gets_the_handlers_own_answer(ts_stage):
    assert items(ts_stage, "POST", body={"id": "a2"}) == (
        400,
        {"message": "id and name are required"},
    )


def test_an_edit_to_the_typescript_reaches_the_next_call(ts_stage, app):
    source = app / "items" / "app.ts"
    source.write_text(source.read_text().replace("no item", "nothing stored as"))
    deadline = time.monotonic() + 30
    while items(ts_stage, path="/zz") != (404, {"message": "nothing stored as zz"}):
        assert time.monotonic() < deadline, "the edit was not served"
        time.sleep(0.2)
