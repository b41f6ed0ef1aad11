"""moto's SQS alone: the app ``python -m moto.server`` hands SQS requests to, served
without moto's dispatcher in front of it and without a request log.

moto's server answers every request through its dispatcher, which lists moto's
service folders on disk and tries every service's URL patterns, under one lock, before
it hands the request to the service's app: about a third of its CPU per SQS call
(docs/benchmarks.md, "The engines"). The stage's queue engine only serves SQS, so it
serves that app itself: the same Flask app, the same backend, the same request handler.

    python -m wslocal.engines.moto_sqs PORT [--fd FD] [--region REGION --queues JSON]

``--fd``: serve the listening socket the stage bound ahead and handed down, so a call
made before this process serves waits in the socket's backlog instead of being refused.
``--queues`` (a JSON list of CreateQueue requests, dead-letter queues first): create
them through the app, as a client's CreateQueue would be, before serving anyone; the
queues' URLs are printed, one JSON line, as it starts serving.
"""

from __future__ import annotations

import argparse
import json
import sys

from moto.moto_server.werkzeug_app import MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server


class QuietRequestHandler(MotoRequestHandler):
    """moto's request handler with no line logged per request: nobody reads them."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


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
