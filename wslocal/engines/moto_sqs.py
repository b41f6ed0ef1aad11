"""moto's SQS alone: the app ``python -m moto.server`` hands SQS requests to, served
without moto's dispatcher in front of it and without a request log.

moto's server answers every request through its dispatcher, which lists moto's
service folders on disk and tries every service's URL patterns, under one lock, before
it hands the request to the service's app: about a third of its CPU per SQS call
(docs/benchmarks.md, "The engines"). The stage's queue engine only serves SQS, so it
serves that app itself: the same Flask app, the same backend, the same request handler.

    python -m wslocal.engines.moto_sqs PORT
"""

from __future__ import annotations

import sys

from moto.moto_server.werkzeug_app import MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple


class QuietRequestHandler(MotoRequestHandler):
    """moto's request handler with no line logged per request: nobody reads them."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


def main(argv: list[str]) -> None:
    run_simple(
        "127.0.0.1",
        int(argv[0]),
        create_backend_app("sqs"),
        threaded=True,
        request_handler=QuietRequestHandler,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
