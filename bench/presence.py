"""Presence benchmark: joins that never wait for the room, and presence that is never lost.

    .venv/bin/python bench/presence.py [--clients 500] [--churn-clients 200] [--churn-seconds 60]
    .venv/bin/python bench/presence.py --joins-only [--clients 500] [--warm-first 1000]
        [--profile DIR]

Against ``wslocal start`` on the project's template (DynamoDB Local, the stream-driven
PresenceFunction), and in the same run a plain ``websockets`` server (the floor):

1. joins: N clients connect to one room, 50 at a time; the time until all are connected,
   then until every one of them has a member count of N (the presence of all the joins
   delivered); then, once quiet, each handshake's latency (p50, p99) for a room of 10 and
   a room of N;
2. presence delay: 20 more clients join the full room one by one; the time from the
   start of each join until a member already there sees it (p50, p95);
3. churn: clients join and leave one room at random for a while; then, once quiet, every
   client's newest members snapshot must equal the table's rows for the room.

``--joins-only`` runs the first part's joins alone (floor, then stage), and prints the CPU
each kind of the stage's processes used from the first join until every member counted
them all (from ``/proc``: the stage, each function's workers, DynamoDB Local, moto; the
JVM's also by thread: SQLite's, Jetty's, its compiler's, GC's), and
over the same window how busy every core was (any process) and the CPU of the bench's own
process (its clients, which share the cores, and the thread reading the stage's log); for
the floor the same until all are connected.
``--warm-first PUTS`` (with ``--joins-only``) warms DynamoDB Local's JIT before the joins, as
a stage running a while has it (``warm_dynamodb``); without it the joins come a second
after the JVM started.
``--profile DIR`` (with ``--joins-only``) also samples every process during the joins, as
``bench/fanout.py --profile`` does, and prints per join where the CPU goes and whose code it
ran (bench/fanout_profile.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import websockets
from dynamodb_local import ROOM_INDEX, connection_row, connections_tables
from fanout import (
    busy_share_since,
    cpu_by_kind,
    machine_jiffies,
    process_kind,
    process_tree,
    room_members,
    start_baseline,
    start_stage,
    tree_rss_mb,
)
from fanout_profile import SETTLE_S, FanoutProfile, jvm_threads, require_py_spy
from profile_places import JVM
from profiles import cpu_seconds, thread_cpu_since

from wslocal.engines.dynamodb import client, free_port

BATCH = 50


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class Member:
    """One client: keeps the newest members snapshot and when each joiner was seen."""

    def __init__(self, ws: websockets.ClientConnection, name: str) -> None:
        self.ws, self.name = ws, name
        self.names: list[str] | None = None
        self.count = 0
        self.as_of = ""
        self.seen_joining: dict[str, float] = {}
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for message in self.ws:
                envelope = json.loads(message)
                if envelope.get("type") != "presence":
                    continue
                for name in envelope["joined"]:
                    self.seen_joining.setdefault(name, time.perf_counter())
                snapshot = envelope["members"]
                if snapshot["asOf"] >= self.as_of:
                    self.as_of, self.names = snapshot["asOf"], snapshot["names"]
                    self.count = snapshot["count"]
        except websockets.ConnectionClosed:
            return


async def join(url: str, room: str, name: str) -> tuple[websockets.ClientConnection, float]:
    began = time.perf_counter()
    ws = await websockets.connect(
        f"{url}?room={room}&name={name}",
        max_size=None,
        max_queue=None,
        ping_interval=None,
        open_timeout=300,
    )
    return ws, (time.perf_counter() - began) * 1000


async def join_room(url: str, room: str, count: int) -> tuple[list[Member], list[float], float]:
    """Connect ``count`` clients, ``BATCH`` at a time: members, handshake ms, total s."""
    members: list[Member] = []
    latencies: list[float] = []
    began = time.perf_counter()
    for start in range(0, count, BATCH):
        names = [f"{room}-{index}" for index in range(start, min(count, start + BATCH))]
        joined = await asyncio.gather(*(join(url, room, name) for name in names))
        for (ws, latency), name in zip(joined, names, strict=True):
            members.append(Member(ws, name))
            latencies.append(latency)
    return members, latencies, time.perf_counter() - began


async def close_all(members: list[Member]) -> None:
    await asyncio.gather(*(m.ws.close() for m in members), return_exceptions=True)


async def handshakes(url: str, room: str, count: int) -> list[float]:
    """``count`` joins one after another into ``room``: each handshake's ms alone, so
    the room's size is the only thing that differs between rooms."""
    latencies, opened = [], []
    for index in range(count):
        ws, latency = await join(url, room, f"probe-{index}")
        opened.append(Member(ws, f"probe-{index}"))
        latencies.append(latency)
    await close_all(opened)
    return latencies


async def all_counted(members: list[Member], count: int, presence: bool) -> float | None:
    """Seconds until every member's snapshot counts ``count`` (None without presence)."""
    if not presence:
        return None
    began = time.perf_counter()
    while any(member.count != count for member in members):
        if time.perf_counter() - began > 120:
            raise SystemExit("the room's presence never reached every member")
        await asyncio.sleep(0.05)
    return time.perf_counter() - began


async def joins(
    url: str, label: str, clients: int, presence: bool = True
) -> tuple[list[str], list[Member]]:
    """All ``clients`` into one room 50 at a time, until each one counts them all; then
    handshake latency into a room of 10 and into that room."""
    large, _, total = await join_room(url, "large", clients)
    settled = await all_counted(large, clients, presence)
    small, _, _ = await join_room(url, "small", 10)
    await all_counted(small, 10, presence)
    lines = [f"{label:<26} {clients} clients into one room, 50 at a time: all connected in "
             f"{total:.2f} s"]  # fmt: skip
    if settled is not None:
        lines.append(
            f"{label:<26} ... then every member counted {clients} after {settled:.2f} s more"
        )
    for room, size in (("small", 10), ("large", clients)):
        latencies = await handshakes(url, room, 50)
        lines.append(
            f"{label:<26} handshake into a room of {size:>4}: p50 "
            f"{statistics.median(latencies):5.1f} ms, p99 {percentile(latencies, 0.99):5.1f} ms"
        )
    await close_all(small)
    return lines, large


async def presence_delay(url: str, room_members: list[Member], joins: int) -> list[float]:
    observer = room_members[0]
    delays, newcomers = [], []
    for index in range(joins):
        name = f"late-{index}"
        began = time.perf_counter()
        ws, _ = await join(url, "large", name)
        newcomers.append(Member(ws, name))
        while name not in observer.seen_joining:
            if time.perf_counter() - began > 60:
                raise SystemExit(f"{name}'s join was never announced")
            await asyncio.sleep(0.005)
        delays.append((observer.seen_joining[name] - began) * 1000)
        await asyncio.sleep(0.3)
    await close_all(newcomers)
    return delays


def table_names(dynamodb_endpoint: str, room: str) -> list[str]:
    """The room's members as the table has them."""
    return sorted(member.name for member in room_members(dynamodb_endpoint, room))


async def churn(url: str, dynamodb: str, slots: int, seconds: float) -> tuple[int, int, int]:
    """Join and leave at random; return (changes made, clients compared, views wrong)."""
    connected: dict[int, Member] = {}
    rng = random.Random(7)
    changes = 0
    ends = time.perf_counter() + seconds
    while time.perf_counter() < ends:
        slot = rng.randrange(slots)
        if slot in connected:
            await connected.pop(slot).ws.close()
        else:
            ws, _ = await join(url, "churn", f"u{slot}")
            connected[slot] = Member(ws, f"u{slot}")
        changes += 1
        await asyncio.sleep(rng.uniform(0, 0.1))
    expected = await asyncio.to_thread(table_names, dynamodb, "churn")
    deadline = time.perf_counter() + 30
    while time.perf_counter() < deadline:  # the stream's last batches are still on their way
        wrong = sum(sorted(m.names or []) != expected for m in connected.values())
        if not wrong:
            break
        await asyncio.sleep(0.5)
        expected = await asyncio.to_thread(table_names, dynamodb, "churn")
    await close_all(list(connected.values()))
    return changes, len(connected), wrong


WARM_TABLE = "bench-warm-up"


def warm_dynamodb(endpoint: str, puts: int) -> float:
    """DynamoDB Local's JIT warmed as a stage running a while has it: ``puts`` PutItems from
    8 threads, each row as ``ConnectionStore.add`` writes it, into a copy of the template's
    connections table (its indexes, stream and projections), 20 Queries of its room, then
    the copy deleted (its stream's records stay in DynamoDB Local until they expire, as on
    AWS). Returns the seconds it took."""
    began = time.perf_counter()
    dynamodb = client(endpoint, "us-east-1")
    [create, *_] = connections_tables()
    dynamodb.create_table(**{**create, "TableName": WARM_TABLE})
    clients = [client(endpoint, "us-east-1") for _ in range(8)]
    now_ms = int(time.time() * 1000)

    def put(index: int) -> None:
        item = connection_row(f"W{index:07d}cFiA=", "warm", f"member-{index}", now_ms - index)
        clients[index % 8].put_item(TableName=WARM_TABLE, Item=item)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, range(puts)))
    for _ in range(20):
        dynamodb.query(
            TableName=WARM_TABLE,
            IndexName=ROOM_INDEX,
            KeyConditionExpression="room = :room",
            ExpressionAttributeValues={":room": {"S": "warm"}},
        )
    dynamodb.delete_table(TableName=WARM_TABLE)
    return time.perf_counter() - began


async def warmed_first(stage_pid: int, endpoint: str, puts: int) -> str:
    """``warm_dynamodb``, then 1 s of quiet; the line that says what it took."""
    jvm_cpu = cpu_by_kind(stage_pid).get(JVM, 0.0)
    took = await asyncio.to_thread(warm_dynamodb, endpoint, puts)
    jvm_cpu = cpu_by_kind(stage_pid).get(JVM, 0.0) - jvm_cpu
    await asyncio.sleep(1.0)
    return (f"  DynamoDB Local warmed first: {puts} PutItems and 20 Queries of a copy of the "
            f"connections table in {took:.2f} s, {jvm_cpu:.2f} s of the JVM's CPU")  # fmt: skip


async def joins_alone(
    clients: int, options: list[str], folder: Path | None = None, warm_puts: int = 0
) -> None:
    """Floor, then stage: the joins' wall time, then the stage's CPU by process kind; with
    ``folder``, also where it goes and whose code it is, per join, as ``bench/fanout.py
    --profile`` gives it per delivery (py-spy and JFR profiles kept in ``folder``). With
    ``warm_puts``, DynamoDB Local is warmed first (``warm_dynamodb``), then 1 s of quiet."""
    port = free_port()
    baseline = start_baseline(port)
    try:
        floor_busy, floor_bench = machine_jiffies(), time.process_time()
        floor_server = cpu_seconds(baseline.pid)
        members, _, floor = await join_room(f"ws://127.0.0.1:{port}", "large", clients)
        floor_busy_share = busy_share_since(floor_busy)
        floor_bench_s = time.process_time() - floor_bench
        floor_server = cpu_seconds(baseline.pid) - floor_server
        await close_all(members)
    finally:
        baseline.terminate()
        baseline.wait(30)
    port = free_port()
    stage, dynamodb = start_stage(port, [], options)
    url = f"ws://127.0.0.1:{port}"
    profile = FanoutProfile(stage.pid, folder) if folder is not None else None
    try:
        jvm = next((pid for pid in process_tree(stage.pid) if process_kind(pid) == JVM), None)
        warm_line = await warmed_first(stage.pid, dynamodb, warm_puts) if warm_puts else None
        if profile is not None:
            await profile.begin()
        before = cpu_by_kind(stage.pid)
        jvm_before = jvm_threads(jvm)
        busy_before, bench_before = machine_jiffies(), time.process_time()
        members, _, total = await join_room(url, "large", clients)
        settled = await all_counted(members, clients, presence=True) or 0.0
        after = cpu_by_kind(stage.pid)
        jvm_after = jvm_threads(jvm)
        busy_share = busy_share_since(busy_before)
        bench_s = time.process_time() - bench_before
        processes = len(process_tree(stage.pid))
        if profile is not None:
            await profile.end()
        await close_all(members)
    finally:
        stage.terminate()
        stage.wait(60)
    print(f"{clients} clients into one room, 50 at a time (load average "
          f"{' '.join(f'{load:.1f}' for load in os.getloadavg())}):")  # fmt: skip
    if warm_line is not None:
        print(warm_line)
    print(f"  plain websockets (floor): all connected in {floor:.2f} s; every core busy "
          f"{floor_busy_share:.0%}; its server {floor_server:.2f} s of CPU, the bench's clients "
          f"{floor_bench_s:.2f} s")  # fmt: skip
    print(f"  wslocal stage: all connected in {total:.2f} s, every member counted {clients} "
          f"after {settled:.2f} s more: {total + settled:.2f} s")  # fmt: skip
    print(
        f"  until every member counted: every core busy {busy_share:.0%} (any process, "
        f"/proc/stat); the bench's process (its clients, the stage's log reader) "
        f"{bench_s:.2f} s of CPU ({bench_s / clients * 1000:.2f} ms a join)"
    )
    print(f"  CPU until every member counted, by process ({processes} processes at the end):")
    for kind in sorted(after, key=lambda k: -(after[k] - before.get(k, 0.0))):
        used = after[kind] - before.get(kind, 0.0)
        print(f"    {kind:<34} {used:6.2f} s  ({used / clients * 1000:5.2f} ms a join)")
    total_cpu = sum(after.values()) - sum(before.values())
    print(f"    {'all':<34} {total_cpu:6.2f} s  ({total_cpu / clients * 1000:5.2f} ms a join)")
    if jvm_before is not None and jvm_after is not None:
        print("  of which DynamoDB Local's JVM, by thread (its compiler's is its warming up):")
        by_kind = thread_cpu_since(jvm_before, jvm_after)
        for kind in sorted(by_kind, key=lambda k: -by_kind[k]):
            print(f"    {kind:<34} {by_kind[kind]:6.2f} s")
    if profile is not None and folder is not None:
        report = profile.measured(clients, unit="join").report()
        print(f"\nCPU per join, from the first join to {SETTLE_S:g} s after every member "
              f"counted them all, sampled:\n\n{report}")  # fmt: skip
        (folder / "report.md").write_text(report + "\n")


async def run(args: argparse.Namespace) -> None:
    if args.joins_only:
        await joins_alone(args.clients, args.stage_options.split(), args.profile, args.warm_first)
        return
    port = free_port()
    baseline = start_baseline(port)
    try:
        floor, members = await joins(
            f"ws://127.0.0.1:{port}", "plain websockets (floor)", args.clients, presence=False
        )
        await close_all(members)
    finally:
        baseline.terminate()
        baseline.wait(30)
    port = free_port()
    stage, dynamodb = start_stage(port, [])
    url = f"ws://127.0.0.1:{port}"
    try:
        lines, members = await joins(url, "wslocal stage (chat)", args.clients)
        delays = await presence_delay(url, members, args.late_joins)
        rss = tree_rss_mb(stage.pid)
        await close_all(members)
        changes, compared, wrong = await churn(
            url, dynamodb, args.churn_clients, args.churn_seconds
        )
    finally:
        stage.terminate()
        stage.wait(60)
    for line in (*floor, *lines):
        print(line)
    print(
        f"presence delay (join -> a member sees it, room of {args.clients}, "
        f"{args.late_joins} joins): p50 {statistics.median(delays):.0f} ms, "
        f"p95 {percentile(delays, 0.95):.0f} ms, max {max(delays):.0f} ms"
    )
    print(
        f"churn: {changes} joins/leaves by {args.churn_clients} clients in "
        f"{args.churn_seconds:g} s; {compared} clients compared with the table, "
        f"{wrong} with a wrong member list"
    )
    print(f"stage tree RSS with {args.clients + 1} clients: {rss:.0f} MB (DynamoDB Local included)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--late-joins", type=int, default=20)
    parser.add_argument("--churn-clients", type=int, default=200)
    parser.add_argument("--churn-seconds", type=float, default=60.0)
    parser.add_argument(
        "--joins-only", action="store_true", help="the joins alone, with CPU by process"
    )
    parser.add_argument(
        "--stage-options",
        default="",
        metavar="'OPTION ...'",
        help="with --joins-only: given to wslocal start as they are ('--max-workers 2')",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="with --joins-only: where each join's CPU goes, and whose code it is (py-spy, JFR)",
    )
    parser.add_argument(
        "--warm-first",
        type=int,
        default=0,
        metavar="PUTS",
        help="with --joins-only: warm DynamoDB Local's JIT first, as a stage running a while has "
        "it (PUTS PutItems and 20 Queries into a copy of the connections table, deleted)",
    )
    args = parser.parse_args()
    if args.warm_first < 0:
        parser.error("--warm-first takes PUTS >= 0")
    if args.warm_first and not args.joins_only:
        parser.error("--warm-first is for --joins-only")
    if args.warm_first and "moto" in args.stage_options.split():
        parser.error("--warm-first warms DynamoDB Local's JVM; --dynamodb moto has none")
    if args.profile is not None:
        if not args.joins_only:
            parser.error("--profile is for --joins-only")
        require_py_spy()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
