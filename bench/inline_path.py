"""Python CPU of the stage's inline ``@connections`` path per post, with no socket and no
event loop turn (issue 24): what our code costs, apart from asyncio's loop and the kernel.

    .venv/bin/python bench/inline_path.py [--posts 20000] [--repeats 7]

A real ``FrontDoor``, ``ConnectionRegistry`` and the management API's rules; an
``HttpConnection`` is fed the bench's signed request (``connections_post.signed_request``,
byte for byte the layer's) through ``data_received``, for two open connections in turn.
Each connection's outbound builds the frame with ``data_frame`` and writes it, as
``WebSocketSession.send`` does, to a transport that keeps nothing. Printed: the best and
median CPU (``time.process_time``) per post of ``--repeats`` runs. Run it from an export of
another commit with ``PYTHONPATH`` set to it to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

from connections_post import signed_request

from wslocal.apigateway.connections import ConnectionRegistry
from wslocal.apigateway.limits import Limits
from wslocal.server.front_door import FrontDoor
from wslocal.server.http_connection import HttpConnection
from wslocal.server.session import data_frame

IDS = ("L0SM9cOFvHcCIhw=", "AbCdEfGhIjKlMnO=")


class NullTransport(asyncio.Transport):
    def write(self, data: Any) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


class FrameOutbound:
    """``WebSocketSession.send``'s work on an open connection: the frame, written."""

    def __init__(self) -> None:
        self.transport = NullTransport()
        self.limit = Limits().send_buffer_bytes

    def send(self, data: bytes) -> None:
        self.transport.write(data_frame(data))
        if self.transport.get_write_buffer_size() > self.limit:
            raise SystemExit("the null transport buffered")

    def close(self, code: int, reason: str) -> None:
        pass


class Host:
    limits = Limits()
    faults = None
    stage_name = "test"

    def __init__(self) -> None:
        self.registry = ConnectionRegistry(clock=time.time)


async def run(posts: int, repeats: int) -> list[float]:
    host = Host()
    for connection_id in IDS:
        host.registry.register(connection_id, FrameOutbound(), "127.0.0.1")
        host.registry.open(connection_id)
    ready = asyncio.Event()
    ready.set()
    connection = HttpConnection(FrontDoor(host, ready))  # type: ignore[arg-type]
    connection.connection_made(NullTransport())
    requests = [signed_request(3001, connection_id) for connection_id in IDS]
    per_post = []
    for _ in range(repeats):
        started = time.process_time()
        for index in range(posts):
            connection.data_received(requests[index & 1])
        per_post.append((time.process_time() - started) / posts * 1e6)
    connection.abort()
    return per_post


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    per_post = asyncio.run(run(args.posts, args.repeats))
    print(
        f"inline @connections path, Python CPU per post: best {min(per_post):.2f} us, "
        f"median {statistics.median(per_post):.2f} us"
    )


if __name__ == "__main__":
    main()
