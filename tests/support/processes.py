"""Processes as the tests look at them: a process tree, whether a process still runs
(a zombie nobody reaps has ended), and the stage's processes a test run left behind."""

import contextlib
import os
import re
import signal
import subprocess
import time
from pathlib import Path

STAGE_PROCESSES = re.compile(
    r"moto\.server|moto_sqs|DynamoDBLocal|wslocal\.runtime|wslocal(\.cli)? start"
)
"""What the stage and its engines look like in ``ps`` (the before-stop hook's patterns)."""


def children_of(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(line) for line in out.stdout.split()]


def descendants_of(pid: int) -> list[int]:
    """Every process under ``pid``, children first."""
    found, pending = [], children_of(pid)
    while pending:
        child = pending.pop(0)
        found.append(child)
        pending.extend(children_of(child))
    return found


def running(pid: int) -> bool:
    """Alive, and not a zombie (an orphan's zombie may wait long for a reaper)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def still_running(pids: list[int], timeout: float) -> list[int]:
    """The ``pids`` still running once they have all ended or ``timeout`` has passed."""
    deadline = time.monotonic() + timeout
    while True:
        left = [pid for pid in pids if running(pid)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


def command_line(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace")


def stage_processes_of(session_marker: str, ancestor: int) -> dict[int, str]:
    """The stage-like processes (``STAGE_PROCESSES``) that are under ``ancestor`` or carry
    ``session_marker`` in their environment (an orphan has lost its ancestry)."""
    under = set(descendants_of(ancestor))
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or not running(int(entry.name)):
            continue
        line = command_line(int(entry.name))
        if not STAGE_PROCESSES.search(line):
            continue
        try:
            ours = session_marker.encode() in (entry / "environ").read_bytes()
        except OSError:
            ours = False
        if ours or int(entry.name) in under:
            found[int(entry.name)] = line
    return found


def kill_all(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


class FakeProcess:
    """The part of a worker's process a pool uses, for pools of fake workers: a pid, and a
    return code once killed."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def kill(self) -> None:
        self.returncode = -9

    async def wait(self) -> int:
        return self.returncode or 0
