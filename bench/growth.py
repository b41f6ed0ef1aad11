"""How the stage grows with the room (issue 24): memory per idle connection, and one
message to rooms of thousands.

    .venv/bin/python bench/growth.py                       # --sizes 1 500 2000 10000
    .venv/bin/python bench/growth.py --sizes 1 500 --rounds 0   # idle memory only, quick

One ``wslocal start`` on the project's template; the room grows to each size in turn
(members, the sender included). At each size: the join time of the new members; after a
warm-up message, ``--rounds`` messages one at a time, each timed until every other member
has it (p50), with the CPU of every process of the stage's tree (stage, workers, fork
servers, DynamoDB Local's JVM, moto) per delivery; then, once the workers a burst added
have been stopped (``--worker-idle-timeout``, short here to reach the same idle state
sooner), the PSS of the stage process alone and of the stage with its fork servers and
workers (DynamoDB Local's JVMs and moto's server apart, each with its lifeline watcher).
The slope of the stage's PSS between sizes is its memory per idle connection.

The members are plain asyncio protocols (a WebSocket handshake, then a scan of what
arrives for the bench's markers) spread over ``--client-processes`` processes, so that
10,000 of them cost the clients' side little; the sender is a ``websockets`` client in
the bench's own process. Every process of the bench raises its open-files limit to the
hard limit.

Presence is batched wide (``PresenceBatchSize=10000``, ``PresenceBatchingWindowSeconds=300``
unless ``--parameter-overrides`` says otherwise): with the template's one-second window
each second of joins would be one envelope to the whole room, which at 10,000 members is
the joins' cost, not the stage's growth (``bench/presence.py`` measures presence).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fanout import memory_mb, process_tree, start_stage
from profiles import engine_of

from wslocal.engines.dynamodb import free_port

MARKER = re.compile(rb'bench-[\w-]+(?=")')
"""A marker, once its closing quote has arrived (a read may end inside it)."""
JOIN_CONCURRENCY = 50
LOSS_DEADLINE_S = 180.0
QUIET_CPU = 0.15
IDLE_SAMPLE_S = 4.0
PRESENCE_WIDE = ["PresenceBatchSize=10000", "PresenceBatchingWindowSeconds=300"]


def raise_open_files_limit() -> int:
    """The soft limit of open files raised to the hard one; return it."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def all_cpu_seconds(pid: int) -> float:
    """CPU time of a process and of its children it has reaped (user + system)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    return sum(all_cpu_seconds(process) for process in process_tree(pid))


CPU_KINDS = ("stage", "workers", "JVM", "moto")
DYNAMODB_LOCAL = ("jvm", "archive")
"""DynamoDB Local's JVMs: the engine, and the one writing (or trying) its class-data archive
in the background on a cache's first start, which is the engine's, not a worker's."""


def cpu_by_kind(pid: int) -> dict[str, float]:
    """CPU seconds by kind: the stage process's own, the workers' and fork servers' (with
    the workers the stage has reaped), DynamoDB Local's JVMs, moto's server."""
    kinds = dict.fromkeys(CPU_KINDS, 0.0)
    tick = os.sysconf("SC_CLK_TCK")
    for process in process_tree(pid):
        try:
            command = Path(f"/proc/{process}/cmdline").read_bytes()
            fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        own, reaped = (
            (int(fields[11]) + int(fields[12])) / tick,
            (int(fields[13]) + int(fields[14])) / tick,
        )
        if process == pid:
            kinds["stage"] += own
            kinds["workers"] += reaped
        elif engine_of(command) in DYNAMODB_LOCAL:
            kinds["JVM"] += own + reaped
        elif engine_of(command) in ("sqs", "moto"):
            kinds["moto"] += own + reaped
        else:
            kinds["workers"] += own + reaped
    return kinds


def process_list(pid: int) -> list[str]:
    """Each process of the stage's tree: PSS (MB), its anonymous and file-backed shares
    (a fork's file pages are divided with every process that maps the same files, on the
    whole machine), its private pages, RSS, and what it is (a worker's function)."""
    lines = []
    for process in process_tree(pid):
        try:
            command = Path(f"/proc/{process}/cmdline").read_bytes().split(b"\0")
            environ = Path(f"/proc/{process}/environ").read_bytes().split(b"\0")
        except (FileNotFoundError, PermissionError):
            continue
        name = next((v[25:] for v in environ if v.startswith(b"AWS_LAMBDA_FUNCTION_NAME=")), b"")
        what = b" ".join(c.rsplit(b"/", 1)[-1] for c in command[:4])
        if b"forkserver" in what:  # its environ is the server's: a fork's folder says whose
            with contextlib.suppress(OSError):
                folder = os.readlink(f"/proc/{process}/cwd")
                name = b"(the server)" if folder == "/" else f"fork: {Path(folder).name}".encode()
        pss, anon, rss = (memory_mb(process, field) for field in ("Pss:", "Pss_Anon:", "Rss:"))
        private = memory_mb(process, "Private_Clean:") + memory_mb(process, "Private_Dirty:")
        shares = (
            f"(anon {anon:5.1f}, file {pss - anon:4.1f}; private {private:5.1f}, RSS {rss:5.1f})"
        )
        lines.append(f"{pss:6.1f} MB {shares} {process:>7}  {what.decode()[:60]} {name.decode()}")
    return lines


def memory_by_kind(pid: int) -> dict[str, float]:
    """PSS (MB): the stage process alone, the stage with its fork servers and workers,
    DynamoDB Local's JVMs, moto's server (each engine's lifeline watcher with its engine)."""
    kinds = {"stage": 0.0, "stage and workers": 0.0, "JVM": 0.0, "moto": 0.0}
    for process in process_tree(pid):
        try:
            command = Path(f"/proc/{process}/cmdline").read_bytes()
        except FileNotFoundError:
            continue
        pss = memory_mb(process, "Pss:")
        if engine_of(command) in DYNAMODB_LOCAL:
            kinds["JVM"] += pss
        elif engine_of(command) in ("sqs", "moto"):
            kinds["moto"] += pss
        else:
            kinds["stage and workers"] += pss
            if process == pid:
                kinds["stage"] = pss
    return kinds


# --- the members' side: a process of plain protocols ---------------------------------------


class Member(asyncio.Protocol):
    """One member: the handshake, then the markers seen in what arrives."""

    def __init__(self, path: str, seen_by_all: Tally) -> None:
        self._path = path
        self._tally = seen_by_all
        self._head = b""
        self._tail = b""
        self.open: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.seen: set[bytes] = set()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            f"GET {self._path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )

    def data_received(self, data: bytes) -> None:
        if not self.open.done():
            self._head += data
            end = self._head.find(b"\r\n\r\n")
            if end < 0:
                return
            if not self._head.startswith(b"HTTP/1.1 101"):
                self.open.set_exception(ConnectionError(self._head[:end].decode()))
                return
            self.open.set_result(None)
            data, self._head = self._head[end + 4 :], b""
        text = self._tail + data
        for found in MARKER.findall(text):
            if found not in self.seen:
                self.seen.add(found)
                self._tally.seen(found)
        self._tail = text[-64:]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.open.done():
            self.open.set_exception(ConnectionError("closed before the handshake"))


class Tally:
    """How many of this process's members have each marker; says when all have it."""

    def __init__(self) -> None:
        self.members = 0
        self._counts: dict[bytes, int] = {}

    def seen(self, marker: bytes) -> None:
        count = self._counts.get(marker, 0) + 1
        self._counts[marker] = count
        if count == self.members:
            print(f"got {marker.decode()} {time.perf_counter()}", flush=True)


async def join_all(
    pending: list[int], members: list[Member], tally: Tally, address: tuple[str, int, str]
) -> None:
    """One lane of joins: the next index until none is left."""
    loop = asyncio.get_running_loop()
    host, port, path = address
    while pending:
        member = Member(f"{path}?room=bench&name=m{pending.pop()}", tally)
        await loop.create_connection(lambda: member, host, port)  # noqa: B023 (awaited here)
        await member.open
        members.append(member)


async def serve_members(host: str, port: int, path: str) -> None:
    """Read commands on stdin: ``join START COUNT``; print ``joined N`` when done."""
    loop = asyncio.get_running_loop()
    tally = Tally()
    members: list[Member] = []
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        command, start, count = line.decode().split()
        assert command == "join"
        pending = list(range(int(start), int(start) + int(count)))
        concurrency = max(1, JOIN_CONCURRENCY // int(os.environ.get("GROWTH_PROCESSES", "1")))
        await asyncio.gather(
            *(join_all(pending, members, tally, (host, port, path)) for _ in range(concurrency))
        )
        tally.members = len(members)
        print(f"joined {len(members)}", flush=True)


# --- the bench ---------------------------------------------------------------------------


class MemberProcess:
    def __init__(self, url: str, processes: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--members-of", url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "GROWTH_PROCESSES": str(processes)},
        )
        self.lines: asyncio.Queue[str] = asyncio.Queue()
        self.got: dict[str, float] = {}
        self.count = 0

    def start_reading(self) -> None:
        loop = asyncio.get_running_loop()
        stdout = self.process.stdout
        assert stdout is not None

        def read() -> None:
            for line in stdout:
                loop.call_soon_threadsafe(self._line, line.strip())

        loop.run_in_executor(None, read)

    def _line(self, line: str) -> None:
        if line.startswith("got "):
            _, marker, at = line.split()
            self.got[marker] = float(at)
        else:
            self.lines.put_nowait(line)

    async def join(self, start: int, count: int) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(f"join {start} {count}\n")
        self.process.stdin.flush()
        line = await self.lines.get()
        assert line.startswith("joined"), line
        self.count = int(line.split()[1])


@dataclass
class Size:
    members: int
    joined_s: float
    singles_ms: list[float]
    cpu_per_delivery_us: dict[str, float]
    """By kind (CPU_KINDS), the idle CPU of the same span taken off."""
    lost: int
    memory: dict[str, float]

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.singles_ms) if self.singles_ms else float("nan")


async def one_message(
    sender: websockets.ClientConnection, groups: list[MemberProcess], marker: str
) -> tuple[float, int]:
    """(ms until every member had it, members' processes that never said so)."""
    started = time.perf_counter()
    await sender.send(json.dumps({"action": "sendMessage", "message": marker}))
    deadline = started + LOSS_DEADLINE_S
    while not all(marker in group.got for group in groups):
        if time.perf_counter() > deadline:
            return LOSS_DEADLINE_S * 1000, sum(marker not in g.got for g in groups)
        await asyncio.sleep(0.002)
    return (max(group.got[marker] for group in groups) - started) * 1000, 0


async def wait_until_quiet(stage_pid: int, every_s: float = 2.0, most_s: float = 600.0) -> None:
    """Until the stage's tree spends less than QUIET_CPU of a core (its pollers' idle
    work), or ``most_s`` has passed."""
    before, began = tree_cpu_seconds(stage_pid), time.perf_counter()
    while time.perf_counter() - began < most_s:
        await asyncio.sleep(every_s)
        now = tree_cpu_seconds(stage_pid)
        if (now - before) / every_s < QUIET_CPU:
            return
        before = now


async def run(args: argparse.Namespace) -> list[Size]:
    port = free_port()
    overrides = [*PRESENCE_WIDE, *args.parameter_overrides]
    options = ["--worker-idle-timeout", str(args.worker_idle_timeout), "--idle-timeout", "3600"]
    stage, _ = start_stage(port, overrides, options)
    url = f"ws://127.0.0.1:{port}/dev"
    groups = [MemberProcess(url, args.client_processes) for _ in range(args.client_processes)]
    sizes: list[Size] = []
    try:
        for group in groups:
            group.start_reading()
        sender = await websockets.connect(
            f"{url}?room=bench&name=sender", max_size=None, max_queue=None, ping_interval=None
        )
        drain = asyncio.create_task(_drain(sender))
        joined = 1
        for size in args.sizes:
            began = time.perf_counter()
            new = max(size - joined, 0)
            shares = [new // len(groups) + (i < new % len(groups)) for i in range(len(groups))]
            starts = [joined + sum(shares[:i]) for i in range(len(groups))]
            await asyncio.gather(
                *(g.join(s, n) for g, s, n in zip(groups, starts, shares, strict=True))
            )
            joined += new
            joined_s = time.perf_counter() - began
            await wait_until_quiet(stage.pid)
            singles: list[float] = []
            lost = 0
            cpu = dict.fromkeys(CPU_KINDS, 0.0)
            members_with = [group for group in groups if group.count]
            if joined > 1 and args.rounds:
                await one_message(sender, members_with, f"bench-warm-{joined}")
                await wait_until_quiet(stage.pid, every_s=0.5)
                # the pollers' and engines' idle CPU, taken off what the rounds used
                idle, idle_began = cpu_by_kind(stage.pid), time.perf_counter()
                await asyncio.sleep(IDLE_SAMPLE_S)
                idle_rate = {k: v - idle[k] for k, v in cpu_by_kind(stage.pid).items()}
                idle_span = time.perf_counter() - idle_began
                before, began = cpu_by_kind(stage.pid), time.perf_counter()
                for index in range(args.rounds):
                    elapsed, missing = await one_message(
                        sender, members_with, f"bench-{joined}-{index}"
                    )
                    await wait_until_quiet(stage.pid, every_s=0.5)
                    singles.append(elapsed)
                    lost += missing
                span = time.perf_counter() - began
                after = cpu_by_kind(stage.pid)
                cpu = {k: after[k] - before[k] - idle_rate[k] / idle_span * span for k in CPU_KINDS}
            deliveries = (joined - 1) * len(singles)
            await asyncio.sleep(args.idle)
            memory = memory_by_kind(stage.pid)
            if args.processes:
                print("\n".join(process_list(stage.pid)), flush=True)
            per_delivery_us = {
                k: v / deliveries * 1e6 if deliveries else 0.0 for k, v in cpu.items()
            }
            sizes.append(Size(joined, joined_s, singles, per_delivery_us, lost, memory))
            print(f"  {joined} members: {_row(sizes[-1], sizes)}", flush=True)
        drain.cancel()
    finally:
        for group in groups:
            group.process.kill()
            group.process.wait()
        stage.terminate()
        try:
            stage.wait(60)
        except subprocess.TimeoutExpired:
            stage.kill()
            stage.wait()
    return sizes


async def _drain(sender: websockets.ClientConnection) -> None:
    with contextlib.suppress(websockets.ConnectionClosed):
        async for _ in sender:
            pass


def _row(size: Size, sizes: list[Size]) -> str:
    index = sizes.index(size)
    slope = "-"
    if index > 0:
        previous = sizes[index - 1]
        added = size.members - previous.members
        if added > 0:
            kilobytes = (size.memory["stage"] - previous.memory["stage"]) * 1024 / added
            slope = f"{kilobytes:.1f} KB"
    p50 = size.p50_ms
    rate = (size.members - 1) / (p50 / 1000) if size.singles_ms else float("nan")
    memory = size.memory
    return " | ".join(
        (
            f"{size.members:,}",
            f"{size.joined_s:.1f} s" if index > 0 else "-",
            f"{p50:,.0f} ms" if size.singles_ms else "-",
            f"{rate:,.0f}" if size.singles_ms else "-",
            f"{sum(size.cpu_per_delivery_us.values()):,.0f} µs ("
            + " / ".join(f"{size.cpu_per_delivery_us[k]:,.0f}" for k in CPU_KINDS)
            + ")"
            if size.singles_ms
            else "-",
            f"{memory['stage']:.0f} MB",
            slope,
            f"{memory['stage and workers']:.0f} MB",
            f"{memory['JVM']:.0f} / {memory['moto']:.0f} MB",
            str(size.lost),
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 500, 2000, 10000])
    parser.add_argument("--rounds", type=int, default=3, help="timed messages per size; 0: none")
    parser.add_argument("--client-processes", type=int, default=4)
    parser.add_argument("--worker-idle-timeout", type=float, default=10.0)
    parser.add_argument(
        "--idle", type=float, default=20.0, help="seconds idle before memory is read, per size"
    )
    parser.add_argument(
        "--processes", action="store_true", help="list each process's PSS at each size"
    )
    parser.add_argument("--parameter-overrides", nargs="*", default=[], metavar="NAME=VALUE")
    parser.add_argument("--members-of", help=argparse.SUPPRESS)
    args = parser.parse_args()
    raise_open_files_limit()
    if args.members_of:
        address = args.members_of.removeprefix("ws://")
        hostport, _, path = address.partition("/")
        host, _, port = hostport.partition(":")
        asyncio.run(serve_members(host, int(port), "/" + path))
        return
    started = time.perf_counter()
    sizes = asyncio.run(run(args))
    print(f"\ngrowth: load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} at the end, "
          f"{time.perf_counter() - started:.0f} s in all")  # fmt: skip
    print("| members | joined in | one message, p50 | deliveries/s | CPU per delivery, all "
          "processes (stage / workers / JVM / moto) | stage PSS | PSS per idle connection "
          "(slope) | stage + workers PSS, idle | JVM / moto PSS | lost |")  # fmt: skip
    print("| ---: " * 10 + "|")
    for size in sizes:
        print(f"| {_row(size, sizes)} |")


if __name__ == "__main__":
    main()
