"""AWS integrations on the stage with a real client (tests/fixtures/storage_first_app):
a function called without the Lambda proxy (templates both ways, errors chosen by
errorMessage), DynamoDB's PutItem, GetItem, UpdateItem, DeleteItem and Query, and SQS's
SendMessage, each a route writing straight to the stage's engines."""

import json
import urllib.error
import urllib.request

import boto3
import pytest
from websockets.sync.client import connect

from tests.support.paths import FIXTURES
from tests.support.stage import RunningStage, engines_config
from wslocal.engines.dynamodb import create_tables
from wslocal.engines.sqs import start_sqs
from wslocal.template import build_stage_model, read_template

pytestmark = pytest.mark.integration

APP = FIXTURES / "storage_first_app"


@pytest.fixture(scope="module")
def sqs():
    with start_sqs() as engine:
        yield engine


@pytest.fixture(scope="module")
def stage(dynamodb_local, sqs):
    model = build_stage_model(read_template(APP / "template.yaml"), APP)
    create_tables(dynamodb_local, model.tables, model.region)
    config = engines_config(model, dynamodb_local, sqs, max_workers=1)
    with RunningStage(model, config) as running:
        yield running


def ask(ws, payload):
    ws.send(json.dumps(payload))
    return json.loads(ws.recv(timeout=15))


def test_a_lambda_non_proxy_gets_its_template_and_answers_through_it(stage):
    with connect(stage.url) as ws:
        answer = ask(ws, {"op": "shout", "text": "hello"})
    assert answer["shout"] == "HELLO" and answer["from"]


def test_a_lambda_error_is_shaped_by_the_response_its_message_selects(stage):
    with connect(stage.url) as ws:
        assert ask(ws, {"op": "shout", "text": ""}) == {"refused": "text is empty"}


def test_dynamodb_put_get_update_query_and_delete_through_the_api(stage, dynamodb_local):
    note = {"room": "lobby", "id": "n1"}
    with connect(stage.url) as ws:
        assert ask(ws, {"op": "put", **note, "text": "first"}) == {"stored": True}
        assert ask(ws, {"op": "get", **note}) == {"text": "first"}
        updated = ask(ws, {"op": "update", **note, "text": "second"})
        assert updated["Attributes"]["text"] == {"S": "second"}
        assert ask(ws, {"op": "put", "room": "lobby", "id": "n2", "text": "third"})
        assert ask(ws, {"op": "list", "room": "lobby"}) == ["second", "third"]
        assert ask(ws, {"op": "delete", **note}) == {}
        assert ask(ws, {"op": "list", "room": "lobby"}) == ["third"]


def test_sqs_send_message_puts_the_frame_on_the_queue(stage, sqs):
    frame = {"op": "enqueue", "order": 42}
    with connect(stage.url) as ws:
        assert ask(ws, frame) == {"queued": True}
    client = boto3.client(
        "sqs",
        endpoint_url=sqs.endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    url = stage.stage.queue_urls["storage-first-inbox"]
    messages = client.receive_message(QueueUrl=url, WaitTimeSeconds=5).get("Messages", [])
    assert [json.loads(message["Body"]) for message in messages] == [frame]


def test_an_http_apis_sqs_send_message_subtype_queues_the_mapped_body(stage, sqs):
    request = urllib.request.Request(
        f"{stage.stage.proxy_url('Http')}/orders",
        data=json.dumps({"order": {"id": 7, "items": ["tea"]}}).encode(),
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        assert "MessageId" in json.load(response)
    client = boto3.client(
        "sqs",
        endpoint_url=sqs.endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    url = stage.stage.queue_urls["storage-first-orders"]
    messages = client.receive_message(
        QueueUrl=url, WaitTimeSeconds=5, MessageAttributeNames=["All"]
    ).get("Messages", [])
    assert [json.loads(message["Body"]) for message in messages] == [{"id": 7, "items": ["tea"]}]
    assert messages[0]["MessageAttributes"]["source"]["StringValue"] == "http-api"


def post(url, payload, method="POST"):
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def test_a_rest_lambda_non_proxy_answers_by_selection_pattern(stage):
    url = f"{stage.stage.proxy_url('Rest')}/shout"
    assert post(url, {"text": "hey"}) == (200, {"shout": "HEY", "from": "rest"})
    assert post(url, {"text": ""}) == (400, {"refused": "text is empty"})


def test_a_rest_dynamodb_query_reads_the_path_parameter(stage):
    with connect(stage.url) as ws:
        ask(ws, {"op": "put", "room": "rest-room", "id": "a", "text": "x"})
    url = f"{stage.stage.proxy_url('Rest')}/notes/rest-room"
    assert post(url, None, method="GET") == (200, {"count": 1})
