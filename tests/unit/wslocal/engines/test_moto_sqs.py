"""The SQS engine's app (moto's SQS app alone), driven through Flask's test client."""

import gc
import json

import pytest
from moto.core.model_instances import model_data
from moto.moto_server.werkzeug_app import create_backend_app
from moto.sqs.models import Message, Queue, SQSBackend, sqs_backends

from wslocal.engines.moto_sqs import create_queues, read_retention_directly, untrack_instances

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


@pytest.fixture
def retention_read_directly(monkeypatch):
    """The engine's app with the retention check read from the queue's attribute, moto's
    own put back after the test."""
    app = create_backend_app("sqs")
    monkeypatch.setattr(
        SQSBackend,
        "is_message_valid_based_on_retention_period",
        SQSBackend.is_message_valid_based_on_retention_period,
    )
    read_retention_directly()
    return app


def queue_of(url: str) -> Queue:
    account, name = url.rsplit("/", 2)[-2:]
    return sqs_backends[account][REGION].get_queue(name)


def test_a_receive_builds_no_queue_attributes_for_the_messages_it_hands_out(
    retention_read_directly, monkeypatch
):
    # GIVEN a queue holding ten messages, and the queue's attributes counted as built
    app = retention_read_directly
    url = create_queues(app, HOST, REGION, [{"QueueName": "no-attributes"}])["no-attributes"]
    for index in range(10):
        call(app, "SendMessage", {"QueueUrl": url, "MessageBody": f"m{index}"})
    built = []
    attributes = Queue.attributes
    monkeypatch.setattr(
        Queue, "attributes", property(lambda q: built.append(1) or attributes.fget(q))
    )
    # WHEN all ten are received
    received = call(app, "ReceiveMessage", {"QueueUrl": url, "MaxNumberOfMessages": 10})
    # THEN they came without the queue's attributes being built once
    assert len(received["Messages"]) == 10
    assert built == []


def test_a_message_past_its_queue_retention_period_is_not_received(retention_read_directly):
    # GIVEN a queue keeping messages 60 s, and a message sent 61 s ago
    app = retention_read_directly
    url = create_queues(
        app,
        HOST,
        REGION,
        [{"QueueName": "retained", "Attributes": {"MessageRetentionPeriod": "60"}}],
    )["retained"]
    call(app, "SendMessage", {"QueueUrl": url, "MessageBody": "old"})
    [message] = queue_of(url)._messages
    message.sent_timestamp -= 61_000
    # WHEN the queue is received from
    received = call(app, "ReceiveMessage", {"QueueUrl": url, "MaxNumberOfMessages": 10})
    # THEN the message is not handed out
    assert "Messages" not in received or received["Messages"] == []


def test_a_message_within_its_queue_retention_period_is_received(retention_read_directly):
    # GIVEN a queue keeping messages 60 s, and a message sent 59 s ago
    app = retention_read_directly
    url = create_queues(
        app, HOST, REGION, [{"QueueName": "recent", "Attributes": {"MessageRetentionPeriod": "60"}}]
    )["recent"]
    call(app, "SendMessage", {"QueueUrl": url, "MessageBody": "recent"})
    [message] = queue_of(url)._messages
    message.sent_timestamp -= 59_000
    # WHEN the queue is received from
    received = call(app, "ReceiveMessage", {"QueueUrl": url, "MaxNumberOfMessages": 10})
    # THEN the message is handed out
    assert [m["Body"] for m in received["Messages"]] == ["recent"]
