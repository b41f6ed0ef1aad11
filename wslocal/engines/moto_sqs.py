"""moto's SQS alone: the app ``python -m moto.server`` hands SQS requests to, served
without moto's dispatcher in front of it and without a request log.

moto's server answers every request through its dispatcher, which lists moto's
service folders on disk and tries every service's URL patterns, under one lock, before
it hands the request to the service's app: about a third of its CPU per SQS call
(docs/benchmarks.md, "The engines"). The stage's queue engine only serves SQS, so it
serves that app itself: the same Flask app, the same backend, the same request handler,
with two of moto's costs taken out that change no answer: the list of every model
instance kept for moto's dashboard (``untrack_instances``) and the walk of the queue in
each received message's retention check (``read_retention_directly``).

    python -m wslocal.engines.moto_sqs PORT [--fd FD] [--region REGION --queues JSON]

``--fd``: serve the listening socket the stage bound ahead and handed down, so a call
made before this process serves waits in the socket's backlog instead of being refused.
``--queues`` (a JSON list of CreateQueue requests, dead-letter queues first): create
them through the app, as a client's CreateQueue would be, before serving anyone; the
queues' URLs are printed, one JSON line, as it starts serving.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from typing import Any

from moto.core.model_instances import model_data
from moto.core.utils import unix_time
from moto.moto_server.werkzeug_app import MotoRequestHandler, create_backend_app
from moto.sqs.models import SQSBackend
from werkzeug.serving import make_server

IDLE_CONNECTION_S = 60.0
"""How long a kept-alive connection may wait for its next request before its thread
closes it: a client gone quiet (a stopped stage's poller) holds no moto thread forever."""


class QuietRequestHandler(MotoRequestHandler):
    """moto's request handler with no line logged per request (nobody reads them), that
    keeps HTTP/1.1 connections alive.

    werkzeug's handler answers every request with ``Connection: close`` (it cannot tell
    whether the app read the whole body, and unread bytes would be taken for the next
    request), so each SQS call, the pollers' and the handlers', was a new TCP connection
    and a new thread in moto. Here a body with a ``Content-Length`` is read whole before
    the app sees it, so the connection is always drained and is kept for the next request,
    in the same thread (a long poll holds only its own connection); a chunked body, or a
    client that asks, still closes it. (werkzeug's ``run_wsgi`` is used as it is; only
    its reads of the connection after an answer find nothing.)"""

    timeout = IDLE_CONNECTION_S
    disable_nagle_algorithm = True
    """An answer is written in pieces (head, body): on a kept-alive connection Nagle's
    algorithm held the body until the client's delayed ACK, 40 ms a call."""
    drained = False
    """This request's body was read whole: the connection can serve the next one."""

    def handle_one_request(self) -> None:
        self.drained = False
        super().handle_one_request()

    def run_wsgi(self) -> None:
        connection_reader = self.rfile
        try:
            super().run_wsgi()
        finally:
            self.rfile = connection_reader

    def make_environ(self) -> dict[str, Any]:
        environ = super().make_environ()
        self.drained = "wsgi.input_terminated" not in environ  # not chunked
        if self.drained:
            body = self.rfile.read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = io.BytesIO(body)
            # werkzeug reads what is left on the connection once it has answered (up to
            # 10 MB, blocking): that would be the next request. Nothing is left.
            self.rfile = io.BytesIO()
        return environ

    def send_header(self, keyword: str, value: str) -> None:
        if keyword.lower() == "connection" and value == "close" and self.drained:
            return  # werkzeug's blanket close; http.server keeps HTTP/1.1 open unless asked
        super().send_header(keyword, value)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


class _Untracked(list[Any]):
    """A model's ``instances_tracked`` that keeps nothing."""

    def append(self, instance: Any) -> None:
        """Not kept: nothing here reads it."""


def untrack_instances(service: str) -> None:
    """Keep no list of ``service``'s model instances. moto appends every instance of a
    model it makes to a list on its class (``BaseModel.__new__``), for its dashboard
    (``/moto-api/data.json``, which this engine does not serve) and emptied only by its
    reset: for SQS, every message sent and the copy each receive makes, bodies included,
    for as long as the engine runs (1.7 KB of a 300-byte message, sent, received and
    deleted; a long session's fan-out shards piled up in the engine). The queues keep
    what they hold themselves."""
    for model in model_data[service].values():
        model.instances_tracked = _Untracked()  # type: ignore[attr-defined]


def _retained(backend: SQSBackend, queue_name: str, message: Any) -> bool:
    """Whether ``message`` is still within its queue's retention period, as moto's check
    answers it: the period is the queue's ``message_retention_period`` (an int, which
    ``Queue.attributes`` reports as ``MessageRetentionPeriod``)."""
    queue: Any = backend.get_queue(queue_name)
    retain_until: float = queue.message_retention_period + message.sent_timestamp / 1000
    return retain_until > unix_time()


def read_retention_directly() -> None:
    """Check a received message's retention against the queue's one attribute. moto's
    ReceiveMessage asks, for every message it hands out, ``get_queue_attributes(...,
    ["MessageRetentionPeriod"])``, which builds every attribute of the queue three times,
    each count walking the whole queue: 40-47 % of the engine's py-spy samples on the chat
    (docs/benchmarks.md, "moto's retention check"), growing with the queue's depth. The
    answer is the same number, read where moto's attributes read it."""
    if not callable(getattr(SQSBackend, "is_message_valid_based_on_retention_period", None)):
        raise RuntimeError("moto's SQSBackend no longer checks retention where this expects")
    SQSBackend.is_message_valid_based_on_retention_period = _retained  # type: ignore[method-assign,assignment]


def create_queues(
    app: object, host: str, region: str, queues: list[dict[str, object]]
) -> dict[str, str]:
    """Each queue made by a CreateQueue through the app (JSON protocol, in ``region``,
    for a client of ``host``); their URLs by name."""
    client = app.test_client()  # type: ignore[attr-defined]
    scope = f"wslocal/20000101/{region}/sqs/aws4_request"
    urls = {}
    for queue in queues:
        answer = client.post(
            "/",
            data=json.dumps(queue),
            headers={
                "Host": host,
                "Content-Type": "application/x-amz-json-1.0",
                "X-Amz-Target": "AmazonSQS.CreateQueue",
                "Authorization": f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, "
                "Signature=0",
            },
        )
        if answer.status_code != 200:
            raise SystemExit(f"CreateQueue {queue['QueueName']}: {answer.get_data(as_text=True)}")
        urls[str(queue["QueueName"])] = json.loads(answer.get_data())["QueueUrl"]
    return urls


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m wslocal.engines.moto_sqs")
    parser.add_argument("port", type=int)
    parser.add_argument("--fd", type=int)
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--queues", type=json.loads, default=[])
    args = parser.parse_args(argv)
    app = create_backend_app("sqs")
    untrack_instances("sqs")
    read_retention_directly()
    urls = create_queues(app, f"127.0.0.1:{args.port}", args.region, args.queues)
    server = make_server(
        "127.0.0.1",
        args.port,
        app,
        threaded=True,
        request_handler=QuietRequestHandler,
        fd=args.fd,
    )
    print(json.dumps(urls), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
