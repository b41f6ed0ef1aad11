"""moto in a process of its own, on a free port: its SQS app alone as the SQS engine
(``wslocal.engines.moto_sqs``), and its whole server as DynamoDB's where Java is missing.

Its own process keeps its state apart (two stages, two servers, two sets of queues) and
keeps its work off the stage's interpreter lock; its request log goes nowhere. It is
bound to the stage's lifeline (``wslocal.lifeline``): it ends when the stage does.
"""

from __future__ import annotations

import importlib.util
import json
import select
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

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


def start_moto_sqs_server(
    port: int | None = None,
    *,
    listener: socket.socket | None = None,
    queues: Sequence[Mapping[str, Any]] = (),
    region: str = "us-east-1",
) -> tuple[subprocess.Popen[bytes], str, dict[str, str]] | None:
    """moto's SQS app alone (``wslocal.engines.moto_sqs``): (process, endpoint, the URLs
    of ``queues``, CreateQueue requests it made before it served anyone), or None when
    moto's server extra is not installed. On ``listener``, a socket bound ahead (calls
    made meanwhile wait in its backlog), else on ``port``. When the app cannot start (it
    imports a module of moto's own, which a moto release may move), moto's whole server
    on the same port, which serves SQS the same way at a higher cost per request; the
    queues are then the caller's to make (no URLs), and a call that waited in the
    listener's backlog meanwhile is reset when the listener closes for it (the whole
    server binds the port itself): its client's retry finds the whole server."""
    if listener is not None:
        port = int(listener.getsockname()[1])
    port = port or free_port()
    command = [sys.executable, "-m", "wslocal.engines.moto_sqs", str(port), "--region", region,
               "--queues", json.dumps(list(queues))]  # fmt: skip
    fds: tuple[int, ...] = ()
    if listener is not None:
        command += ["--fd", str(listener.fileno())]
        fds = (listener.fileno(),)
    started = _start_announcing(command, fds)
    if started is not None:
        return started
    if listener is not None:
        listener.close()  # moto's whole server binds the port itself
    whole = start_moto_server(port)
    return None if whole is None else (*whole, {})


def _installed() -> bool:
    return (
        importlib.util.find_spec("moto.server") is not None
        and importlib.util.find_spec("flask") is not None
    )


def _start_announcing(
    command: list[str], fds: tuple[int, ...]
) -> tuple[subprocess.Popen[bytes], str, dict[str, str]] | None:
    """Start ``wslocal.engines.moto_sqs`` and wait for the line it prints as it starts
    serving (its queues' URLs); None if it exits or says nothing in time."""
    if not _installed():
        return None
    bound, lifeline_fds = lifeline.bound(command)
    process = subprocess.Popen(
        bound,
        pass_fds=(*lifeline_fds, *fds),  # it ends with the stage, however the stage ends
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    assert process.stdout is not None
    with process.stdout:
        ready, _, _ = select.select([process.stdout], [], [], START_TIMEOUT_S)
        line = process.stdout.readline() if ready else b""
    try:
        urls = {str(name): str(url) for name, url in json.loads(line).items()}
    except ValueError:
        stop_process(process)
        return None
    return process, f"http://127.0.0.1:{command[3]}", urls


def _start(
    command: list[str], endpoint: str, probe: str
) -> tuple[subprocess.Popen[bytes], str] | None:
    """Start the server and wait until ``probe`` gets an answer, whatever its status."""
    import urllib.error
    import urllib.request

    if not _installed():
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
