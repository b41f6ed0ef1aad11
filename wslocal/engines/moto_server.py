"""moto's server, in this process, on a free port: the SQS engine, and DynamoDB's where
Java is missing. Its request log stays off (it would print a line per poll)."""

from __future__ import annotations

import logging
import socket
from typing import Any


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def start_moto_server() -> tuple[Any, str] | None:
    """(server, endpoint), or None when moto's server extra is not installed."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        return None
    port = free_port()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return server, f"http://127.0.0.1:{port}"
