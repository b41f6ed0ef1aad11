"""Web servers the stage's HTTP integrations call, run as real processes on free ports."""

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from wslocal.engines.moto_server import free_port

__all__ = ["free_port", "requests_seen", "running_backend"]


def requests_seen(backend: str, path: str) -> list[dict]:
    """The requests the relay backend (tests/fixtures/relay_app/backend.py) got on ``path``."""
    with urllib.request.urlopen(f"{backend}/seen", timeout=5) as response:
        return [request for request in json.load(response) if request["path"] == path]


@contextlib.contextmanager
def running_backend(script: Path, port: int, *args: str) -> Iterator[str]:
    """Run ``script --port port *args``; yield its URL once it accepts connections."""
    process = subprocess.Popen(
        [sys.executable, str(script), "--port", str(port), *args],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{script.name} did not start on port {port}") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
