"""AWS's sample chat shape in Node, on the stage then on serverless-offline: many clients,
one message to all.

    .venv/bin/python bench/node_chat.py [--clients 500] [--messages 3] [--only stage|offline]

``wslocal start`` on tests/fixtures/node_chat_app (three nodejs20.x functions written like
aws-samples/simple-websockets-chat-app: the sender's function scans the connections table
and posts to each connection through the SDK v3's Management API client) with DynamoDB
Local. ``--clients`` connect; one of them sends ``--messages`` messages, one after the
other once every client got the previous one. Prints, per message, the p50 and max time
from the send to a client's receipt, and deliveries per second (clients / time until the
last one got it), and the server's process count and RSS (DynamoDB Local's JVM left out).

Then the same clients and messages against serverless-offline (npm ``serverless@3``, the
last that runs without an account, and ``serverless-offline``, installed once into the
per-user cache by npm) serving the same handler files through bench/serverless_offline/
serverless.yml, with DynamoDB Local as the table's endpoint (AWS_ENDPOINT_URL_DYNAMODB).
The sender's module is imported through sendmessage_offline.mjs, which aims the Management
API endpoint the handler builds for AWS at serverless-offline's own.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import websockets
from fanout import memory_mb
from profiles import process_tree

from wslocal.cache import cache_dir
from wslocal.engines.dynamodb import client, free_port, start_engine

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "tests" / "fixtures" / "node_chat_app"
OFFLINE = Path(__file__).resolve().parent / "serverless_offline"
REGION = "us-east-1"


def drain(process: subprocess.Popen[str], ready: str, what: str) -> deque[str]:
    """Read ``process``'s output until ``ready``, then keep reading it in a thread; its
    last lines, to show when a client is refused."""
    assert process.stdout is not None
    for line in process.stdout:
        if ready in line:
            break
    else:
        raise SystemExit(f"{what} did not start")
    stdout = process.stdout
    tail: deque[str] = deque(maxlen=30)
    threading.Thread(target=lambda: tail.extend(stdout), daemon=True).start()
    return tail


def start(port: int) -> tuple[subprocess.Popen[str], deque[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "wslocal.cli", "start", "--template", str(APP / "template.yaml"),
         "--port", str(port), "--no-watch"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    return process, drain(process, "Press Ctrl-C", "the stage")


def offline_packages() -> Path:
    """serverless@3, serverless-offline and the handlers' SDK clients, installed by npm
    once into the per-user cache (keyed by bench/serverless_offline/package.json)."""
    manifest = (OFFLINE / "package.json").read_bytes()
    folder = (
        cache_dir() / "bench" / f"serverless-offline-{hashlib.sha256(manifest).hexdigest()[:12]}"
    )
    done = folder / "installed"
    if not done.exists():
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "package.json").write_bytes(manifest)
        print(f"installing serverless@3 and serverless-offline into {folder} (once)")
        subprocess.run(["npm", "install", "--no-audit", "--no-fund"], cwd=folder, check=True)
        done.touch()
    return folder / "node_modules"


@contextmanager
def serverless_offline(port: int) -> Iterator[tuple[subprocess.Popen[str], deque[str]]]:
    """serverless-offline on ``port`` in a temp folder (serverless.yml, the handlers, the
    cached node_modules), its table in a DynamoDB Local of its own."""
    modules = offline_packages()
    engine = start_engine(region=REGION, search_from=ROOT, engine="local")
    with engine, tempfile.TemporaryDirectory(prefix="slsbench-") as folder:
        service = Path(folder)
        for name in ("serverless.yml", "management.mjs", "sendmessage_offline.mjs"):
            shutil.copy(OFFLINE / name, service / name)
        for handler in ("onconnect", "ondisconnect", "sendmessage"):
            shutil.copytree(APP / handler, service / handler)
        (service / "node_modules").symlink_to(modules)
        client(engine.endpoint, REGION).create_table(
            TableName="node_chat_connections",
            AttributeDefinitions=[{"AttributeName": "connectionId", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "connectionId", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        environment = {
            **os.environ, "AWS_ENDPOINT_URL_DYNAMODB": engine.endpoint,
            "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
            "SLS_TELEMETRY_DISABLED": "1", "SLS_NOTIFICATIONS_MODE": "off",
            "MANAGEMENT_ENDPOINT": f"http://127.0.0.1:{port}",
        }  # fmt: skip
        process = subprocess.Popen(
            ["node", str(modules / "serverless" / "bin" / "serverless.js"), "offline",
             "--websocketPort", str(port), "--httpPort", str(free_port()),
             "--lambdaPort", str(free_port())],
            cwd=service, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        try:
            yield process, drain(process, "[http for websocket] listening", "serverless-offline")
        finally:
            process.terminate()
            process.wait(60)


def footprint(pid: int) -> str:
    """Process count and RSS of ``pid``'s tree, DynamoDB Local's JVM left out."""
    tree = [p for p in process_tree(pid) if "java" not in Path(f"/proc/{p}/comm").read_text()]
    return f"{len(tree)} processes, {sum(memory_mb(p) for p in tree):.0f} MB RSS"


async def receipt(ws: websockets.ClientConnection, text: str, sent: float) -> float:
    """Milliseconds from ``sent`` until ``ws`` got ``text``."""
    while await asyncio.wait_for(ws.recv(), 120) != text:
        pass
    return (time.perf_counter() - sent) * 1000


async def run(
    url: str, pid: int, clients: int, messages: int, output: deque[str], batch: int
) -> list[str]:
    """The benchmark's lines for one server: connects, each message, its footprint. A
    refused client is counted (and the server's last lines shown); the others go on."""
    began = time.perf_counter()
    opened: list[object] = []
    for first in range(0, clients, batch):
        opening = (
            websockets.connect(url, open_timeout=120)
            for _ in range(first, min(first + batch, clients))
        )
        opened += await asyncio.gather(*opening, return_exceptions=True)
    sockets = [ws for ws in opened if isinstance(ws, websockets.ClientConnection)]
    refused = Counter(str(error) for error in opened if isinstance(error, BaseException))
    waves = f" ({batch} at a time)" if batch < clients else ""
    lines = [f"{clients} connects{waves}: {time.perf_counter() - began:.1f} s"]
    if refused:
        lines[0] += f", {clients - len(sockets)} refused ({'; '.join(refused)})"
        print(lines[0], "\nthe server's last lines:\n" + "".join(output), flush=True)
    clients = len(sockets)
    if not sockets:
        return lines
    try:
        for number in range(messages):
            text = f"message {number}"
            sent = time.perf_counter()
            await sockets[0].send(json.dumps({"action": "sendmessage", "data": text}))
            times = await asyncio.gather(*(receipt(ws, text, sent) for ws in sockets))
            last = max(times)
            rate = clients / (last / 1000)
            median = statistics.median(times)
            lines.append(f"message {number + 1}: p50 {median:.0f} ms, last {last:.0f} ms, "
                         f"{rate:.0f} deliveries/s")  # fmt: skip
            print(lines[-1], flush=True)
        lines.append(footprint(pid))
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--messages", type=int, default=3)
    parser.add_argument("--only", choices=("stage", "offline"))
    parser.add_argument(
        "--connect-batch", type=int, default=0, help="connect this many at a time (0: all)"
    )
    args = parser.parse_args()
    results: dict[str, list[str]] = {}
    print(f"load average at the start {os.getloadavg()[0]:.1f}")
    batch = args.connect_batch or args.clients
    if args.only != "offline":
        port = free_port()
        process, output = start(port)
        try:
            results["wslocal start"] = asyncio.run(
                run(
                    f"ws://127.0.0.1:{port}/Prod",
                    process.pid,
                    args.clients,
                    args.messages,
                    output,
                    batch,
                )
            )
        finally:
            process.terminate()
            process.wait(60)
    if args.only != "stage":
        port = free_port()
        with serverless_offline(port) as (process, output):
            results["serverless-offline"] = asyncio.run(
                run(
                    f"ws://127.0.0.1:{port}",
                    process.pid,
                    args.clients,
                    args.messages,
                    output,
                    batch,
                )
            )
    print(f"load average at the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for side, lines in results.items():
        print(f"{side}: " + " | ".join(lines))


if __name__ == "__main__":
    main()
