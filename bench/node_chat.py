"""AWS's sample chat shape in Node on the stage: many clients, one message to all.

    .venv/bin/python bench/node_chat.py [--clients 500] [--messages 3]

``wslocal start`` on tests/fixtures/node_chat_app (three nodejs20.x functions written like
aws-samples/simple-websockets-chat-app: the sender's function scans the connections table
and posts to each connection through the SDK v3's Management API client) with DynamoDB
Local. ``--clients`` connect; one of them sends ``--messages`` messages, one after the
other once every client got the previous one. Prints, per message, the p50 and max time
from the send to a client's receipt, and deliveries per second (clients / time until the
last one got it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import websockets

from wslocal.engines.dynamodb import free_port

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "tests" / "fixtures" / "node_chat_app"


def start(port: int) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "wslocal.cli", "start", "--template", str(APP / "template.yaml"),
         "--port", str(port), "--no-watch"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    for line in process.stdout:
        if "Press Ctrl-C" in line:
            break
    else:
        raise SystemExit("the stage did not start")
    stdout = process.stdout
    threading.Thread(target=lambda: [None for _ in stdout], daemon=True).start()
    return process


async def receipt(ws: websockets.ClientConnection, text: str, sent: float) -> float:
    """Milliseconds from ``sent`` until ``ws`` got ``text``."""
    while await asyncio.wait_for(ws.recv(), 120) != text:
        pass
    return (time.perf_counter() - sent) * 1000


async def run(port: int, clients: int, messages: int) -> None:
    url = f"ws://127.0.0.1:{port}/Prod"
    began = time.perf_counter()
    opening = (websockets.connect(url, open_timeout=120) for _ in range(clients))
    sockets = await asyncio.gather(*opening)
    print(f"{clients} clients connected in {time.perf_counter() - began:.1f} s")
    try:
        for number in range(messages):
            text = f"message {number}"
            sent = time.perf_counter()
            await sockets[0].send(json.dumps({"action": "sendmessage", "data": text}))
            times = await asyncio.gather(*(receipt(ws, text, sent) for ws in sockets))
            last = max(times)
            print(f"message {number}: p50 {statistics.median(times):.0f} ms, last {last:.0f} ms, "
                  f"{clients / (last / 1000):.0f} deliveries/s")  # fmt: skip
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--messages", type=int, default=3)
    args = parser.parse_args()
    port = free_port()
    process = start(port)
    try:
        asyncio.run(run(port, args.clients, args.messages))
    finally:
        process.terminate()
        process.wait(60)


if __name__ == "__main__":
    main()
