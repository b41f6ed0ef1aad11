"""The fan-out worker's CPU per delivery: the layer's ``Broadcaster`` posting one payload to
a room, through its ``KeepAliveManagementApi``.

    .venv/bin/python bench/broadcast_cost.py [--members 499] [--rounds 20] [--workers 32]
    .venv/bin/python bench/broadcast_cost.py --alternatives   # and two other ways to post

A stub ``@connections`` endpoint runs in a process of its own (an asyncio server that
answers every POST ``200`` with an empty body, as the stage does; its CPU is not counted).
This process builds the layer's client and broadcaster as a FanOutFunction does (the time
left read from a context like the runtime's, ``Invocation``), posts one 138-byte message
to ``--members`` connection ids, 2 warm-up broadcasts and then ``--rounds``, and reports
its own CPU time per delivery (every thread, ``getrusage``: user and system apart, the
median of each) and the wall time per broadcast (median and best of the rounds), with the
load average. The layer is imported from ``PYTHONPATH`` when it
names one (a "before" run against an export of another commit), else from this checkout.

``--alternatives`` measures three other ways in the same run: ``Broadcaster.post`` with
one future per member (issue 8's broadcast), the prototype of the ``Broadcaster``'s first
attempts: one thread driving as many non-blocking sockets with ``selectors`` (no retries,
timeouts or full answer parsing, so the best that idea could do), and that prototype with
HTTP/1.1 pipelining: the same posts in flight on ``PIPELINED`` times fewer connections,
each writing ``PIPELINED`` requests in one send (the stub answers the requests it has
buffered in one write, as the stage does).
"""

from __future__ import annotations

import argparse
import itertools
import os
import resource
import selectors
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PIPELINED = 8
"""Requests a connection writes at once in the pipelined alternative."""

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


def measure(broadcast: Callable[[], int], members: int, rounds: int) -> str:
    """CPU per delivery (user and system apart: ``getrusage``, every thread) and wall time
    per broadcast: median and best of ``rounds``, after two broadcasts to warm up."""
    cpu_us, user_us, system_us, wall_ms = [], [], [], []
    for round_ in range(2 + rounds):
        before, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        delivered = broadcast()
        after, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - wall
        if delivered != members:
            raise SystemExit(f"delivered {delivered} of {members}")
        if round_ >= 2:
            user_us.append((after.ru_utime - before.ru_utime) / members * 1e6)
            system_us.append((after.ru_stime - before.ru_stime) / members * 1e6)
            cpu_us.append(user_us[-1] + system_us[-1])
            wall_ms.append(wall * 1000)
    return (
        f"{statistics.median(cpu_us):>6.1f} ({min(cpu_us):.1f}) µs | "
        f"{statistics.median(user_us):>5.1f} | {statistics.median(system_us):>5.1f} | "
        f"{statistics.median(wall_ms):>6.1f} ({min(wall_ms):.1f}) ms"
    )


class Invocation:
    """The time left as a FanOutFunction reads it: the runtime's context
    (``wslocal.runtime.bootstrap.LambdaContext``) read through ``remaining_time``."""

    def __init__(self, deadline_s: float) -> None:
        self._deadline_ms = int(deadline_s * 1000)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def future_per_member(broadcaster: Any, client: Any, members: list[Any], workers: int) -> Any:
    """Issue 8's broadcast: ``Broadcaster.post`` for each member, one future each."""
    pool = ThreadPoolExecutor(max_workers=workers)

    def broadcast() -> int:
        posted = pool.map(lambda m: broadcaster.post(client, m.connection_id, DATA), members)
        return sum(1 for delivery in posted if delivery.value == "delivered")

    return broadcast


def one_thread_selector(
    client: Any, port: int, members: list[Any], posts: int, depth: int = 1
) -> Any:
    """One thread driving kept-alive connections with ``selectors``, ``posts`` requests in
    flight: the layer's request bytes, first attempts only (no retries, timeouts or TLS);
    what the idea would cost at best. With ``depth`` above 1, ``posts // depth``
    connections each write ``depth`` requests at once and take the next ``depth`` when
    all are answered (HTTP/1.1 pipelining, which the stage answers in one write)."""
    selector = selectors.DefaultSelector()
    for _ in range(max(1, posts // depth)):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ, [bytearray(), 0])

    def broadcast() -> int:
        pending, in_flight, delivered = iter(members), 0, 0

        def write(sock: socket.socket, state: list[Any]) -> int:
            requests = [
                client.request_bytes(member.connection_id, DATA)
                for member in itertools.islice(pending, depth)
            ]
            if requests:
                sock.send(b"".join(requests))
                state[1] = len(requests)
            return len(requests)

        for key in list(selector.get_map().values()):
            in_flight += write(key.fileobj, key.data)  # type: ignore[arg-type]
        while in_flight:
            for key, _ in selector.select():
                buffer, _ = state = key.data
                buffer += key.fileobj.recv(65536)  # type: ignore[union-attr]
                while state[1]:
                    end = buffer.find(b"\r\n\r\n")
                    if end < 0:
                        break
                    delivered += buffer.startswith(b"HTTP/1.1 200")
                    del buffer[: end + 4]
                    state[1] -= 1
                    in_flight -= 1
                if not state[1]:
                    in_flight += write(key.fileobj, state)  # type: ignore[arg-type]
        return delivered

    return broadcast


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=499)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--workers", type=int, default=32, help="Broadcaster's max_workers")
    parser.add_argument(
        "--alternatives",
        action="store_true",
        help="also a future per member, and one thread with selectors (this checkout's layer)",
    )
    args = parser.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")  # the stub checks no signature
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ.setdefault("AWS_SESSION_TOKEN", "bench-session-token")
    sys.path.append(str(ROOT / "layers" / "chatroom"))
    import boto3

    from chatroom.connections import Member
    from chatroom.fanout.broadcast import Broadcaster
    from chatroom.fanout.management_api import KeepAliveManagementApi
    from chatroom.telemetry import remaining_time

    stub = subprocess.Popen([sys.executable, "-c", STUB], stdout=subprocess.PIPE, text=True)
    rows = []
    try:
        assert stub.stdout is not None
        port = int(stub.stdout.readline())
        client = KeepAliveManagementApi(
            f"http://127.0.0.1:{port}/dev", boto3.Session(region_name="us-east-1")
        )
        broadcaster = Broadcaster(max_workers=args.workers)
        members = [Member(f"L0SM9cOF{i:07d}=", 0) for i in range(args.members)]
        remaining = remaining_time(Invocation(time.time() + 3600))
        ways = [
            (
                "Broadcaster.broadcast",
                lambda: broadcaster.broadcast(client, DATA, members, remaining).delivered,
            )
        ]
        if args.alternatives:
            futures = future_per_member(broadcaster, client, members, args.workers)
            selector = one_thread_selector(client, port, members, args.workers)
            pipelined = one_thread_selector(client, port, members, args.workers, PIPELINED)
            ways += [
                ("a future per member", futures),
                ("one thread, selectors", selector),
                (f"the same, {PIPELINED} pipelined", pipelined),
            ]
        rows = [(name, measure(way, args.members, args.rounds)) for name, way in ways]
    finally:
        stub.terminate()
        stub.wait()
    print(
        f"one message to {args.members}, {args.workers} threads or sockets, {args.rounds} rounds; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"{'broadcast':<24} | CPU per delivery, median (best) | user | system | wall per broadcast"
    )
    for name, row in rows:
        print(f"{name:<24} | {row}")


if __name__ == "__main__":
    main()
