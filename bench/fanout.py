"""Fan-out benchmark: one chat message to every member of a room of N clients.

    .venv/bin/python bench/fanout.py [--clients 500] [--rounds 7] [--baseline]

Starts the local stage (``wslocal start``) on the project's template with DynamoDB Local
in a process of its own, connects N WebSocket clients to one room, then has one of them
send ``sendMessage`` and times how long until every other client has the message (the
path: client -> stage -> SendMessageFunction worker -> DynamoDB Query -> N-1 @connections
POSTs -> stage -> clients). ``--baseline`` runs the same clients against a plain
``websockets`` broadcast server, the floor any stage can reach on this machine. It prints
the latency per round, the median and the memory of the stage's process tree.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import websockets

ROOT = Path(__file__).resolve().parents[1]
BATCH = 50


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += int(
                next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS"))
            )
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except (FileNotFoundError, StopIteration):
            continue
        pending.extend(int(child) for child in children)
    return total / 1024


def process_count(pid: int) -> int:
    count, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except FileNotFoundError:
            continue
        count += 1
        pending.extend(int(child) for child in children)
    return count


def start_stage(port: int) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "wslocal.cli", "start", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if "Press Ctrl-C" in line:
            break
    else:
        raise SystemExit("the stage did not start")
    # Keep draining the stage's log so it never blocks on a full pipe.
    import threading

    threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()  # type: ignore[union-attr]
    return process


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


async def connect_all(url: str, count: int) -> list[websockets.ClientConnection]:
    """Connect in batches; keepalive pings are off (a client busy with the joins' presence
    storm must not be dropped for a late pong)."""
    clients: list[websockets.ClientConnection] = []
    for start in range(0, count, BATCH):
        batch = [
            websockets.connect(
                f"{url}?room=bench&name=c{index}",
                max_size=None,
                max_queue=None,
                ping_interval=None,
                open_timeout=300,
            )
            for index in range(start, min(count, start + BATCH))
        ]
        clients.extend(await asyncio.gather(*batch))
    return clients


class Receiver:
    """Reads one client's messages all the time; notes when each marker arrived."""

    def __init__(self, ws: websockets.ClientConnection) -> None:
        self.ws = ws
        self.received = 0
        self.arrivals: dict[str, float] = {}
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            self.received += 1
            if '"bench-' in message:
                self.arrivals[json.loads(message)["payload"]] = time.perf_counter()


async def settle(receivers: list[Receiver], quiet: float) -> None:
    """Wait until no client has received anything for ``quiet`` seconds."""
    last = -1
    while (total := sum(r.received for r in receivers)) != last:
        last = total
        await asyncio.sleep(quiet)


async def one_round(receivers: list[Receiver], marker: str) -> tuple[float, float]:
    sender, others = receivers[0], receivers[1:]
    started = time.perf_counter()
    await sender.ws.send(json.dumps({"action": "sendMessage", "message": marker}))
    deadline = started + 120
    while not all(marker in r.arrivals for r in others):
        if time.perf_counter() > deadline:
            missing = sum(marker not in r.arrivals for r in others)
            raise SystemExit(f"{missing} clients never received {marker}")
        await asyncio.sleep(0.001)
    arrivals = [r.arrivals[marker] for r in others]
    return (max(arrivals) - started) * 1000, (statistics.median(arrivals) - started) * 1000


async def run(args: argparse.Namespace) -> None:
    port = free_port()
    process = start_baseline(port) if args.baseline else start_stage(port)
    url = f"ws://127.0.0.1:{port}"
    try:
        began = time.perf_counter()
        clients = await connect_all(url, args.clients)
        receivers = [Receiver(ws) for ws in clients]
        await settle(receivers, args.settle)
        joined = time.perf_counter() - began
        rounds = []
        for index in range(args.rounds):
            rounds.append(await one_round(receivers, f"bench-{index}-{os.getpid()}"))
            await asyncio.sleep(0.2)
        last = [r[0] for r in rounds]
        server = "plain websockets broadcast" if args.baseline else "wslocal stage (chat template)"
        print(f"server: {server}")
        print(f"clients: {args.clients} in one room; joined (with presence) in {joined:.1f} s")
        print("round  all delivered (ms)  median delivery (ms)")
        for index, (everyone, median) in enumerate(rounds):
            print(f"{index:>5}  {everyone:>18.1f}  {median:>20.1f}")
        print(f"fan-out to {args.clients - 1}: median {statistics.median(last):.1f} ms, "
              f"best {min(last):.1f} ms, worst {max(last):.1f} ms")  # fmt: skip
        print(f"server processes: {process_count(process.pid)}, "
              f"memory (RSS of the tree): {tree_rss_mb(process.pid):.0f} MB")  # fmt: skip
        await asyncio.gather(*(ws.close() for ws in clients))
    finally:
        process.terminate()
        process.wait(60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument(
        "--settle", type=float, default=2.0, help="quiet seconds that end the joins"
    )
    parser.add_argument("--baseline", action="store_true")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
