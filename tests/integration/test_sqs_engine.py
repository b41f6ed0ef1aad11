"""The SQS engine: moto's SQS app alone, and moto's whole server on the same port when
that app cannot start (a moto release that moved what it imports); started by
``wslocal start`` after the stage serves, on a socket bound ahead, without losing a call
made before."""

import http.client
import socket
import threading
import time
from urllib.parse import urlsplit

from moto.moto_server.werkzeug_app import create_backend_app
from werkzeug.serving import make_server

from tests.support.paths import ROOT, TEMPLATE
from tests.support.tables import chat_model
from wslocal.engines import moto_server
from wslocal.engines.dynamodb import client
from wslocal.engines.moto_sqs import IDLE_CONNECTION_S, QuietRequestHandler
from wslocal.engines.provisioning import EnginePlan, start_engines, start_queues
from wslocal.engines.sqs import start_sqs
from wslocal.template import build_stage_model, read_template


def test_the_engine_serves_sqs_from_moto_s_sqs_app():
    with start_sqs() as engine:
        sqs = engine.client("us-east-1")
        url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="one")
        [message] = sqs.receive_message(QueueUrl=url)["Messages"]
        assert message["Body"] == "one"
        assert b"wslocal.engines.moto_sqs" in b" ".join(
            part.encode() for part in engine.process.args
        )


def test_the_queues_it_starts_with_are_made_before_it_answers_with_their_attributes():
    model = build_stage_model(read_template(TEMPLATE), ROOT, region="eu-west-1")
    with start_sqs(queues=model.queues, region=model.region) as engine:
        assert b"wslocal.engines.moto_sqs" in " ".join(engine.process.args).encode()
        assert sorted(engine.queue_urls) == sorted(queue.queue_name for queue in model.queues)
        sqs = engine.client(model.region)
        attributes = sqs.get_queue_attributes(
            QueueUrl=engine.queue_urls["FanOutQueue"], AttributeNames=["All"]
        )["Attributes"]
        assert attributes["VisibilityTimeout"] == "180"
        assert "FanOutDeadLetterQueue" in attributes["RedrivePolicy"]
        assert attributes["QueueArn"].startswith("arn:aws:sqs:eu-west-1:")


def test_when_moto_s_sqs_app_cannot_start_moto_s_server_serves_sqs_on_the_same_port(
    monkeypatch,
):
    monkeypatch.setattr(moto_server, "_start_announcing", lambda command, fds: None)
    port = moto_server.free_port()
    model = chat_model()
    with start_sqs(port=port, queues=model.queues) as engine:
        assert engine.endpoint == f"http://127.0.0.1:{port}"
        assert "moto.server" in engine.process.args
        assert sorted(engine.queue_urls) == sorted(queue.queue_name for queue in model.queues)
        sqs = engine.client("us-east-1")
        url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="two")
        assert sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "two"


def test_a_message_sent_before_sqs_started_waits_for_it_and_is_delivered():
    model = chat_model()
    plan = EnginePlan.ahead(model)
    engines, provisioned = start_engines(model, search_from=ROOT, plan=plan)
    try:
        assert engines.sqs is None  # left for after the stage serves
        url = provisioned.queue_urls["FanOutQueue"]
        sqs = client(provisioned.endpoints["AWS_ENDPOINT_URL_SQS"], "us-east-1", service="sqs")
        sent: dict[str, object] = {}
        sending = threading.Thread(
            target=lambda: sent.update(sqs.send_message(QueueUrl=url, MessageBody="early"))
        )
        sending.start()
        sending.join(0.5)
        assert sending.is_alive()  # waiting in the socket's backlog, not refused
        start_queues(engines, model, provisioned.queue_urls)
        sending.join(30)
        assert "MessageId" in sent
        [message] = sqs.receive_message(QueueUrl=url)["Messages"]
        assert message["Body"] == "early"
        assert engines.queue_urls == dict(provisioned.queue_urls)
    finally:
        engines.stop()


LIST_QUEUES_HEADERS = {
    "Content-Type": "application/x-amz-json-1.0",
    "X-Amz-Target": "AmazonSQS.ListQueues",
    "Authorization": "AWS4-HMAC-SHA256 Credential=wslocal/20000101/us-east-1/sqs/aws4_request, "
    "SignedHeaders=host, Signature=0",
}


def test_the_engine_keeps_a_connection_alive_between_requests():
    with start_sqs() as engine:
        address = urlsplit(engine.endpoint)
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
        try:
            answers = []
            started = time.monotonic()
            for _ in range(2):
                connection.request("POST", "/", body=b"{}", headers=LIST_QUEUES_HEADERS)
                answer = connection.getresponse()
                answer.read()
                answers.append((answer.status, answer.getheader("Connection")))
                if len(answers) == 1:
                    first_socket = connection.sock
            took_s = time.monotonic() - started
            assert connection.sock is first_socket  # http.client did not reconnect
        finally:
            connection.close()
    assert answers == [(200, None), (200, None)]
    assert took_s < 1.0  # no wait on a drain of the connection, nor on Nagle's algorithm


class BrieflyIdleHandler(QuietRequestHandler):
    """The engine's handler with its idle timeout shortened for the test."""

    timeout = 0.2


def test_a_connection_idle_past_the_engine_s_timeout_is_closed():
    assert QuietRequestHandler.timeout == IDLE_CONNECTION_S == 60.0
    server = make_server(
        "127.0.0.1", 0, create_backend_app("sqs"), threaded=True,
        request_handler=BrieflyIdleHandler,
    )  # fmt: skip
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    try:
        with socket.create_connection(("127.0.0.1", server.server_port), timeout=5) as idle:
            assert idle.recv(1) == b""  # the server closed it, not our 5 s timeout
    finally:
        server.shutdown()
        serving.join(5)
