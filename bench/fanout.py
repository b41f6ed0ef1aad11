"""Fan-out benchmark: one chat message to every member of a room of N clients.

    .venv/bin/python bench/fanout.py [--clients 500] [--rounds 7] [--baseline | --direct]

Starts the local stage (``wslocal start``) on the project's template with DynamoDB Local
in a process of its own, connects N WebSocket clients to one room, then has one of them
send ``sendMessage`` and times how long until every other client has the message (the
path: client -> stage -> SendMessageFunction worker -> DynamoDB Query -> N-1 @connections
POSTs -> stage -> clients). ``--baseline`` runs the same clients against a plain
``websockets`` broadcast server, the floor any stage can reach on this machine;
``--direct`` POSTs to ``@connections`` from the bench itself over 32 keep-alive
connections, to separate the stage's own cost from the handler's botocore. It prints
the latency per round, the median and the memory of the stage's process tree.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import websockets

from wslocal.engines.dynamodb import free_port

ROOT = Path(__file__).resolve().parents[1]
BATCH = 50
MARKER = re.compile(r"bench-\d+-\d+")


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


def start_stage(port: int, overrides: list[str]) -> tuple[subprocess.Popen[str], str]:
    """The stage and its DynamoDB endpoint (read from the banner)."""
    extra = ["--parameter-overrides", *overrides] if overrides else []
    process = subprocess.Popen(
        [sys.executable, "-m", "wslocal.cli", "start", "--port", str(port), *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    dynamodb = ""
    for line in process.stdout:
        if line.strip().startswith("DynamoDB"):
            dynamodb = line.split(" at ")[1].split(";")[0]
        if "Press Ctrl-C" in line:
            break
    else:
        raise SystemExit("the stage did not start")
    stdout = process.stdout
    threading.Thread(target=lambda: [None for _ in stdout], daemon=True).start()  # keep draining
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
                f"POST /local/@connections/{target} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
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
            if isinstance(message, str) and (found := MARKER.search(message)):
                self.arrivals[found.group(0)] = time.perf_counter()


async def settle(receivers: list[Receiver], quiet: float) -> None:
    """Wait until no client has received anything for ``quiet`` seconds."""
    last = -1
    while (total := sum(r.received for r in receivers)) != last:
        last = total
        await asyncio.sleep(quiet)


async def one_round(
    receivers: list[Receiver], marker: str, direct: tuple[int, list[str]] | None = None
) -> tuple[float, float]:
    sender, others = receivers[0], receivers[1:]
    started = time.perf_counter()
    message = json.dumps({"type": "newMessage", "payload": marker})
    if direct is not None:
        port, ids = direct
        others = receivers
        await post_directly(port, ids, message.encode())
    else:
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
    if args.baseline:
        process, dynamodb = start_baseline(port), ""
    else:
        process, dynamodb = start_stage(port, args.parameter_overrides)
    url = f"ws://127.0.0.1:{port}"
    try:
        began = time.perf_counter()
        clients = await connect_all(url, args.clients)
        receivers = [Receiver(ws) for ws in clients]
        await settle(receivers, args.settle)
        joined = time.perf_counter() - began
        direct = None
        if args.direct:
            members = await asyncio.to_thread(room_members, dynamodb)
            direct = (port, [member.connection_id for member in members])
        rounds = []
        for index in range(args.rounds):
            marker = f"bench-{index}-{os.getpid()}"
            rounds.append(await one_round(receivers, marker, direct))
            await asyncio.sleep(0.2)
        last = [r[0] for r in rounds]
        server = "plain websockets broadcast" if args.baseline else "wslocal stage (chat template)"
        if args.direct:
            server += ", @connections POSTed directly (no handler, no botocore)"
        print(f"server: {server}")
        print(f"clients: {args.clients} in one room; joined (with presence) in {joined:.1f} s")
        print("round  all delivered (ms)  median delivery (ms)")
        for index, (everyone, median) in enumerate(rounds):
            print(f"{index:>5}  {everyone:>18.1f}  {median:>20.1f}")
        recipients = args.clients if args.direct else args.clients - 1
        print(f"fan-out to {recipients}: median {statistics.median(last):.1f} ms, "
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
    parser.add_argument("--parameter-overrides", nargs="*", default=[], metavar="NAME=VALUE")
    parser.add_argument(
        "--direct",
        action="store_true",
        help="POST to @connections from the bench, skipping the handler",
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
