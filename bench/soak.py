"""A long session (issue 24): what grows while the stage runs all day and its code is
edited again and again.

    flock /tmp/bench.lock .venv/bin/python bench/soak.py                   # handler edits
    flock /tmp/bench.lock .venv/bin/python bench/soak.py --targets timeout,batch,handler,presence
    flock /tmp/bench.lock .venv/bin/python bench/soak.py --targets handler --edits-per-cycle 0 \\
        --parameter-overrides InlineFanOutMax=0 FanOutShardSize=2         # every message via SQS

``wslocal start`` on the project's template (as ``make run``: ``--static frontend/``), two
probe clients and ``--members`` members in the lobby, ``--churners`` more that are
replaced one at a time. Each of ``--cycles``: an active phase of ``--active-s`` (members
send ``--rate`` messages a second, one of them a burst of ``--burst`` halfway, a churner
is replaced every ``--churn-s``, and a file is edited at 1, 8, 15 and 22 s: the next of
``--targets`` in turn, each edit undoing the one before it on that file), then an idle
phase of ``--idle-s``. At its 3rd second a sample: per process of the stage's tree (the
stage, fork servers, their forks, workers started on their own, DynamoDB Local's JVM,
moto's SQS, each lifeline wrapper apart) RSS, PSS, threads and open fds, and three probe
messages' round trips (send -> ack, send -> the other probe has it); over its last 15 s
the CPU a second of each kind of process. Samples go to ``--out``/samples.jsonl (one JSON
line a cycle), a summary to stdout. Edited files are put back as they were at the end.

Targets: ``handler`` (a comment line on functions/send_message/app.py: its workers
reload), ``layer`` (on the chatroom layer: every function's workers reload), and
template edits: ``timeout`` (SendMessageFunction's Timeout: its pool is swapped),
``batch`` (FanOutFunction's queue BatchSize: its SQS poller restarts), ``presence``
(PresenceFunction's MaximumRetryAttempts: its stream poller restarts where it was).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import signal
import statistics
import sys
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fanout import ROOT, memory_mb, start_stage
from profiles import cpu_seconds, engine_of, function_of, process_tree

from wslocal.engines.dynamodb import free_port

EDIT_LINE = "# soak edit\n"
COMMENTED = {
    "handler": ROOT / "functions/send_message/app.py",
    "layer": ROOT / "layers/chatroom/chatroom/protocol.py",
}
TEMPLATE = ROOT / "template.yaml"
SEND_MESSAGE_ENV = (
    "\n      Environment:\n        Variables:\n          FANOUT_QUEUE_URL: !Ref FanOutQueue"
    "\n          INLINE_FANOUT_MAX"
)
FAN_OUT_SOURCE = (
    "\n            FunctionResponseTypes: [ReportBatchItemFailures]\n            ScalingConfig"
)
PRESENCE_SOURCE = "\n            MaximumRecordAgeInSeconds: 600"
SWAPS = {
    "timeout": ("Timeout: 30" + SEND_MESSAGE_ENV, "Timeout: 29" + SEND_MESSAGE_ENV),
    "batch": ("BatchSize: 1" + FAN_OUT_SOURCE, "BatchSize: 2" + FAN_OUT_SOURCE),
    "presence": (
        "MaximumRetryAttempts: 3" + PRESENCE_SOURCE,
        "MaximumRetryAttempts: 4" + PRESENCE_SOURCE,
    ),
}
"""Each template edit: the text as the template has it, and as the edit makes it (each
occurs once in the template)."""
EDIT_AT_S = (1.0, 8.0, 15.0, 22.0)
CPU_WINDOW_S = 15.0


def edit(target: str) -> None:
    """Change ``target``, or undo its last change."""
    if target in COMMENTED:
        path = COMMENTED[target]
        text = path.read_text()
        changed = text[: -len(EDIT_LINE)] if text.endswith(EDIT_LINE) else text + EDIT_LINE
        path.write_text(changed)
        return
    before, after = SWAPS[target]
    text = TEMPLATE.read_text()
    TEMPLATE.write_text(
        text.replace(after, before) if after in text else text.replace(before, after)
    )


def undo_edits() -> None:
    """Put every edited file back (also at start: a soak killed mid-run left them)."""
    for path in COMMENTED.values():
        text = path.read_text()
        if text.endswith(EDIT_LINE):
            path.write_text(text[: -len(EDIT_LINE)])
    text = TEMPLATE.read_text()
    for before, after in SWAPS.values():
        text = text.replace(after, before)
    TEMPLATE.write_text(text)


def status_field(pid: int, field: str) -> str:
    """A field of ``/proc/PID/status`` (its first value), "0" when absent."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field):
            return line.split()[1]
    return "0"


def kind_of(pid: int, stage: int) -> str:
    """``stage``, ``jvm``, ``sqs``, ``forkserver``, ``fork:Function`` or ``worker:Function``."""
    if pid == stage:
        return "stage"
    command = Path(f"/proc/{pid}/cmdline").read_bytes()
    engine = engine_of(command)
    if engine is not None:
        return engine
    if b"wslocal.runtime.forkserver" in command:
        if int(status_field(pid, "PPid:")) == stage:
            return "forkserver"
        return f"fork:{function_of(pid)}"
    return f"worker:{function_of(pid)}"


def snapshot(stage: int) -> list[dict[str, Any]]:
    """Each process of the stage's tree: its kind, RSS and PSS (MB), threads and fds."""
    rows = []
    for pid in process_tree(stage):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError, PermissionError):
            rows.append(
                {
                    "pid": pid,
                    "kind": kind_of(pid, stage),
                    "rss": round(memory_mb(pid), 1),
                    "pss": round(memory_mb(pid, "Pss:"), 1),
                    "threads": int(status_field(pid, "Threads:")),
                    "fds": len(os.listdir(f"/proc/{pid}/fd")),
                }
            )
    return rows


def cpu_by_kind(pids: dict[int, str]) -> dict[str, float]:
    """CPU seconds so far of each kind (``fork:Function`` counted as ``fork``)."""
    kinds: dict[str, float] = {}
    for pid, kind in pids.items():
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            group = kind.split(":")[0]
            kinds[group] = kinds.get(group, 0.0) + cpu_seconds(pid)
    return kinds


class Client:
    """A member: counts what it receives, and resolves a wait for one reply by its type
    and clientId."""

    def __init__(self, ws: websockets.ClientConnection) -> None:
        self.ws = ws
        self.received = 0
        self.waiters: dict[tuple[str, str], asyncio.Future[float]] = {}
        self.reader = asyncio.create_task(self._read())

    @classmethod
    async def join(cls, url: str, name: str) -> Client:
        return cls(await websockets.connect(f"{url}?room=lobby&name={name}", max_size=None))

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in self.ws:
                self.received += 1
                with contextlib.suppress(ValueError, AttributeError):
                    data = json.loads(raw)
                    future = self.waiters.pop(
                        (data.get("type", ""), data.get("clientId") or ""), None
                    )
                    if future is not None and not future.done():
                        future.set_result(time.perf_counter())

    def expect(self, kind: str, client_id: str) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiters[(kind, client_id)] = future
        return future

    async def say(self, text: str, client_id: str) -> None:
        await self.ws.send(
            json.dumps({"action": "sendMessage", "message": text, "clientId": client_id})
        )

    async def close(self) -> None:
        await self.ws.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.reader, 5)


async def probe(sender: Client, other: Client, client_id: str) -> tuple[float, float]:
    """Milliseconds from send to the sender's ack, and to the other member's copy."""
    acked = sender.expect("ack", client_id)
    delivered = other.expect("newMessage", client_id)
    began = time.perf_counter()
    await sender.say("probe", client_id)
    ack_at, delivered_at = await asyncio.wait_for(asyncio.gather(acked, delivered), 30)
    return (ack_at - began) * 1000, (delivered_at - began) * 1000


class Session:
    """The clients and counters of one run."""

    def __init__(self, args: argparse.Namespace, url: str) -> None:
        self.args = args
        self.url = url
        self.ids = itertools.count()
        self.names = itertools.count()
        self.sent = 0
        self.edits = 0
        self.churned = 0
        self.failures: list[str] = []
        self.members: list[Client] = []
        self.churners: list[Client] = []

    async def start(self) -> tuple[Client, Client]:
        """Join the two probes, the members and the churners; the probes."""
        probes = (await Client.join(self.url, "probeA"), await Client.join(self.url, "probeB"))
        self.members = [await Client.join(self.url, f"m{i}") for i in range(self.args.members)]
        self.churners = [await self._churner() for _ in range(self.args.churners)]
        return probes

    async def _churner(self) -> Client:
        return await Client.join(self.url, f"c{next(self.names)}")

    async def send_load(self, until: float) -> None:
        """``--rate`` messages a second from random members until ``until``."""
        while time.monotonic() < until:
            n = next(self.ids)
            try:
                await random.choice(self.members).say(
                    f"load {n} " + "x" * random.randint(5, 200), f"l{n}"
                )
                self.sent += 1
            except websockets.ConnectionClosed as exc:
                self.failures.append(f"send: {exc}")
            await asyncio.sleep(1 / self.args.rate)

    async def burst(self, after_s: float) -> None:
        """``--burst`` messages back to back from one member, ``after_s`` into the phase."""
        await asyncio.sleep(after_s)
        sender = random.choice(self.members)
        for _ in range(self.args.burst):
            n = next(self.ids)
            try:
                await sender.say(f"burst {n}", f"b{n}")
            except websockets.ConnectionClosed as exc:
                self.failures.append(f"burst: {exc}")
                return
            self.sent += 1

    async def churn(self, until: float) -> None:
        """Replace the longest-connected churner every ``--churn-s`` until ``until``."""
        while time.monotonic() + self.args.churn_s < until:
            await asyncio.sleep(self.args.churn_s)
            if self.churners:  # empty only after joins failed (counted in failures)
                await self.churners.pop(0).close()
            try:
                self.churners.append(await self._churner())
            except (OSError, websockets.InvalidHandshake) as exc:
                self.failures.append(f"join: {exc!r}")
            self.churned += 1

    async def edit(self, began: float) -> None:
        """This phase's edits, at ``EDIT_AT_S`` from its start, through ``--targets``."""
        targets = self.args.targets.split(",")
        for offset in EDIT_AT_S[: self.args.edits_per_cycle]:
            await asyncio.sleep(max(0.0, began + offset - time.monotonic()))
            edit(targets[self.edits % len(targets)])
            self.edits += 1

    async def close(self) -> None:
        await asyncio.gather(*(client.close() for client in (*self.members, *self.churners)))


async def run(args: argparse.Namespace, out: Path) -> None:
    """The stage under ``--cycles`` of load then idle, a sample written per idle phase;
    the stage is stopped and edited files put back however the run ends."""
    port = free_port()
    process, _ = start_stage(
        port, args.parameter_overrides, ["--template", "template.yaml", "--static", "frontend/"]
    )
    stage = process.pid
    session = Session(args, f"ws://127.0.0.1:{port}")
    started = time.monotonic()
    try:
        first, second = await session.start()
        with (out / "samples.jsonl").open("w") as samples:
            for cycle in range(args.cycles):
                began = time.monotonic()
                until = began + args.active_s
                active: list[Awaitable[None]] = [
                    session.send_load(until),
                    session.churn(until),
                    session.edit(began),
                    session.burst(args.active_s / 2),
                ]
                await asyncio.gather(*active)
                await asyncio.sleep(max(0.0, until - time.monotonic()))
                record = await idle_phase(args, session, stage, first, second, cycle)
                record["t_s"] = round(time.monotonic() - started, 1)
                samples.write(json.dumps(record) + "\n")
                samples.flush()
                print_record(record)
        await asyncio.gather(first.close(), second.close(), session.close())
    finally:
        undo_edits()
        process.terminate()
        with contextlib.suppress(Exception):
            process.wait(20)
        if process.poll() is None:
            process.kill()
        (out / "failures.txt").write_text("\n".join(session.failures))


async def idle_phase(
    args: argparse.Namespace,
    session: Session,
    stage: int,
    first: Client,
    second: Client,
    cycle: int,
) -> dict[str, Any]:
    """One idle phase's sample: the processes at its 3rd second, three probes' round
    trips, then its last 15 s of CPU a second per kind."""
    began = time.monotonic()
    await asyncio.sleep(3)
    rows = snapshot(stage)
    trips = []
    for k in range(3):
        try:
            trips.append(await probe(first, second, f"probe-{cycle}-{k}"))
        except TimeoutError as exc:
            session.failures.append(f"probe: {exc!r}")
        await asyncio.sleep(0.3)
    await asyncio.sleep(max(0.0, began + args.idle_s - CPU_WINDOW_S - time.monotonic()))
    kinds = {row["pid"]: row["kind"] for row in snapshot(stage)}
    before, t0 = cpu_by_kind(kinds), time.monotonic()
    await asyncio.sleep(max(0.0, began + args.idle_s - time.monotonic()))
    after, t1 = cpu_by_kind(kinds), time.monotonic()
    return {
        "cycle": cycle,
        "utc": time.strftime("%H:%M:%S", time.gmtime()),
        "load": os.getloadavg()[0],
        "edits": session.edits,
        "sent": session.sent,
        "churned": session.churned,
        "failures": len(session.failures),
        "round_trips_ms": [[round(ack, 1), round(other, 1)] for ack, other in trips],
        "idle_cpu_ms_a_s": {
            kind: round((after[kind] - before.get(kind, 0.0)) / (t1 - t0) * 1000, 1)
            for kind in sorted(after)
        },
        "processes": rows,
    }


def summary(rows: list[dict[str, Any]]) -> dict[str, tuple[int, float, float, int, int]]:
    """Per kind: processes, RSS, PSS, threads, fds."""
    kinds: dict[str, list[Any]] = {}
    for row in rows:
        total = kinds.setdefault(row["kind"].split(":")[0], [0, 0.0, 0.0, 0, 0])
        for i, field in enumerate(("rss", "pss", "threads", "fds"), start=1):
            total[i] += row[field]
        total[0] += 1
    return {kind: tuple(total) for kind, total in sorted(kinds.items())}  # type: ignore[misc]


def print_record(record: dict[str, Any]) -> None:
    trips = record["round_trips_ms"]
    ack = statistics.median(a for a, _ in trips) if trips else float("nan")
    other = statistics.median(o for _, o in trips) if trips else float("nan")
    print(
        f"{record['utc']} cycle {record['cycle']}: {record['edits']} edits, {record['sent']} sent, "
        f"{record['churned']} churned, {len(record['processes'])} processes, "
        f"ack {ack:.1f} ms, other {other:.1f} ms, idle CPU ms/s {record['idle_cpu_ms_a_s']}, "
        f"failures {record['failures']}, load {record['load']:.2f}",
        flush=True,
    )
    for kind, (count, rss, pss, threads, fds) in summary(record["processes"]).items():
        print(
            f"    {kind:10} {count:2} processes, RSS {rss:6.1f} MB, PSS {pss:6.1f} MB, "
            f"{threads:3} threads, {fds:3} fds",
            flush=True,
        )


def main() -> None:
    """Parse the options, check the template still holds what the targets swap, run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=14)
    parser.add_argument("--active-s", type=float, default=28.0)
    parser.add_argument("--idle-s", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=5.0)
    parser.add_argument("--burst", type=int, default=30)
    parser.add_argument("--members", type=int, default=4)
    parser.add_argument("--churners", type=int, default=4)
    parser.add_argument("--churn-s", type=float, default=2.0)
    parser.add_argument("--edits-per-cycle", type=int, default=4, choices=range(len(EDIT_AT_S) + 1))
    parser.add_argument("--targets", default="handler,handler,handler,layer")
    parser.add_argument("--parameter-overrides", nargs="*", default=[])
    parser.add_argument("--out", type=Path, default=Path("/tmp/soak"))
    args = parser.parse_args()
    unknown = set(args.targets.split(",")) - {*COMMENTED, *SWAPS}
    if unknown:
        parser.error(f"unknown targets {sorted(unknown)}; known: {sorted({*COMMENTED, *SWAPS})}")
    undo_edits()
    template = TEMPLATE.read_text()
    drifted = [name for name, (before, _) in SWAPS.items() if template.count(before) != 1]
    if drifted:  # an edit that changes nothing would still be counted
        parser.error(f"template.yaml no longer holds the text these targets swap: {drifted}")
    args.out.mkdir(parents=True, exist_ok=True)
    # A SIGTERM (timeout, a killed flock) unwinds like Ctrl-C: the stage is stopped and
    # the edited files put back.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    asyncio.run(run(args, args.out))


if __name__ == "__main__":
    main()
