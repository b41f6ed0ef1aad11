"""Issue 21's numbers for Node.js functions: a Node echo route against the Python echo
route through the stage, in the same run; a Node worker's cold start; its memory.

    .venv/bin/python bench/node_echo.py [--messages 1000] [--workers 4]

1. Through the stage: ``wslocal start`` (a process, as users run it) on a WebSocket API
   with two two-way routes, ``py`` (python3.11) and ``node`` (nodejs20.x), each returning
   the message it got. One client sends ``--messages`` messages to each, each waiting for
   its answer, in alternating blocks of 100 so both routes see the same machine. Prints
   p50/p95 per message for each and the ratio (target: Node's p50 within 1.5x Python's).
2. Cold start and memory: a pool of the Node function in this process; its first worker
   (init included), then ``--workers`` more one after another; each worker's RSS and PSS
   (from /proc), beside the Python function's (its later workers forked).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from fanout import memory_mb
from http_api import percentile, start
from websockets.sync.client import connect

from wslocal.cache import cache_dir
from wslocal.engines.dynamodb import free_port
from wslocal.runtime.pools import prepare_runtimes, worker_pool
from wslocal.runtime.settings import RuntimeSettings
from wslocal.template.reader import build_stage_model, read_template

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Echo:
    Type: AWS::ApiGatewayV2::Api
    Properties: {Name: echo, ProtocolType: WEBSOCKET, RouteSelectionExpression: $request.body.lang}
%(routes)s
  PyEcho:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: py/, Handler: app.handler, Runtime: python3.11}
  NodeEcho:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: node/, Handler: app.handler, Runtime: nodejs20.x}
"""
ROUTE = """\
  %(key)sRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties: {ApiId: !Ref Echo, RouteKey: %(key)s, RouteResponseSelectionExpression: $default,
                 Target: !Sub "integrations/${%(key)sIntegration}"}
  %(key)sResponse:
    Type: AWS::ApiGatewayV2::RouteResponse
    Properties: {ApiId: !Ref Echo, RouteId: !Ref %(key)sRoute, RouteResponseKey: $default}
  %(key)sIntegration:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Echo
      IntegrationType: AWS_PROXY
      IntegrationUri: !Sub "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/\
functions/${%(function)s.Arn}/invocations"
"""
PY_HANDLER = """\
def handler(event, context):
    return {"statusCode": 200, "body": event["body"]}
"""
NODE_HANDLER = """\
export const handler = async (event) => ({ statusCode: 200, body: event.body });
"""


def write_app(folder: Path) -> Path:
    routes = "".join(
        ROUTE % {"key": key, "function": function}
        for key, function in (("py", "PyEcho"), ("node", "NodeEcho"))
    )
    (folder / "template.yaml").write_text(TEMPLATE % {"routes": routes})
    (folder / "py").mkdir()
    (folder / "py" / "app.py").write_text(PY_HANDLER)
    (folder / "node").mkdir()
    (folder / "node" / "app.mjs").write_text(NODE_HANDLER)
    return folder / "template.yaml"


def through_the_stage(template: Path, messages: int) -> None:
    port = free_port()
    args = ["--template", str(template), "--port", str(port), "--dynamodb", "moto",
            "--skip-build"]  # fmt: skip
    process, _, _ = start(args, template.parent)
    latencies: dict[str, list[float]] = {"py": [], "node": []}
    try:
        with connect(f"ws://127.0.0.1:{port}") as ws:
            for lang in ("py", "node") * 5:  # warm up both
                ws.send(json.dumps({"lang": lang}))
                ws.recv(timeout=30)
            for block in range(2 * messages // 100):
                lang = ("py", "node")[block % 2]
                payload = json.dumps({"lang": lang, "text": "x" * 64})
                for _ in range(100):
                    began = time.perf_counter()
                    ws.send(payload)
                    ws.recv(timeout=30)
                    latencies[lang].append((time.perf_counter() - began) * 1000)
    finally:
        process.terminate()
        process.wait(30)
    p50 = {lang: statistics.median(values) for lang, values in latencies.items()}
    for lang, values in latencies.items():
        print(f"{lang:>4} echo: p50 {p50[lang]:.2f} ms, p95 {percentile(values, 95):.2f} ms "
              f"({len(values)} messages)")  # fmt: skip
    print(f"Node p50 / Python p50: {p50['node'] / p50['py']:.2f}x (target <= 1.5x)")


async def cold_starts(template: Path, function: str, workers: int) -> None:
    model = build_stage_model(read_template(template), template.parent)
    runtimes = prepare_runtimes(model, cache_dir(), build=False)  # as `--skip-build` runs
    with open(os.devnull, "w") as logs:
        settings = RuntimeSettings(
            region=model.region, account_id=model.account_id, endpoints={},
            runtimes=runtimes, max_workers=workers + 1, log_stream=logs,
        )  # fmt: skip
        pool = worker_pool(model.functions[function], settings, None)
        try:
            await pool.prewarm()  # the build and SDK checks, cached after this
            await pool.reload()
            began = time.perf_counter()
            await pool.prewarm()
            first = (time.perf_counter() - began) * 1000
            each = []
            for _ in range(workers):
                began = time.perf_counter()
                await pool.prewarm()
                each.append((time.perf_counter() - began) * 1000)
            pids = pool.idle_pids()
            rss = [memory_mb(pid) for pid in pids]
            pss = [memory_mb(pid, "Pss:") for pid in pids]
        finally:
            await pool.close()
    print(f"{function}: first worker {first:.0f} ms, each of {workers} more "
          f"{statistics.median(each):.0f} ms (median; {[round(e) for e in each]}); per worker RSS "
          f"{statistics.median(rss):.1f} MB, PSS {statistics.median(pss):.1f} MB")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        template = write_app(Path(folder))
        through_the_stage(template, args.messages)
        for function in ("NodeEcho", "PyEcho"):
            asyncio.run(cold_starts(template, function, args.workers))


if __name__ == "__main__":
    main()
