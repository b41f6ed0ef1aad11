"""Fan-out benchmark (issue 8): one chat message to every member of a room, in one run
with the floor.

    make bench          # = .venv/bin/python bench/fanout.py
    .venv/bin/python bench/fanout.py [--clients 500] [--rounds 15] [--burst 20]
                                     [--large 2000] [--parameter-overrides K=V ...]
                                     [--cpu-by-process | --profile DIR]
                                     [--stage-options '--dynamodb moto']
                                     [--fauxqs node_modules/fauxqs]
                                     [--clients-impl lean|websockets] [--core-idle]

For the floor (a plain ``websockets`` server that broadcasts in-process) and then for
``wslocal start`` on the project's template (DynamoDB Local, moto's SQS, the sharded
fan-out): N clients join one room; after two warm-up messages, one client sends
``sendMessage`` ``--rounds`` times, one at a time, and the time until every other client
has it is noted (p50 over rounds); then ``--burst`` messages back to back, and the
deliveries per second until all have all of them (with the stage's processes before and
after it: the workers a burst starts are CPU it pays), then the same burst again, the
workers warm. Then a room of ``--large`` clients on the stage: every message delivered to
all, p50. Lost messages are counted, never waited
for past 60 s. Memory: the stage and its workers, DynamoDB Local's JVM and moto's server
each on their own line. ``--direct`` (stage only) POSTs to ``@connections`` from the bench
itself over 32 keep-alive connections: the stage's own cost without a handler.

``--cpu-by-process`` prints, for the measured messages and the burst, the CPU per delivery
of each process group (the stage, each function's workers, the fork servers, DynamoDB
Local, moto); ``--profile DIR`` also samples every process during them (py-spy, JFR) and
prints where each group's microseconds go (bench/fanout_profile.py); both list the workers
the pools started for calls during the burst, each with the growth rule that started it
(the pool logs it: ``wslocal.runtime.growth.StartReason``). ``--stage-options``
go to ``wslocal start`` as they are: ``'--dynamodb moto'`` runs the chat on moto's DynamoDB
instead of DynamoDB Local (its server then has a line of its own); DynamoDB Local's JVM
takes more options from ``_JAVA_OPTIONS`` (read by the JVM itself, after the stage's).

The clients are ``bench/lean_websocket.py``'s (a minimal RFC 6455 client: bulk reads, no
task or queue per connection), the floor's as the stage's; ``--clients-impl websockets``
runs them on the ``websockets`` library's client, as before issue 24, which cost 38-64 µs
of the shared cores per delivery.

``--core-idle`` samples /proc/stat every 10 ms during the stage's burst and prints the
share of the cores idle, before its first delivery, after it and by 100 ms slice, with the
deliveries in each, and each process started in the burst with its CPU (and its growth
rule) (``bench/core_idle.py``).

``--fauxqs DIR`` serves the stage's queues from fauxqs (``bench/fauxqs_server.py``) instead
of moto: the bench starts it and passes ``--sqs-endpoint``; its CPU and memory are counted as
the stage's engines are (it is not among the stage's processes).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import lean_websocket
import websockets
from core_idle import CoreSampler
from core_idle import report as core_idle_report
from fanout_profile import FanoutProfile, require_py_spy
from fauxqs_server import serve_fauxqs
from lean_websocket import Message
from profile_places import FAUXQS, MOTO
from profiles import cpu_seconds, engine_of, function_of, process_tree
from timeline import StampedLog, Tracer, read_stamped, report, start_stamper

from wslocal.engines.dynamodb import free_port

ROOT = Path(__file__).resolve().parents[1]
BATCH = 50
MARKER = re.compile(r"bench-[\w-]+")
WARM_UP = 2
LOSS_DEADLINE_S = 60.0


def memory_mb(pid: int, field: str = "Rss:") -> float:
    """A process's resident memory (``Rss:``), or its proportional share of the pages it
    shares with others (``Pss:``), from smaps_rollup."""
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except (FileNotFoundError, PermissionError):
        return 0.0
    lines = rollup.splitlines()
    kilobytes = next((line.split()[1] for line in lines if line.startswith(field)), "0")
    return int(kilobytes) / 1024


def process_kind(pid: int) -> str:
    """What a process of the stage's tree is: the stage, DynamoDB Local's JVM, moto's
    SQS, moto's whole server (DynamoDB's engine with ``--dynamodb moto``), or a function's
    worker (or fork server), by the function's name."""
    command = Path(f"/proc/{pid}/cmdline").read_bytes()
    engine = engine_of(command)
    if engine == "jvm":
        return "DynamoDB Local (JVM)"
    if engine == "archive":
        return "DynamoDB Local's class-data archive writer (once per jar)"
    if engine == "sqs":
        return MOTO
    if engine == "moto":
        return "moto's server (DynamoDB)"
    function = function_of(pid)
    return "stage" if function is None else function + " workers"


class WorkerStarts:
    """The workers the stage's pools started for calls, read from the stage's log as it
    is written (``[Function] worker PID started for a call: REASON[, held S s]``): which
    growth rule started each, and when the bench read the line."""

    LINE = re.compile(
        r"^\[(?P<function>[\w-]+)\] worker (?P<pid>\d+) started for a call: (?P<why>.+)$"
    )

    def __init__(self) -> None:
        self._seen: dict[int, tuple[float, str, str]] = {}
        self._lock = threading.Lock()

    def read(self, line: str) -> None:
        """One line of the stage's output (the others are ignored)."""
        match = self.LINE.match(line.strip())
        if match is not None:
            with self._lock:
                self._seen[int(match["pid"])] = (
                    time.perf_counter(),
                    match["function"],
                    match["why"],
                )

    def why(self, pid: int) -> str | None:
        """The reason logged for the worker ``pid``; None for a process no call started."""
        with self._lock:
            seen = self._seen.get(pid)
        return None if seen is None else seen[2]

    def between(self, first: float, last: float) -> list[tuple[float, str, int, str]]:
        """(when read, function, pid, reason) of the starts read between two
        ``perf_counter`` readings, the earliest first."""
        with self._lock:
            seen = sorted((stamp, function, pid, why) for pid, (stamp, function, why) in
                          self._seen.items())  # fmt: skip
        return [start for start in seen if first <= start[0] <= last]


def cpu_by_kind(pid: int) -> dict[str, float]:
    """CPU seconds used so far by each kind of process in the stage's tree (those alive:
    a worker stopped meanwhile takes its CPU with it)."""
    kinds: dict[str, float] = {}
    for process in process_tree(pid):
        try:
            kind = process_kind(process)
            kinds[kind] = kinds.get(kind, 0.0) + cpu_seconds(process)
        except (FileNotFoundError, ProcessLookupError):
            continue
    return kinds


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants."""
    return sum(memory_mb(process) for process in process_tree(pid))


def start_stage(
    port: int,
    overrides: list[str],
    options: list[str] | None = None,
    on_line: Callable[[str], None] = lambda line: None,
    stamped: StampedLog | None = None,
) -> tuple[subprocess.Popen[str], str]:
    """The stage and its DynamoDB endpoint (read from the banner). One client sends every
    message of the benchmark: its per-connection rate limit is off (MessageRateLimit=0)
    unless the overrides say otherwise. ``options`` go to ``wslocal start`` as they are.
    With ``stamped``, its output goes through a stamper and every line is kept there with
    the time it was written (``bench/timeline.py``)."""
    extra = [*(options or []), "--parameter-overrides", "MessageRateLimit=0", *overrides]
    process = subprocess.Popen(
        [sys.executable, "-m", "wslocal.cli", "start", "--port", str(port), *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    output = process.stdout
    if stamped is not None:  # it ends with the stage's output
        output = start_stamper(process.stdout).stdout  # type: ignore[assignment]

    def text_of(line: str) -> str:
        if stamped is None:
            return line
        stamp = read_stamped(line)
        stamped.add(stamp)
        return stamp[1] + "\n"

    dynamodb = ""
    for raw in output:
        line = text_of(raw)
        if line.strip().startswith("DynamoDB"):
            dynamodb = line.split(" at ")[1].split(";")[0]
        if "Press Ctrl-C" in line:
            break
    else:
        raise SystemExit("the stage did not start")
    threading.Thread(target=lambda: [on_line(text_of(raw)) for raw in output], daemon=True).start()
    return process, dynamodb


def room_members(dynamodb_endpoint: str, room: str = "bench") -> list[Any]:
    """The room's members (id, connect time, name), read through the layer's own
    ConnectionStore."""
    import boto3

    sys.path.insert(0, str(ROOT / "layers" / "chatroom"))
    from chatroom import ConnectionStore

    table = boto3.resource(
        "dynamodb",
        endpoint_url=dynamodb_endpoint,
        region_name="us-east-1",
        aws_access_key_id="wslocal",
        aws_secret_access_key="wslocal",
    ).Table("ConnectionsTable")
    return ConnectionStore(table=table).members(room)


async def post_directly(port: int, connection_ids: list[str], data: bytes, lanes: int = 32) -> None:
    """POST to @connections over ``lanes`` keep-alive connections, with no handler and no
    botocore in the way: what the stage's own fan-out path costs."""
    from urllib.parse import quote

    queue = list(connection_ids)

    async def lane() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while queue:
            target = quote(queue.pop(), safe="")
            writer.write(
                f"POST /dev/@connections/{target} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Content-Length: {len(data)}\r\n\r\n".encode()
                + data
            )
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
        writer.close()

    await asyncio.gather(*(lane() for _ in range(lanes)))


BASELINE = """
import asyncio, sys, websockets
CLIENTS = set()
async def handler(ws):
    CLIENTS.add(ws)
    try:
        async for message in ws:
            websockets.broadcast([c for c in CLIENTS if c is not ws], message)
    finally:
        CLIENTS.discard(ws)
async def main():
    async with websockets.serve(handler, "127.0.0.1", int(sys.argv[1])):
        print("Press Ctrl-C", flush=True)
        await asyncio.Future()
asyncio.run(main())
"""


def start_baseline(port: int) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", BASELINE, str(port)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    process.stdout.readline()
    return process


class Client(Protocol):
    """What the bench asks of a connection, whichever client it is."""

    async def send(self, text: str) -> None: ...

    async def close(self) -> None: ...


class WebsocketsClient:
    """The ``websockets`` library's client (``--clients-impl websockets``, the bench's only
    client before issue 24): a task per connection reads every message for its receiver."""

    def __init__(
        self, ws: websockets.ClientConnection, on_message: Callable[[Message], None]
    ) -> None:
        self.ws = ws
        self.task = asyncio.create_task(self._read(on_message))

    async def _read(self, on_message: Callable[[Message], None]) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for message in self.ws:
                on_message(message)

    async def send(self, text: str) -> None:
        await self.ws.send(text)

    async def close(self) -> None:
        await self.ws.close()


async def connect_all(
    url: str, count: int, clients_impl: str = "lean", room: str = "bench"
) -> list[Receiver]:
    """``count`` clients, each with the receiver that counts what it reads, connected in
    batches. ``lean`` (bench/lean_websocket.py) hands each message to its receiver from the
    first frame on; ``websockets``' readers start once all are connected, as they always
    did, and its keepalive pings are off (a client busy with the joins' presence storm must
    not be dropped for a late pong)."""
    receivers = [Receiver() for _ in range(count)]
    urls = [f"{url}?room={room}&name=c{index}" for index in range(count)]
    connections: list[Any] = []
    read_buffer = memoryview(bytearray(lean_websocket.READ_BUFFER_SIZE))
    for start in range(0, count, BATCH):
        batch = range(start, min(count, start + BATCH))
        opening: list[Awaitable[Any]]
        if clients_impl == "lean":
            opening = [
                lean_websocket.connect(urls[i], receivers[i].message, read_buffer) for i in batch
            ]
        else:
            opening = [
                websockets.connect(
                    urls[i], max_size=None, max_queue=None, ping_interval=None, open_timeout=300
                )
                for i in batch
            ]
        connections.extend(await asyncio.gather(*opening))
    for receiver, connection in zip(receivers, connections, strict=True):
        if clients_impl == "lean":
            receiver.client = connection
        else:
            receiver.client = WebsocketsClient(connection, receiver.message)
    return receivers


async def close_all(receivers: list[Receiver]) -> None:
    await asyncio.gather(*(receiver.client.close() for receiver in receivers))


class Awaited:
    """Deliveries awaited by ``wait_for``: each receiver counts a marker off as it reads it,
    and the last one sets ``done``. Before, ``wait_for`` looked at every receiver for every
    marker each millisecond: about 10,000 lookups a look in a burst to 499, a third of a
    core taken from the stage while it was being measured."""

    def __init__(self, receivers: list[Receiver], markers: list[str]) -> None:
        self.markers = frozenset(markers)
        self.done = asyncio.Event()
        self.missing = 0
        for receiver in receivers:
            missing = self.markers.difference(receiver.arrivals)
            self.missing += len(missing)
            if missing:
                receiver.awaited.append(self)
        if not self.missing:
            self.done.set()

    def arrived(self) -> None:
        self.missing -= 1
        if not self.missing:
            self.done.set()


class Receiver:
    """One client's messages, as its client reads them: notes when each marker arrived, and
    counts it off what a ``wait_for`` awaits."""

    client: Client
    """The connection (``connect_all`` sets it): the first receiver's sends every message."""

    def __init__(self) -> None:
        self.received = 0
        self.arrivals: dict[str, float] = {}
        self.acks: list[float] = []
        self.awaited: list[Awaited] = []

    def message(self, message: Message) -> None:
        self.received += 1
        if isinstance(message, str):
            for found in MARKER.findall(message):
                self._arrived(found)
            if '"type":"ack"' in message:
                self.acks.append(time.perf_counter())

    def _arrived(self, marker: str) -> None:
        if marker in self.arrivals:
            return
        self.arrivals[marker] = time.perf_counter()
        for awaited in self.awaited:
            if marker in awaited.markers:
                awaited.arrived()


async def settle(receivers: list[Receiver], quiet: float) -> None:
    """Wait until no client has received anything for ``quiet`` seconds."""
    last = -1
    while (total := sum(r.received for r in receivers)) != last:
        last = total
        await asyncio.sleep(quiet)


async def wait_for(others: list[Receiver], markers: list[str], started: float) -> tuple[float, int]:
    """(ms until every receiver had every marker, deliveries still missing after the
    deadline)."""
    awaited = Awaited(others, markers)
    try:
        timeout = max(0.0, started + LOSS_DEADLINE_S - time.perf_counter())
        await asyncio.wait_for(awaited.done.wait(), timeout)
    except TimeoutError:
        return LOSS_DEADLINE_S * 1000, awaited.missing
    finally:
        for receiver in others:
            if awaited in receiver.awaited:
                receiver.awaited.remove(awaited)
    last = max(r.arrivals[m] for r in others for m in markers)
    return (last - started) * 1000, 0


async def send_markers(
    receivers: list[Receiver], markers: list[str], direct: tuple[int, list[str]] | None
) -> None:
    for marker in markers:
        if direct is not None:
            port, ids = direct
            payload = json.dumps({"type": "newMessage", "payload": marker}).encode()
            await post_directly(port, ids, payload)
        else:
            message = json.dumps({"action": "sendMessage", "message": marker})
            await receivers[0].client.send(message)


@dataclass
class Run:
    clients: int
    joined_s: float
    singles_ms: list[float] = field(default_factory=list)
    burst_s: float = 0.0
    burst_began: float = 0.0
    """When the burst's first send went (``perf_counter``)."""
    burst_deliveries: int = 0
    lost: int = 0
    measured_deliveries: int = 0
    burst_busy: float = 0.0
    """The share of both cores busy (any process) during the burst, from /proc/stat."""
    burst_arrivals: list[float] = field(default_factory=list)
    """When each delivery of the burst was read (``--core-idle`` only)."""
    burst_bench_cpu_s: float = 0.0
    """The bench's own CPU during the burst: its clients reading every frame."""
    processes_before_burst: int = 0
    processes_after_burst: int = 0
    """The stage's processes (workers, fork servers, engines) before and after the first
    burst: the workers it started are CPU the burst paid."""
    again_s: float = 0.0
    again_deliveries: int = 0
    """The same burst once more, the pools as the first one left them (measured after the
    CPU window: the CPU table is the first burst's)."""

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.singles_ms)

    @property
    def burst_rate(self) -> float:
        return self.burst_deliveries / self.burst_s if self.burst_s else 0.0

    @property
    def again_rate(self) -> float:
        return self.again_deliveries / self.again_s if self.again_s else 0.0


def machine_jiffies() -> tuple[int, int]:
    """(busy, all) clock ticks of every core so far, from /proc/stat's first line: idle
    and iowait are not busy; steal is (the host's, not ours)."""
    ticks = [int(field) for field in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]
    return sum(ticks) - idle, sum(ticks)


def busy_share_since(before: tuple[int, int]) -> float:
    """The share of every core's time that was busy (any process) since ``before``
    (``machine_jiffies``): whether the work waited or ran out of cores."""
    busy, total = machine_jiffies()
    return (busy - before[0]) / max(1, total - before[1])


async def measure(
    url: str, clients: int, rounds: int, burst: int, direct_port: int | None = None,
    dynamodb: str = "", while_connected: Callable[[], Awaitable[None]] | None = None,
    tracer: Tracer | None = None,
    profile: FanoutProfile | None = None,
    stage_pid: int | None = None,
    clients_impl: str = "lean",
    core_idle: CoreSampler | None = None,
) -> Run:  # fmt: skip
    began = time.perf_counter()
    receivers = await connect_all(url, clients, clients_impl)
    await settle(receivers, 2.0)
    run = Run(clients, time.perf_counter() - began)
    direct = None
    others = receivers[1:]
    if direct_port is not None:
        members = await asyncio.to_thread(room_members, dynamodb)
        direct, others = (direct_port, [m.connection_id for m in members]), receivers
    tag = f"{os.getpid()}-{clients}"
    for index in range(WARM_UP + rounds):
        if index == WARM_UP and profile is not None:
            await profile.begin()
        markers = [f"bench-{tag}-{index}"]
        if tracer is not None:
            tracer.begin()
        started = time.perf_counter()
        await send_markers(receivers, markers, direct)
        elapsed, lost = await wait_for(others, markers, started)
        if index >= WARM_UP:
            run.singles_ms.append(elapsed)
            run.lost += lost
        await asyncio.sleep(0.2)
        if tracer is not None and index >= WARM_UP:
            arrivals = [r.arrivals[m] for r in others for m in markers if m in r.arrivals]
            tracer.end(started, receivers[0].acks, arrivals)
    if burst:
        if stage_pid is not None:
            run.processes_before_burst = len(process_tree(stage_pid))
        markers = [f"bench-{tag}-burst{index}" for index in range(burst)]
        if core_idle is not None and stage_pid is not None:
            core_idle.start(stage_pid)
        busy_before, bench_before = machine_jiffies(), time.process_time()
        started = time.perf_counter()
        await send_markers(receivers, markers, direct)
        elapsed, lost = await wait_for(others, markers, started)
        if core_idle is not None and stage_pid is not None:
            core_idle.stop(stage_pid, process_kind)
            run.burst_arrivals = [r.arrivals[m] for r in others for m in markers if m in r.arrivals]
        run.burst_busy = busy_share_since(busy_before)
        run.burst_bench_cpu_s = time.process_time() - bench_before
        run.burst_s, run.burst_began = elapsed / 1000, started
        run.burst_deliveries = len(others) * burst - lost
        run.lost += lost
        if stage_pid is not None:
            run.processes_after_burst = len(process_tree(stage_pid))
    if profile is not None:
        await profile.end()
        run.measured_deliveries = len(others) * (rounds + burst) - run.lost
    if burst:
        await asyncio.sleep(0.5)
        markers = [f"bench-{tag}-again{index}" for index in range(burst)]
        started = time.perf_counter()
        await send_markers(receivers, markers, direct)
        elapsed, lost = await wait_for(others, markers, started)
        run.again_s = elapsed / 1000
        run.again_deliveries = len(others) * burst - lost
        run.lost += lost
    if while_connected is not None:
        await while_connected()
    await close_all(receivers)
    return run


def memory_lines(pid: int, beside: tuple[int, ...] = ()) -> dict[str, str]:
    """RSS (and PSS) by kind: the stage with its workers, DynamoDB's engine (DynamoDB
    Local's JVM or moto's server), the SQS engine (moto, or fauxqs ``beside`` the stage's
    tree)."""
    sqs = FAUXQS if beside else MOTO
    engines = {"jvm": "DynamoDB Local (JVM)", "moto": "moto's server (DynamoDB)", "sqs": sqs}
    names = ("stage and workers", *engines.values())
    kinds: dict[str, list[float]] = {name: [0.0, 0.0, 0] for name in names}
    for process in [*process_tree(pid), *beside]:
        try:  # a worker may end while it is read (reaped, or killed by an injected fault)
            engine = engine_of(Path(f"/proc/{process}/cmdline").read_bytes())
            kind = engines.get(engine or "", "stage and workers")
            rss, pss = memory_mb(process), memory_mb(process, "Pss:")
        except (FileNotFoundError, ProcessLookupError):
            continue
        kinds[kind][0] += rss
        kinds[kind][1] += pss
        kinds[kind][2] += 1
    return {
        kind: f"{rss:.0f} (PSS {pss:.0f}, {count} processes)"
        for kind, (rss, pss, count) in kinds.items()
        if count
    }


async def run_all(args: argparse.Namespace, sqs_engine: tuple[int, str] | None = None) -> None:
    """The floor, then the stage; on ``sqs_engine`` (its pid and endpoint) if given."""
    rows: list[tuple[str, str, str, str]] = []
    floor: Run | None = None
    if not args.direct:
        port = free_port()
        baseline = start_baseline(port)
        try:
            floor = await measure(
                f"ws://127.0.0.1:{port}", args.clients, args.rounds, args.burst,
                clients_impl=args.clients_impl,
            )  # fmt: skip
        finally:
            baseline.terminate()
            baseline.wait(30)
    beside: tuple[int, ...] = ()
    options: list[str] = []
    if sqs_engine is not None:
        beside, options = (sqs_engine[0],), ["--sqs-endpoint", sqs_engine[1]]
    port = free_port()
    stamped = StampedLog() if args.timeline else None
    options += args.stage_options.split()
    starts = WorkerStarts()
    stage, dynamodb = start_stage(
        port, args.parameter_overrides, options, starts.read, stamped=stamped
    )
    url = f"ws://127.0.0.1:{port}"
    tracer = None
    if stamped is not None:
        bench = os.getpid()
        tracer = Tracer(stamped, lambda: [bench, *process_tree(stage.pid)], stage.pid, bench)
    memory: dict[str, dict[str, str]] = {}

    async def look_at_memory() -> None:
        memory["after the burst"] = memory_lines(stage.pid, beside)
        await asyncio.sleep(args.idle)
        memory[f"after {args.idle:g} s idle"] = memory_lines(stage.pid, beside)

    core_idle = CoreSampler() if args.core_idle else None
    profile = None
    if args.profile or args.cpu_by_process:
        profile = FanoutProfile(stage.pid, Path(args.profile) if args.profile else None, beside)
    try:
        run = await measure(
            url, args.clients, args.rounds, args.burst, port if args.direct else None, dynamodb,
            look_at_memory, tracer, profile, stage.pid, args.clients_impl, core_idle,
        )  # fmt: skip
        large = None
        if args.large and not args.direct:
            await asyncio.sleep(2)
            large = await measure(
                url, args.large, args.large_rounds, 0, clients_impl=args.clients_impl
            )
    finally:
        stage.terminate()
        stage.wait(60)
    name = "stage, @connections POSTed by the bench" if args.direct else "wslocal stage"
    floor_p50 = floor.p50_ms if floor else float("nan")
    rows.append((f"one message to {args.clients - 1}, p50 of {args.rounds} (ms)",
                 f"{floor_p50:.1f}", f"{run.p50_ms:.1f} ({run.p50_ms / floor_p50:.1f}x floor)",
                 "<= 6x floor"))  # fmt: skip
    rows.append((f"one message to {args.clients - 1}, best / worst (ms)",
                 f"{min(floor.singles_ms):.1f} / {max(floor.singles_ms):.1f}" if floor else "-",
                 f"{min(run.singles_ms):.1f} / {max(run.singles_ms):.1f}", ""))  # fmt: skip
    if args.burst:
        rows.append((f"burst of {args.burst} to {args.clients - 1}: deliveries/s",
                     f"{floor.burst_rate:,.0f}" if floor else "-", f"{run.burst_rate:,.0f}",
                     ">= 6,000"))  # fmt: skip
        per = 1e6 / max(run.burst_deliveries, 1)
        floor_per = 1e6 / max(floor.burst_deliveries, 1) if floor else 0.0
        rows.append(
            (
                "burst: both cores busy (any process, /proc/stat)",
                f"{floor.burst_busy:.0%}" if floor else "-",
                f"{run.burst_busy:.0%}",
                "",
            )
        )
        rows.append(("burst: the bench's own CPU per delivery (µs)",
                     f"{floor.burst_bench_cpu_s * floor_per:.0f}" if floor else "-",
                     f"{run.burst_bench_cpu_s * per:.0f}", ""))  # fmt: skip
        processes = f"{run.processes_before_burst} / {run.processes_after_burst}"
        rows.append(("burst: the stage's processes before / after it", "-", processes, ""))
        rows.append(("the same burst again, workers warm: deliveries/s",
                     f"{floor.again_rate:,.0f}" if floor else "-", f"{run.again_rate:,.0f}",
                     ""))  # fmt: skip
    rows.append(("lost deliveries", str(floor.lost) if floor else "-", str(run.lost), "0"))
    rows.append((f"{args.clients} clients joined (s)",
                 f"{floor.joined_s:.1f}" if floor else "-", f"{run.joined_s:.1f}", ""))  # fmt: skip
    if large is not None:
        what = f"room of {args.large}: one message to {args.large - 1}"
        rows.append((f"{what}, p50 of {args.large_rounds} (ms)", "-", f"{large.p50_ms:.1f}", ""))
        rows.append((f"room of {args.large}: lost deliveries", "-", str(large.lost), "0"))
        rows.append((f"room of {args.large}: joined (s)", "-", f"{large.joined_s:.1f}", ""))
    for when, kinds in memory.items():
        for kind, text in kinds.items():
            target = "PSS <= 300 MB idle" if kind == "stage and workers" else "own line"
            rows.append((f"RSS at {args.clients} clients, {when}: {kind} (MB)", "-", text, target))
    print(f"fan-out benchmark: plain websockets (floor) vs {name}; "
          f"SQS: {'fauxqs' if beside else 'moto'}; "
          f"overrides: {' '.join(args.parameter_overrides) or 'none'}; "
          f"stage options: {args.stage_options or 'none'}; "
          f"the bench's clients: {args.clients_impl}")  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    header = ("measure", "floor", "stage", "target")
    widths = [max(w, len(h)) for w, h in zip(widths, header, strict=True)]
    for row in (header, *rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    if profile is not None:
        profile_report = profile.measured(run.measured_deliveries).report()
        print(f"\nCPU per delivery: {args.rounds} messages and a burst of {args.burst} to "
              f"{args.clients - 1}\n\n{profile_report}")  # fmt: skip
        if args.profile:
            (Path(args.profile) / "report.md").write_text(profile_report + "\n")
        if args.burst:
            print("\n".join(burst_starts(starts, run)))
    if core_idle is not None:
        print("\n" + "\n".join(core_idle_report(core_idle, run.burst_arrivals, starts.why)))
    if tracer is not None:
        print("\n".join(report(tracer.rounds, f"{args.clients - 1} members")))
    print(f"load average: {' '.join(f'{load:.2f}' for load in os.getloadavg())}")


def burst_starts(starts: WorkerStarts, run: Run) -> list[str]:
    """Lines for the workers the pools started for calls during the burst, each with the
    growth rule that started it (the pool's log; the time is when the bench read it)."""
    burst = starts.between(run.burst_began, run.burst_began + run.burst_s)
    lines = [f"\nworkers started for calls in the burst (the pools' log): {len(burst)}"]
    lines.extend(
        f"  at {(stamp - run.burst_began) * 1000:.0f} ms: {function} pid {pid}, {why}"
        for stamp, function, pid, why in burst
    )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--burst", type=int, default=20)
    parser.add_argument(
        "--large", type=int, default=2000, help="room size of the last part; 0: skip"
    )
    parser.add_argument("--large-rounds", type=int, default=5)
    parser.add_argument(
        "--idle", type=float, default=70.0, help="seconds idle before memory is read again"
    )
    parser.add_argument("--parameter-overrides", nargs="*", default=[], metavar="NAME=VALUE")
    parser.add_argument(
        "--stage-options",
        default="",
        metavar="'OPTION ...'",
        help="given to wslocal start as they are ('--dynamodb moto')",
    )
    parser.add_argument(
        "--timeline",
        action="store_true",
        help="print where one message's time goes, hop by hop (bench/timeline.py)",
    )
    parser.add_argument(
        "--direct",
        action="store_true",
        help="POST to @connections from the bench, skipping the handler",
    )
    parser.add_argument(
        "--cpu-by-process",
        action="store_true",
        help="print the CPU per delivery of each process group of the stage",
    )
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="--cpu-by-process, and where it goes in each: py-spy and JFR profiles kept in DIR",
    )
    parser.add_argument(
        "--core-idle",
        action="store_true",
        help="sample /proc/stat every 10 ms in the stage's burst: idle cores, slice by slice",
    )
    parser.add_argument(
        "--clients-impl",
        choices=("lean", "websockets"),
        default="lean",
        help="the bench's clients: bench/lean_websocket.py, or the websockets library's",
    )
    parser.add_argument(
        "--fauxqs",
        type=Path,
        metavar="DIR",
        help="serve the stage's queues from fauxqs, this package folder (bench/fauxqs_server.py)",
    )
    args = parser.parse_args()
    if args.profile:
        require_py_spy()
    with contextlib.ExitStack() as engines:
        sqs_engine = None
        if args.fauxqs is not None:
            sqs_engine = engines.enter_context(serve_fauxqs(args.fauxqs))
            for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
                os.environ.setdefault(variable, "wslocal")  # the stage's, for an endpoint of ours
        asyncio.run(run_all(args, sqs_engine))


if __name__ == "__main__":
    main()
