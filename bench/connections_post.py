"""Stage CPU per ``@connections`` POST (issue 24): the stage's own path, a signed POST in
and one WebSocket frame out, with no handler in the way.

    .venv/bin/python bench/connections_post.py [--clients 100] [--lanes 8] [--posts 10000]
                                               [--rounds 5] [--profile OUT.svg]

``wslocal start`` serves tests/fixtures/echo_app (one WebSocket API); ``--clients``
WebSocket clients connect and read everything they are sent; each asks the echo route for
its own event to learn its connection id. The requests are then built once, before anything
is measured, byte for byte as the layer's ``KeepAliveManagementApi`` sends them (botocore's
``SigV4Auth`` headers, written by ``http.client``), and posted round-robin over the clients
by ``--lanes`` kept-alive connections, each waiting for its answer before the next post as
the layer does, ``--rounds`` times. Printed: the stage process's CPU time (user + system,
from /proc, its workers not counted; and each part) per post in each round, their median and
best, and posts/s. CPU time, not wall time: the machine is shared, and wall time is what the
others leave us.

``--profile OUT`` records the stage with py-spy during the measured rounds (``pip install
py-spy``; it is not a test dependency): a flame graph, or with ``--profile-format raw``
collapsed stacks, which the bench then sums into "where each µs of a post goes" (the
median CPU per post shared among the samples that are not idle, by the first rule of
``PLACES`` a sample's stack matches).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

import websockets
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from profiles import Place, cpu_times, fold, py_spy_stacks, shares
from vm_speed import fixed_work_ms

from wslocal.engines.dynamodb import free_port

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "tests" / "fixtures" / "echo_app" / "template.yaml"
STAGE = "test"
DATA = (
    b'{"type":"newMessage","id":"01JDQ2V6M1W9Y7M1C2Z3X4Y5Z6","room":"bench","sender":"alice",'
    b'"payload":"hello, room","sentAt":"2024-11-24T12:10:24.000Z"}'
)


SEND_FRAME = "_SelectorSocketTransport.write (asyncio/selector_events.py:1057)"
PLACES = [
    Place("kernel: send() of the WebSocket frame",
          ("WebSocketSession.send", "WebSocketSession._flush"), leaf=(SEND_FRAME,)),
    Place("kernel: send() of the HTTP answer", leaf=(SEND_FRAME,)),
    Place("frame building (session.send)", ("WebSocketSession.send",)),
    Place("request head parsing (parse_plain_head; parse_request_head, HttpRequest)",
          ("parse_plain_head", "parse_request_head")),
    Place("streams: per-request timeouts, reads, drain",
          ("Timeout.", "timeout (asyncio/timeouts", "StreamReader.", "StreamWriter.drain",
           "FrontDoor._body_limit", "FrontDoor._too_large")),
    Place("door choice and header lookups",
          ("FrontDoor.serves_inline", "choose_door",
           "WebSocketApi.serves_path", "HttpRequest.", "cached_property")),
    Place("@connections rules (id, registry, answer)",
          ("handle_management_request", "connection_id_from_path")),
    Place("answer bytes (response_bytes)", ("response_bytes",)),
    Place("transport.write bookkeeping", ("StreamWriter.write", "_SelectorSocketTransport.write")),
    Place("socket read (recv) and its callback", ("_read_ready",)),
    Place("time limits", ("HttpConnection._wait_for", "HttpConnection._on_timer")),
    Place("front door (own lines)",
          ("FrontDoor._serve", "FrontDoor._respond", "HttpConnection",
           "FrontDoor.management_answer")),
]  # fmt: skip
"""Where a sample is counted: the first place that holds its stack. The two kernel places
take the samples whose innermost frame is the socket's ``send`` (the line is CPython
3.11.7's)."""
IDLE_FRAMES = ("EpollSelector.select", "WorkerThread.run")
OTHER = "event loop, tasks, other"
OTHER = "event loop, tasks, other"


def where_it_goes(raw: Path, cpu_us: float) -> list[tuple[str, float]]:
    """µs per post by place, from py-spy's collapsed stacks: ``cpu_us`` shared among the
    samples that are not idle (waiting in epoll, or an idle worker thread)."""
    counts = fold(py_spy_stacks(raw.read_text()), PLACES, lambda stack: OTHER, IDLE_FRAMES)
    return shares(counts, cpu_us)


def start_stage(port: int) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "wslocal.cli", "start", "--template", str(TEMPLATE),
         "--port", str(port), "--skip-build", "--max-workers", "1"],
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


class _Capture:
    """A socket for ``http.client`` that keeps what it is sent."""

    def __init__(self) -> None:
        self.sent = bytearray()

    def sendall(self, data: bytes) -> None:
        self.sent += data


def signed_request(port: int, connection_id: str) -> bytes:
    """The bytes ``KeepAliveManagementApi.post_to_connection`` writes for this post."""
    path = f"/{STAGE}/@connections/{quote(connection_id, safe='')}"
    request = AWSRequest(method="POST", url=f"http://127.0.0.1:{port}{path}", data=DATA)
    credentials = Credentials("wslocal", "wslocal", "session-token")
    SigV4Auth(credentials, "execute-api", "us-east-1").add_auth(request)
    connection = http.client.HTTPConnection("127.0.0.1", port)
    capture = _Capture()
    connection.sock = capture  # type: ignore[assignment]
    connection.request("POST", path, body=DATA, headers=dict(request.headers.items()))
    return bytes(capture.sent)


async def connect_clients(
    url: str, count: int
) -> tuple[list[websockets.ClientConnection], list[str]]:
    clients = await asyncio.gather(
        *(websockets.connect(url, max_size=None, max_queue=None, ping_interval=None)
          for _ in range(count))
    )  # fmt: skip
    ids = []
    for client in clients:
        await client.send('{"type":"echo","do":"event"}')
        event = json.loads(await client.recv())
        ids.append(event["requestContext"]["connectionId"])
    return list(clients), ids


async def drain(client: websockets.ClientConnection, counts: list[int]) -> None:
    with contextlib.suppress(websockets.ConnectionClosed):
        async for _ in client:
            counts[0] += 1


async def post_lanes(port: int, requests: list[bytes], lanes: int) -> None:
    """Each lane keeps one connection and posts its share of ``requests`` one at a time."""

    async def lane(share: list[bytes]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for request in share:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                raise SystemExit(f"the stage answered {head!r}")
            length = head.split(b"Content-Length: ", 1)[1].split(b"\r\n", 1)[0]
            if length != b"0":
                await reader.readexactly(int(length))
        writer.close()

    await asyncio.gather(*(lane(requests[index::lanes]) for index in range(lanes)))


async def run(args: argparse.Namespace) -> None:
    port = free_port()
    stage = start_stage(port)
    spy: subprocess.Popen[bytes] | None = None
    rounds: list[tuple[float, float]] = []
    split: list[tuple[float, float]] = []
    try:
        clients, ids = await connect_clients(f"ws://127.0.0.1:{port}", args.clients)
        counts = [0]
        readers = [asyncio.create_task(drain(client, counts)) for client in clients]
        by_id = {cid: signed_request(port, cid) for cid in ids}
        warm = [by_id[ids[index % len(ids)]] for index in range(min(2000, args.posts))]
        posts = [by_id[ids[index % len(ids)]] for index in range(args.posts)]
        await post_lanes(port, warm, args.lanes)
        if args.profile:
            py_spy = shutil.which("py-spy", path=Path(sys.executable).parent) or "py-spy"
            spy = subprocess.Popen(
                [py_spy, "record", "--pid", str(stage.pid), "--output", args.profile,
                 "--format", args.profile_format, "--rate", "500", "--nonblocking"]
            )  # fmt: skip
            await asyncio.sleep(1.5)
        for _ in range(args.rounds):
            (user_before, system_before), started = cpu_times(stage.pid), time.perf_counter()
            await post_lanes(port, posts, args.lanes)
            user, system = cpu_times(stage.pid)
            user, system = user - user_before, system - system_before
            rate = len(posts) / (time.perf_counter() - started)
            rounds.append(((user + system) / len(posts) * 1e6, rate))
            split.append((user / len(posts) * 1e6, system / len(posts) * 1e6))
        deadline = time.monotonic() + 30
        expected = len(warm) + len(posts) * args.rounds
        while counts[0] < expected and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        for client in clients:
            await client.close()
        await asyncio.gather(*readers)
    finally:
        if spy is not None:
            spy.send_signal(2)
            spy.wait(60)
        stage.terminate()
        stage.wait(60)
    delivered = counts[0] - len(warm)
    cpu_us = sorted(cpu for cpu, _ in rounds)
    rates = sorted(rate for _, rate in rounds)
    print(f"@connections POST: {args.rounds} rounds of {args.posts} posts, {args.clients} "
          f"clients, {args.lanes} lanes, {len(posts[0])} bytes a request")  # fmt: skip
    print("stage CPU per post, each round (us): " + " ".join(f"{cpu:.1f}" for cpu, _ in rounds))
    print("  of which user / system (us): " + " ".join(f"{u:.0f}/{s:.0f}" for u, s in split))
    print(f"stage CPU per post: median {statistics.median(cpu_us):.1f} us, best {cpu_us[0]:.1f} us")
    print(f"posts/s: median {statistics.median(rates):,.0f}, best {rates[-1]:,.0f} "
          "(wall; the machine is shared)")  # fmt: skip
    print(f"frames received: {delivered} of {len(posts) * args.rounds}")
    print(f"this machine's speed, bench/vm_speed.py's fixed work: {fixed_work_ms():.1f} ms of CPU")
    if args.profile and args.profile_format == "raw":
        print("\n| where | µs per post |\n| --- | ---: |")
        for place, micros in where_it_goes(Path(args.profile), statistics.median(cpu_us)):
            print(f"| {place} | {micros:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--lanes", type=int, default=8)
    parser.add_argument("--posts", type=int, default=10000, help="posts per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", metavar="OUT", help="record the stage with py-spy")
    parser.add_argument("--profile-format", default="flamegraph", choices=["flamegraph", "raw"])
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
