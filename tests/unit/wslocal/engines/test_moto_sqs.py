"""The SQS engine's app (moto's SQS app alone), driven through Flask's test client."""

import gc
import json

import pytest
from moto.core.model_instances import model_data
from moto.moto_server.werkzeug_app import create_backend_app
from moto.sqs.models import Message

from wslocal.engines.moto_sqs import create_queues, untrack_instances

HOST = "127.0.0.1:9324"
REGION = "us-east-1"


def call(app, action: str, request: dict) -> dict:
    answer = app.test_client().post(
        "/",
        data=json.dumps(request),
        headers={
            "Host": HOST,
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": f"AmazonSQS.{action}",
            "Authorization": "AWS4-HMAC-SHA256 Credential=wslocal/20000101/us-east-1/sqs/"
            "aws4_request, SignedHeaders=host, Signature=0",
        },
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return json.loads(answer.get_data() or b"{}")


@pytest.fixture
def untracked(monkeypatch):
    """The engine's app with moto's instance lists off, put back after the test (moto's
    classes are shared with the other tests of this process)."""
    app = create_backend_app("sqs")
    for model in model_data["sqs"].values():
        monkeypatch.setattr(model, "instances_tracked", model.instances_tracked)
    untrack_instances("sqs")
    return app


def test_a_message_received_and_deleted_is_not_kept_by_the_engine(untracked):
    # GIVEN a queue of the engine
    url = create_queues(untracked, HOST, REGION, [{"QueueName": "kept-nothing"}])["kept-nothing"]
    # WHEN a message is sent, received and deleted
    call(untracked, "SendMessage", {"QueueUrl": url, "MessageBody": "soak-marker"})
    [received] = call(untracked, "ReceiveMessage", {"QueueUrl": url})["Messages"]
    call(untracked, "DeleteMessage", {"QueueUrl": url, "ReceiptHandle": received["ReceiptHandle"]})
    # THEN nothing holds it, neither the message sent nor the copy the receive made
    gc.collect()
    kept = [o for o in gc.get_objects() if isinstance(o, Message) and o.body == "soak-marker"]
    assert kept == []
