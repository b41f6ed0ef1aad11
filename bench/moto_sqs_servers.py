"""moto's SQS served other ways than the stage serves it, for ``bench/sqs_engine.py
--servers`` (issue 24): is the HTTP server or Flask in front of moto's SQS backend worth
replacing?

    python bench/moto_sqs_servers.py PORT {werkzeug,granian} {flask,handler}

``werkzeug``: werkzeug's threaded server with the stage's request handler
(``wslocal.engines.moto_sqs.QuietRequestHandler``: kept-alive connections, no request log).
``granian`` (PyPI, a Rust HTTP server with a WSGI interface; installed by hand for the
comparison: ``.venv/bin/pip install granian==2.8.7``): one worker process, forked after the
app is built, its WSGI calls in a pool of Python threads (a long poll holds one), HTTP/1.1
only, no log. ``flask``: the app ``python -m moto.server`` hands SQS requests to, as the stage
serves it (``create_backend_app("sqs")``). ``handler``: moto's own SQS request handler
(``SQSResponse.dispatch``, the view that Flask app routes every SQS path to) called from a
plain WSGI callable, as moto's ``convert_to_flask_response`` calls it, without Flask's
routing, request context and CORS.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import Any

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def sqs_handler_app() -> WsgiApp:
    """moto's SQS request handler behind a plain WSGI callable (what moto's
    ``convert_to_flask_response`` does around it, without Flask)."""
    from botocore.exceptions import ClientError
    from moto.core.request import Request
    from moto.moto_api import recorder
    from moto.sqs.responses import SQSResponse
    from werkzeug.wrappers import Response

    class ServerRequest(Request):
        from_wsgi_server = True  # as moto's Flask app's request class says

    dispatch = SQSResponse().dispatch

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        request = ServerRequest(environ)
        recorder._record_request(request)
        try:
            result = dispatch(request, request.raw_url, dict(request.headers))
        except ClientError as exc:
            result = 400, {}, exc.response["Error"]["Message"]
        status, headers, content = result if len(result) == 3 else (200, {}, result)
        response = Response(response=content, status=status, headers=headers)
        start_response(response.status, response.headers.to_wsgi_list())
        return [response.get_data()]

    return app


def as_list(app: WsgiApp) -> WsgiApp:
    """The app's answer joined into one list: granian writes a list's bytes in one call
    and steps through any other iterable from Rust, a call back into Python a chunk."""

    def joined(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        answer = app(environ, start_response)
        try:
            return list(answer)
        finally:
            getattr(answer, "close", lambda: None)()

    return joined


def serve(port: int, server: str, app_kind: str) -> None:
    if app_kind == "flask":
        from moto.moto_server.werkzeug_app import create_backend_app

        app: WsgiApp = create_backend_app("sqs")
    else:
        app = sqs_handler_app()
    if server == "werkzeug":
        from werkzeug.serving import make_server

        from wslocal.engines.moto_sqs import QuietRequestHandler

        make_server("127.0.0.1", port, app, threaded=True,
                    request_handler=QuietRequestHandler).serve_forever()  # fmt: skip
        return
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces

    Granian("moto_sqs", address="127.0.0.1", port=port, interface=Interfaces.WSGI, workers=1,
            http=HTTPModes.http1, log_enabled=False,
            ).serve(target_loader=lambda *_: as_list(app), wrap_loader=False)  # fmt: skip


if __name__ == "__main__":
    serve(int(sys.argv[1]), sys.argv[2], sys.argv[3])
