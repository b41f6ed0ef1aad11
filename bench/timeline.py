"""The critical path of one message, hop by hop (issue 24): ``bench/fanout.py --timeline``.

The stage's output goes through a stamper, a process of its own that notes the wall clock
as each line arrives (a thread of the bench would stamp late while the bench's loop reads
499 frames), so every invocation's START and REPORT line has a time. With the clients'
arrival times, and the age the SQS poller gives each batch it invokes (``Age: N ms`` on
the START line, from SQS's ``SentTimestamp``), one message reads as a row of points, each
in ms after the sender's frame left the client. The CPU each kind of process spent over
the round (from ``/proc/<pid>/stat``, ended threads included) tells waiting from working:
on two cores, a round that used less than twice its wall time of CPU waited for
something (or for the other processes of the machine).
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from profiles import engine_of, function_of

STAMPER = """
import sys, time
out = sys.stdout.buffer
for line in sys.stdin.buffer:
    out.write(b"%.6f " % time.time() + line)
    out.flush()
"""
"""Copies stdin to stdout, each line prefixed with the wall clock when it arrived."""

LINE = re.compile(r"^\[(?P<function>[\w-]+)\] (?P<kind>START|REPORT) RequestId: (?P<id>\S+)")
DURATION = re.compile(r"\tDuration: (?P<ms>[\d.]+) ms")
AGE = re.compile(r" Age: (?P<ms>\d+) ms")
SENDER = "SendMessageFunction"
SHARDS = "FanOutFunction"


def start_stamper(source: IO[str]) -> subprocess.Popen[str]:
    """A process that stamps each line of ``source`` (the stage's output)."""
    return subprocess.Popen(
        [sys.executable, "-c", STAMPER], stdin=source, stdout=subprocess.PIPE, text=True
    )


def read_stamped(line: str) -> tuple[float, str]:
    """(wall clock s, the line as the stage wrote it) from a stamped line."""
    stamp, _, text = line.partition(" ")
    return float(stamp), text.rstrip("\n")


class StampedLog:
    """The stage's stamped lines, kept while the bench runs (a thread reads them)."""

    def __init__(self) -> None:
        self._lines: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def add(self, stamped: tuple[float, str]) -> None:
        with self._lock:
            self._lines.append(stamped)

    def between(self, first_s: float, last_s: float) -> list[tuple[float, str]]:
        with self._lock:
            return [(s, text) for s, text in self._lines if first_s <= s <= last_s]


@dataclass
class Invocation:
    function: str
    started_s: float
    ended_s: float | None = None
    duration_ms: float | None = None
    age_ms: float | None = None
    """For an SQS batch: how long its oldest message had been in the queue."""


def invocations(lines: Iterable[tuple[float, str]]) -> list[Invocation]:
    """The invocations whose START is among ``lines``, with their REPORT when it is too."""
    found: dict[str, Invocation] = {}
    for stamp, text in lines:
        match = LINE.match(text)
        if match is None:
            continue
        if match["kind"] == "START":
            age = AGE.search(text)
            found[match["id"]] = Invocation(
                match["function"], stamp, age_ms=float(age["ms"]) if age else None
            )
        elif (invocation := found.get(match["id"])) is not None:
            duration = DURATION.search(text)
            invocation.ended_s = stamp
            invocation.duration_ms = float(duration["ms"]) if duration else None
    return list(found.values())


POINTS = (
    "SendMessageFunction starts",
    "ack reaches the sender",
    "shards are in SQS (SentTimestamp)",
    "first FanOutFunction starts",
    "last FanOutFunction starts",
    "first member has it",
    "SendMessageFunction ends",
    "first FanOutFunction ends",
    "last FanOutFunction ends",
    "last member has it",
)
"""The points of a round's timeline, in the order they usually come."""


def round_points(
    sent_s: float,
    ack_s: float | None,
    arrivals_s: Sequence[float],
    calls: Sequence[Invocation],
) -> dict[str, float]:
    """ms after ``sent_s`` of each point of ``POINTS`` the round has."""
    points: dict[str, float] = {}

    def note(name: str, at_s: float | None) -> None:
        if at_s is not None:
            points[name] = (at_s - sent_s) * 1000

    sender = next((c for c in calls if c.function == SENDER), None)
    shards = sorted((c for c in calls if c.function == SHARDS), key=lambda c: c.started_s)
    note(POINTS[0], sender.started_s if sender else None)
    note(POINTS[1], ack_s)
    queued = [c.started_s - c.age_ms / 1000 for c in shards if c.age_ms is not None]
    note(POINTS[2], min(queued) if queued else None)
    note(POINTS[3], shards[0].started_s if shards else None)
    note(POINTS[4], shards[-1].started_s if shards else None)
    note(POINTS[5], min(arrivals_s) if arrivals_s else None)
    note(POINTS[6], sender.ended_s if sender else None)
    ends = sorted(c.ended_s for c in shards if c.ended_s is not None)
    note(POINTS[7], ends[0] if ends else None)
    note(POINTS[8], ends[-1] if ends else None)
    note(POINTS[9], max(arrivals_s) if arrivals_s else None)
    return points


def durations(calls: Sequence[Invocation], function: str) -> list[float]:
    return [c.duration_ms for c in calls if c.function == function and c.duration_ms is not None]


def cpu_ns(pid: int) -> int:
    """CPU time of a process, threads that have ended included, in ns (0 once it has
    gone): /proc's user + system ticks, so a round's figure is good to a tick (10 ms);
    the report gives the mean over the rounds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    return (int(fields[11]) + int(fields[12])) * 1_000_000_000 // os.sysconf("SC_CLK_TCK")


def kind_of(pid: int, stage_pid: int, bench_pid: int) -> str:
    """What a process is: the bench (its clients), the stage, a function's workers
    (``function_of``: a fork by its code folder, since its /proc environ is its fork
    server's), a fork server, DynamoDB Local, moto."""
    if pid == stage_pid:
        return "stage"
    if pid == bench_pid:
        return "bench (its clients)"
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
        parent = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]
        parent_command = Path(f"/proc/{parent}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return "other"
    if b"lifeline" in command:
        return "lifelines"
    if engine_of(command) == "jvm":
        return "DynamoDB Local"
    if engine_of(command) == "sqs":
        return "moto (SQS)"
    if engine_of(command) == "moto":
        return "moto (DynamoDB)"
    if b"forkserver" in command and b"forkserver" not in parent_command:
        return "fork servers"
    try:
        function = function_of(pid)
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return "other"
    return "other" if function is None else function


def cpu_by_kind(pids: Iterable[int], kind: Callable[[int], str]) -> dict[str, int]:
    """ns of CPU by kind of process, now."""
    totals: dict[str, int] = {}
    for pid in pids:
        name = kind(pid)
        totals[name] = totals.get(name, 0) + cpu_ns(pid)
    return totals


@dataclass
class Round:
    points: dict[str, float]
    pickups: list[tuple[float, float | None, float | None]]
    """Each FanOutFunction invocation: (ms after the send it started, its batch's age in
    the queue then, its Duration)."""
    sender_ms: list[float]
    shard_ms: list[float]
    cpu_ms: dict[str, float]
    """CPU by kind of process over the round (the send until the round's end)."""
    wall_ms: float
    """The send until the round's end (its last delivery and a pause, for the REPORTs)."""


def cpu_spent(before: dict[str, int], after: dict[str, int]) -> dict[str, float]:
    """ms of CPU by kind between two readings (a process gone in between counts 0)."""
    return {
        kind: max(0, after.get(kind, 0) - before.get(kind, 0)) / 1e6
        for kind in sorted(set(before) | set(after))
    }


def report(rounds: Sequence[Round], label: str) -> list[str]:
    """The p50 of each point over ``rounds``, and where the CPU went, as lines."""
    lines = [f"timeline of one message ({label}), p50 of {len(rounds)} rounds, ms after the send:"]
    for point in POINTS:
        values = [r.points[point] for r in rounds if point in r.points]
        if values:
            lines.append(f"  {point:<40} {statistics.median(values):8.1f}")
    sender = [ms for r in rounds for ms in r.sender_ms]
    shards = [ms for r in rounds for ms in r.shard_ms]
    if sender:
        lines.append(
            f"  SendMessageFunction Duration (REPORT)     {statistics.median(sender):8.1f}"
        )
    if shards:
        lines.append(
            f"  FanOutFunction Duration (REPORT), p50     {statistics.median(shards):8.1f}"
        )
    lines.append("each round's FanOutFunction invocations: start (age in the queue) duration, ms")
    for index, r in enumerate(rounds):
        shards = "  ".join(
            f"{start:.0f} ({age if age is not None else '-'}) {duration or 0:.0f}"
            for start, age, duration in r.pickups
        )
        lines.append(f"  round {index}: {shards}")
    kinds = sorted({kind for r in rounds for kind in r.cpu_ms})
    wall = statistics.mean(r.wall_ms for r in rounds)
    lines.append(f"CPU per round by process, ms (mean; a round: {wall:.0f} ms of wall time):")
    total = 0.0
    for kind in kinds:
        spent = statistics.mean(r.cpu_ms.get(kind, 0.0) for r in rounds)
        total += spent
        lines.append(f"  {kind:<40} {spent:8.1f}")
    lines.append(f"  {'all':<40} {total:8.1f} ({total / (2 * wall):.0%} of two cores)")
    return lines


class Tracer:
    """Notes one round after another: the CPU by kind before and after, the stamped
    lines in between, and the bench's own times (``time.perf_counter``) made wall clock."""

    def __init__(
        self, log: StampedLog, pids: Callable[[], list[int]], stage_pid: int, bench_pid: int
    ) -> None:
        self.log = log
        self.rounds: list[Round] = []
        self._pids = pids
        self._kind = lambda pid: kind_of(pid, stage_pid, bench_pid)
        self._offset_s = time.time() - time.perf_counter()
        self._cpu_before: dict[str, int] = {}

    def begin(self) -> None:
        self._cpu_before = cpu_by_kind(self._pids(), self._kind)

    def end(self, sent: float, acks: Sequence[float], arrivals: Sequence[float]) -> None:
        """Close the round whose message left at ``sent`` (perf_counter), with the times
        the sender's acks and the members' copies arrived."""
        cpu = cpu_spent(self._cpu_before, cpu_by_kind(self._pids(), self._kind))
        ended = time.perf_counter()
        wall = self._offset_s
        calls = invocations(self.log.between(sent + wall, ended + wall))
        ack = next((a for a in acks if a >= sent), None)
        self.rounds.append(
            Round(
                points=round_points(
                    sent + wall,
                    ack + wall if ack is not None else None,
                    [a + wall for a in arrivals],
                    calls,
                ),
                pickups=[
                    ((c.started_s - sent - wall) * 1000, c.age_ms, c.duration_ms)
                    for c in sorted(calls, key=lambda c: c.started_s)
                    if c.function == SHARDS
                ],
                sender_ms=durations(calls, SENDER),
                shard_ms=durations(calls, SHARDS),
                cpu_ms=cpu,
                wall_ms=(ended - sent) * 1000,
            )
        )
