"""The fan-out worker's CPU per delivery: the layer's ``Broadcaster`` posting one payload to
a room, through its ``KeepAliveManagementApi``.

    .venv/bin/python bench/broadcast_cost.py [--members 499] [--rounds 20] [--workers 32]

A stub ``@connections`` endpoint runs in a process of its own (an asyncio server that
answers every POST ``200`` with an empty body, as the stage does; its CPU is not counted).
This process builds the layer's client and broadcaster as a FanOutFunction does, posts
one 138-byte message to ``--members`` connection ids, 2 warm-up broadcasts and then
``--rounds``, and reports its own CPU time (every thread, ``time.process_time``) per
delivery and the wall time per broadcast (median and best of the rounds), with the load
average. The layer is imported from ``PYTHONPATH`` when it names one (a "before" run
against an export of another commit), else from this checkout.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

STUB = """
import asyncio

ANSWER = b"HTTP/1.1 200 OK\\r\\nContent-Length: 0\\r\\n\\r\\n"

class Connections(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport, self.buffer = transport, bytearray()
    def data_received(self, data):
        self.buffer += data
        answers = 0
        while True:
            end = self.buffer.find(b"\\r\\n\\r\\n")
            if end < 0:
                break
            head = bytes(self.buffer[:end]).lower()
            start = head.find(b"content-length:")
            length = int(head[start + 15:].split(b"\\r\\n", 1)[0]) if start >= 0 else 0
            if len(self.buffer) < end + 4 + length:
                break
            del self.buffer[:end + 4 + length]
            answers += 1
        if answers:
            self.transport.write(ANSWER * answers)

async def main():
    server = await asyncio.get_running_loop().create_server(Connections, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()

asyncio.run(main())
"""

DATA = (
    b'{"type":"newMessage","id":"01JDQ2V6M1W9Y7M1C2Z3X4Y5Z6","room":"bench","sender":"alice",'
    b'"payload":"hello, room","sentAt":"2024-11-24T12:10:24.000Z"}'
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=499)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--workers", type=int, default=32, help="Broadcaster's max_workers")
    args = parser.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")  # the stub checks no signature
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ.setdefault("AWS_SESSION_TOKEN", "bench-session-token")
    sys.path.append(str(ROOT / "layers" / "chatroom"))
    import boto3

    from chatroom.connections import Member
    from chatroom.fanout.broadcast import Broadcaster
    from chatroom.fanout.management_api import KeepAliveManagementApi

    stub = subprocess.Popen([sys.executable, "-c", STUB], stdout=subprocess.PIPE, text=True)
    try:
        assert stub.stdout is not None
        endpoint = f"http://127.0.0.1:{stub.stdout.readline().strip()}/dev"
        client = KeepAliveManagementApi(endpoint, boto3.Session(region_name="us-east-1"))
        broadcaster = Broadcaster(max_workers=args.workers)
        members = [Member(f"L0SM9cOF{i:07d}=", 0) for i in range(args.members)]
        cpu_us, wall_ms = [], []
        for round_ in range(2 + args.rounds):
            cpu, wall = time.process_time(), time.perf_counter()
            result = broadcaster.broadcast(client, DATA, members)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            if result.delivered != args.members:
                raise SystemExit(f"delivered {result.delivered} of {args.members}")
            if round_ >= 2:
                cpu_us.append(cpu / args.members * 1e6)
                wall_ms.append(wall * 1000)
    finally:
        stub.terminate()
        stub.wait()
    print(
        f"Broadcaster, {args.workers} workers, one message to {args.members}, "
        f"{args.rounds} rounds; load average {os.getloadavg()[0]:.1f}"
    )
    print(f"CPU per delivery: median {statistics.median(cpu_us):.1f} µs, best {min(cpu_us):.1f} µs")
    print(
        f"wall per broadcast: median {statistics.median(wall_ms):.1f} ms, "
        f"best {min(wall_ms):.1f} ms"
    )


if __name__ == "__main__":
    main()
