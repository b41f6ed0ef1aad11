"""Issue 16's numbers: a trivial HTTP API route through the local stage, and the stage's
start-up on the chat.

    .venv/bin/python bench/http_api.py [--clients 8] [--requests 4000] [--startups 3]
    .venv/bin/python bench/http_api.py --requests 0 --startups 3     # start-up alone
    .venv/bin/python bench/http_api.py --requests 0 --startups 3 --stage-options '--dynamodb moto'

1. Through the stage: ``wslocal start`` (a process, as users run it) on a template with
   one HTTP API route whose handler returns a constant; ``--clients`` keep-alive HTTP/1.1
   connections send ``--requests`` GETs in all, each waiting for its answer before the
   next (as 8 users of a page would). Prints p50/p95/p99 latency and requests per second.
   The floor, in the same run: the same handler called in this process with the event
   the stage built, as many times (what the handler itself costs).
2. Start-up: ``wslocal start`` on the chat's template with warm caches (builds and
   DynamoDB Local's jar already there), from the command to the first WebSocket handshake
   answered (with its $connect run), and to the banner; ``--startups`` times, each with
   the CPU the stage's processes had used by then, by kind (the stage, DynamoDB Local's
   JVM, moto, each function's workers), whether the JVM mapped its class-data archive
   (a checkout without one yet starts slower), and ``bench/vm_speed.py``'s fixed work
   timed just before the start (this VM's cores ran it 1.5x slower in spells, docs/
   benchmarks.md, "The eighth pass": read a slow start beside it).
Targets (issue 16): p50 <= 5 ms and >= 500 requests/s with 8 clients; start-up <= 5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

from fanout import cpu_by_kind
from profiles import cpu_seconds, process_tree
from vm_speed import fixed_work_ms

from wslocal.engines.dynamodb import free_port

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Ping:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.11
      Events:
        Get: {Type: HttpApi, Properties: {Path: /ping, Method: get}}
"""
HANDLER = """\
def handler(event, context):
    return {"statusCode": 200, "body": "pong"}
"""


def start(args: list[str], cwd: Path) -> tuple[subprocess.Popen[str], list[str], float]:
    began = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "wslocal.cli", "start", *args],
        cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    banner = []
    for line in process.stdout:
        banner.append(line)
        if "Press Ctrl-C" in line:
            break
    else:
        raise SystemExit("the stage did not start:\n" + "".join(banner))
    stdout = process.stdout
    threading.Thread(target=lambda: [None for _ in stdout], daemon=True).start()
    return process, banner, time.perf_counter() - began


async def client(port: int, count: int, latencies: list[float]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = f"GET /ping HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    for _ in range(count):
        began = time.perf_counter()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1]) for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        )  # fmt: skip
        await reader.readexactly(length)
        latencies.append(time.perf_counter() - began)
    writer.close()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def through_the_stage(clients: int, requests: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        app = Path(folder)
        (app / "src").mkdir()
        (app / "template.yaml").write_text(TEMPLATE)
        (app / "src" / "app.py").write_text(HANDLER)
        port = free_port()
        process, banner, _ = start(
            ["--port", str(port), "--dynamodb-endpoint", "http://127.0.0.1:9", "--no-watch"],
            app,
        )
        try:
            url = next(line.split()[-1] for line in banner if "HTTP API" in line)
            api_port = int(url.rsplit(":", 1)[1])
            asyncio.run(run_clients(api_port, clients, clients * 10))  # warm every worker
            latencies: list[float] = []
            cpu_before = cpu_seconds(process.pid)
            began = time.perf_counter()
            asyncio.run(run_clients(api_port, clients, requests, latencies))
            elapsed = time.perf_counter() - began
            stage_cpu = cpu_seconds(process.pid) - cpu_before
        finally:
            process.terminate()
            process.wait(30)
        floor = in_process_floor(app, requests)
    print(f"HTTP API GET /ping, {clients} clients, {requests} requests (keep-alive):")
    print(f"  through the stage: p50 {percentile(latencies, 0.5) * 1000:.2f} ms, "
          f"p95 {percentile(latencies, 0.95) * 1000:.2f} ms, "
          f"p99 {percentile(latencies, 0.99) * 1000:.2f} ms, "
          f"{requests / elapsed:,.0f} requests/s; the stage's process used "
          f"{stage_cpu / requests * 1000:.3f} ms of CPU per request "
          f"(targets: p50 <= 5 ms, >= 500 requests/s)")  # fmt: skip
    print(f"  floor, the handler called in-process with the same event: p50 "
          f"{floor * 1_000_000:.1f} us per call")  # fmt: skip


async def run_clients(port: int, clients: int, requests: int, latencies=None) -> None:
    sink: list[float] = [] if latencies is None else latencies
    await asyncio.gather(*(client(port, requests // clients, sink) for _ in range(clients)))


def in_process_floor(app: Path, requests: int) -> float:
    sys.path.insert(0, str(app / "src"))
    import app as module  # the benchmark's own handler, from the temporary folder

    from wslocal.apigateway.proxy.events import Invocation, ProxyRequest, http_event
    from wslocal.apigateway.proxy.routes import match_route
    from wslocal.template import build_stage_model, read_template

    model = build_stage_model(read_template(app / "template.yaml"), app)
    api = model.proxy_apis[0]
    request = ProxyRequest("GET", "/ping", "", [], [("Host", "127.0.0.1")], b"", "127.0.0.1",
                           "127.0.0.1")  # fmt: skip
    match = match_route(api, "GET", "/ping")
    assert match is not None
    event = json.loads(json.dumps(http_event(api, match, request, Invocation("id", 0, "1"))))
    timings = []
    for _ in range(requests):
        began = time.perf_counter()
        module.handler(event, None)
        timings.append(time.perf_counter() - began)
    return statistics.median(timings)


def startup(times: int, options: list[str]) -> None:
    from websockets.sync.client import connect

    print("wslocal start on the chat (warm caches), to the first handshake answered:")
    for _ in range(times):
        port = free_port()
        fixed_work_ms()  # warm
        speed = statistics.median(fixed_work_ms() for _ in range(3))
        began = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "wslocal.cli", "start", "--port", str(port), "--no-watch",
             *options],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            while True:
                try:
                    with connect(f"ws://127.0.0.1:{port}/dev?room=bench&name=bench",
                                 open_timeout=30):  # fmt: skip
                        break
                except OSError:
                    time.sleep(0.02)
            handshake = time.perf_counter() - began
            used = cpu_by_kind(process.pid)
            archive = any(maps_class_archive(pid) for pid in process_tree(process.pid))
        finally:
            process.terminate()
            process.wait(60)
        by_kind = ", ".join(f"{kind} {seconds:.2f}" for kind, seconds in sorted(used.items()))
        load = " ".join(f"{value:.1f}" for value in os.getloadavg())
        print(f"  first handshake after {handshake:.2f} s (target <= 2 s); CPU until then "
              f"{sum(used.values()):.2f} s ({by_kind}); class-data archive "
              f"{'mapped' if archive else 'not mapped'}; vm_speed {speed:.1f} ms just before; "
              f"load average {load}")  # fmt: skip


def maps_class_archive(pid: int) -> bool:
    """Whether ``pid`` is a JVM that mapped the class-data archive it was given (a JVM
    that turns the archive down still has it on its command line)."""
    try:
        arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        given = [a.partition(b"=")[2] for a in arguments if a.startswith(b"-XX:SharedArchiveFile=")]
        if not given:
            return False
        archive = os.path.realpath(os.path.join(f"/proc/{pid}/cwd", os.fsdecode(given[-1])))
        return archive.encode() in Path(f"/proc/{pid}/maps").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=textwrap.dedent(__doc__ or ""))
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--startups", type=int, default=3)
    parser.add_argument(
        "--stage-options",
        default="",
        metavar="'OPTION ...'",
        help="with --startups: given to wslocal start as they are ('--dynamodb moto')",
    )
    args = parser.parse_args()
    if args.requests:
        through_the_stage(args.clients, args.requests)
    if args.startups:
        startup(args.startups, args.stage_options.split())


if __name__ == "__main__":
    main()
