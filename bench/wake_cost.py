"""What one wake-up costs a reader on this machine: an asyncio loop against a blocking recv.

    .venv/bin/python bench/wake_cost.py [--wakes 3000] [--gaps 0.0003 0.001 0.003]

In the fan-out's burst the stage's frames reach each receiver one at a time, a few hundred
microseconds apart, so the bench's clients pay for a wake-up per delivery far more than for
parsing a frame (issue 24, "The bench's own clients"). A forked writer sends one byte every
``gap`` seconds over a socket pair; the reader is an asyncio protocol on the default event
loop, then a plain blocking ``recv`` loop; printed: the reader's CPU (``time.process_time``)
per byte, each read being one wake-up.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import time
from collections.abc import Callable


def write_every(gap: float, wakes: int) -> tuple[socket.socket, int]:
    """The reading end of a socket pair, and the pid of a fork that writes a byte to it
    every ``gap`` seconds, ``wakes`` times."""
    reader, writer = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        reader.close()
        for _ in range(wakes):
            writer.send(b"x")
            sent = time.perf_counter()
            while time.perf_counter() - sent < gap:
                time.sleep(gap / 4)
        os._exit(0)
    writer.close()
    return reader, pid


class Counting(asyncio.Protocol):
    def __init__(self, wakes: int, done: asyncio.Future[None]) -> None:
        self.left, self.done = wakes, done

    def data_received(self, data: bytes) -> None:
        self.left -= len(data)
        if not self.left:
            self.done.set_result(None)


async def asyncio_reader(reader: socket.socket, wakes: int) -> float:
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    started = time.process_time()
    await loop.connect_accepted_socket(lambda: Counting(wakes, done), reader)
    await done
    return time.process_time() - started


def blocking_reader(reader: socket.socket, wakes: int) -> float:
    started, received = time.process_time(), 0
    while received < wakes:
        received += len(reader.recv(65536))
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wakes", type=int, default=3000)
    parser.add_argument("--gaps", type=float, nargs="+", default=[0.0003, 0.001, 0.003])
    args = parser.parse_args()
    readers: dict[str, Callable[[socket.socket], float]] = {
        "asyncio loop": lambda reader: asyncio.run(asyncio_reader(reader, args.wakes)),
        "blocking recv": lambda reader: blocking_reader(reader, args.wakes),
    }
    for gap in args.gaps:
        costs = []
        for name, read in readers.items():
            reader, pid = write_every(gap, args.wakes)
            costs.append(f"{name} {read(reader) / args.wakes * 1e6:.1f}")
            os.waitpid(pid, 0)
            reader.close()
        print(f"a byte every {gap * 1e3:g} ms: µs of CPU per wake-up: {', '.join(costs)}")
    print(f"load average: {' '.join(f'{load:.2f}' for load in os.getloadavg())}")


if __name__ == "__main__":
    main()
