"""A Management API endpoint with faults injected: it answers chosen posts with a 5xx,
or slowly, and forwards the others to moto's server (which records what arrived)."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit


@dataclass
class Fault:
    """What to do with a post to ``connection_id``: a status to answer instead of
    forwarding it, and/or seconds to wait first."""

    status: int | None = None
    delay_s: float = 0.0


@dataclass
class FaultyConnections:
    upstream: str
    faults: dict[str, Fault] = field(default_factory=dict)
    """By connection id; ``"*"`` for every connection."""
    until: Callable[[str], bool] = lambda connection_id: True
    """Whether a fault still applies (say, only for the first post)."""
    posts: list[tuple[str, int]] = field(default_factory=list)
    """Every post: the connection and the status answered."""

    def start(self) -> str:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                connection_id = unquote(self.path.rsplit("/", 1)[-1])
                fault = owner.faults.get(connection_id) or owner.faults.get("*")
                if fault is not None and owner.until(connection_id):
                    time.sleep(fault.delay_s)
                    if fault.status is not None:
                        owner.posts.append((connection_id, fault.status))
                        self._answer(fault.status, b'{"message":"Internal server error"}')
                        return
                status, answer = owner.forward(self.path, body, dict(self.headers.items()))
                owner.posts.append((connection_id, status))
                self._answer(status, answer)

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self._server.server_port}"

    def forward(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """Pass the signed request on (moto tells the service by its signature)."""
        parts = urlsplit(self.upstream)
        connection = http.client.HTTPConnection(parts.netloc, timeout=10)
        try:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
