"""moto in a process of its own, on a free port: its SQS app alone as the SQS engine
(``wslocal.engines.moto_sqs``), and its whole server as DynamoDB's where Java is missing.

Its own process keeps its state apart (two stages, two servers, two sets of queues) and
keeps its work off the stage's interpreter lock; its request log goes nowhere. It is
bound to the stage's lifeline (``wslocal.lifeline``): it ends when the stage does.
"""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from wslocal import lifeline

START_TIMEOUT_S = 30.0


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def start_moto_server(port: int | None = None) -> tuple[subprocess.Popen[bytes], str] | None:
    """moto's whole server: (process, endpoint) once it answers, or None when moto's
    server extra is not installed. ``port``: one chosen ahead (the stage's workers start
    meanwhile)."""
    port = port or free_port()
    return _start([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                  f"http://127.0.0.1:{port}", "/moto-api/")  # fmt: skip


def start_moto_sqs_server(port: int | None = None) -> tuple[subprocess.Popen[bytes], str] | None:
    """moto's SQS app alone (``wslocal.engines.moto_sqs``), as ``start_moto_server``; when
    it cannot start (it imports a module of moto's own, which a moto release may move),
    moto's whole server on the same port, which serves SQS the same way at a higher cost
    per request."""
    port = port or free_port()
    started = _start([sys.executable, "-m", "wslocal.engines.moto_sqs", str(port)],
                     f"http://127.0.0.1:{port}", "/")  # fmt: skip
    return started if started is not None else start_moto_server(port)


def _start(
    command: list[str], endpoint: str, probe: str
) -> tuple[subprocess.Popen[bytes], str] | None:
    """Start the server and wait until ``probe`` gets an answer, whatever its status."""
    if importlib.util.find_spec("moto.server") is None or importlib.util.find_spec("flask") is None:
        return None
    bound, fds = lifeline.bound(command)
    process = subprocess.Popen(
        bound,
        pass_fds=fds,  # it ends with the stage, however the stage ends
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            with urllib.request.urlopen(f"{endpoint}{probe}", timeout=1):
                return process, endpoint
        except urllib.error.HTTPError:  # an answer: the server is up
            return process, endpoint
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                stop_process(process)
                return None
            time.sleep(0.1)


def stop_process(process: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
    """Terminate, wait up to ``grace_s``, then kill; a Ctrl-C while waiting kills it at
    once (and goes on to the caller)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        except KeyboardInterrupt:
            process.kill()
            process.wait()
            raise
