"""Python CPU of the stage's inline ``@connections`` path per post, with no socket and no
event loop turn (issue 24): what our code costs, apart from asyncio's loop and the kernel.

    .venv/bin/python bench/inline_path.py [--posts 20000] [--repeats 7]

A real ``FrontDoor``, ``ConnectionRegistry`` and the management API's rules; an
``HttpConnection`` is fed the bench's signed request (``connections_post.signed_request``,
byte for byte the layer's) through ``data_received``, for two open connections in turn.
Each connection's outbound is a real ``WebSocketSession``, open (its protocol is put in
the OPEN state, as the handshake leaves it), whose ``send`` frames and writes the message
to a transport that keeps nothing. Printed: the best and
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
from websockets.protocol import State
from websockets.server import ServerProtocol

from wslocal.apigateway.connections import ConnectionRegistry
from wslocal.apigateway.limits import Limits
from wslocal.server.front_door import FrontDoor
from wslocal.server.http_connection import HttpConnection
from wslocal.server.session import WebSocketSession

IDS = ("L0SM9cOFvHcCIhw=", "AbCdEfGhIjKlMnO=")


class NullTransport(asyncio.Transport):
    def write(self, data: Any) -> None:
        pass

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def get_write_buffer_size(self) -> int:
        return 0

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


class Host:
    limits = Limits()
    faults = None
    stage_name = "test"

    def __init__(self) -> None:
        self.registry = ConnectionRegistry(clock=time.time)
        self.ids = iter(IDS)

    def new_id(self) -> str:
        return next(self.ids)


def open_session(host: Host, loop: asyncio.AbstractEventLoop) -> WebSocketSession:
    """A session as its handshake leaves it: open, registered, its frames to a null
    transport."""
    reader = asyncio.StreamReader(loop=loop)
    writer = asyncio.StreamWriter(NullTransport(), asyncio.Protocol(), reader, loop)
    session = WebSocketSession(host, reader, writer, b"", None, None)  # type: ignore[arg-type]
    session._protocol = ServerProtocol(state=State.OPEN)  # what _handshake leaves
    host.registry.register(session.connection_id, session, "127.0.0.1")
    host.registry.open(session.connection_id)
    return session


async def run(posts: int, repeats: int) -> list[float]:
    host = Host()
    for _ in IDS:
        open_session(host, asyncio.get_running_loop())
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
