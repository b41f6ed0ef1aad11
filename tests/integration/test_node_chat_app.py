"""A chat of Node.js functions written the way AWS's sample chat is
(tests/fixtures/node_chat_app: ES modules, no dependencies of their own, the AWS SDK v3
from the runtime, the Management API endpoint built from the event's apiId), on the stage
with DynamoDB Local."""

import json
import subprocess
import sys
import time

import boto3
import pytest
from websockets.sync.client import connect

from tests.support.paths import FIXTURES, ROOT
from tests.support.stage import RunningStage
from wslocal.engines.dynamodb import create_tables
from wslocal.server import StageConfig
from wslocal.template import build_stage_model, read_template

pytestmark = pytest.mark.integration

APP = FIXTURES / "node_chat_app"


@pytest.fixture(scope="module")
def node_chat(dynamodb_local):
    model = build_stage_model(read_template(APP / "template.yaml"), APP, {})
    create_tables(dynamodb_local, model.tables, model.region)
    config = StageConfig(
        port=0, endpoints={"AWS_ENDPOINT_URL_DYNAMODB": dynamodb_local.endpoint}, max_workers=2
    )
    with RunningStage(model, config) as running:
        yield running


@pytest.fixture
def connections(node_chat, dynamodb_local):
    table = boto3.resource(
        "dynamodb",
        endpoint_url=dynamodb_local.endpoint,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    ).Table("node_chat_connections")

    def ids() -> set[str]:
        return {item["connectionId"] for item in table.scan()["Items"]}

    return ids


def wait_for(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition did not come true in time"
        time.sleep(0.05)


def test_three_clients_all_receive_what_one_sends(node_chat, connections):
    url = f"{node_chat.url}/Prod"
    with connect(url) as a, connect(url) as b, connect(url) as c:
        wait_for(lambda: len(connections()) >= 3)
        a.send(json.dumps({"action": "sendmessage", "data": "hello from node"}))
        assert [ws.recv(timeout=10) for ws in (a, b, c)] == ["hello from node"] * 3


def test_a_closed_clients_row_is_removed(node_chat, connections):
    before = connections()
    with connect(f"{node_chat.url}/Prod"):
        wait_for(lambda: connections() - before)
        mine = connections() - before
    wait_for(lambda: not (mine & connections()))


def test_invoke_runs_a_node_function_with_a_generated_event():
    wslocal = [sys.executable, "-m", "wslocal.cli"]
    generated = subprocess.run(
        [*wslocal, "generate-event", "websocket", "connect"],
        capture_output=True, text=True, cwd=ROOT, timeout=60, check=True,
    )  # fmt: skip
    result = subprocess.run(
        [*wslocal, "invoke", "OnConnectFunction", "-e", "-",
         "--template", str(APP / "template.yaml"), "--dynamodb", "moto"],
        input=generated.stdout, capture_output=True, text=True, cwd=ROOT, timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"statusCode": 200, "body": "Connected."}
    assert "[OnConnectFunction] REPORT RequestId" in result.stderr
