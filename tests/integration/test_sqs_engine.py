"""The SQS engine: moto's SQS app alone, and moto's whole server on the same port when
that app cannot start (a moto release that moved what it imports)."""

import sys

from wslocal.engines import moto_server
from wslocal.engines.sqs import start_sqs


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


def test_when_moto_s_sqs_app_cannot_start_moto_s_server_serves_sqs_on_the_same_port(
    monkeypatch,
):
    real_start = moto_server._start

    def failing_app(command, endpoint, probe):
        if "wslocal.engines.moto_sqs" in command:
            command = [sys.executable, "-c", "raise SystemExit('moved')"]
        return real_start(command, endpoint, probe)

    monkeypatch.setattr(moto_server, "_start", failing_app)
    port = moto_server.free_port()
    with start_sqs(port=port) as engine:
        assert engine.endpoint == f"http://127.0.0.1:{port}"
        sqs = engine.client("us-east-1")
        url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="two")
        assert sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "two"
        assert "moto.server" in engine.process.args
