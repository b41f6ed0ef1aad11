"""Issue 22's numbers: a WebSocket route whose HTTP integration (the seed's request
template) calls a local web server, beside a Lambda proxy route, in the same run; and what
rendering the template costs per call.

    .venv/bin/python bench/integrations.py [--clients 4] [--messages 2000]

``wslocal start`` (a process, as users run it) serves one WebSocket API with two two-way
routes: ``viaHttp`` (HTTP integration, request template
``{"connectionId": "$context.connectionId", "message": $input.json('$.message')}``, to an
aiohttp server in its own process that answers a constant) and ``viaLambda`` (AWS_PROXY
to a Python handler that answers the same). ``--clients`` connections each send
``--messages`` / clients messages to one route, each waiting for its reply before the
next; then the other route. Prints p50/p95 and messages per second for each, then the
seed's template rendered in this process: parsed per call, and parsed once (what the
stage does, each template kept compiled).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

from websockets.asyncio.client import connect

from wslocal.engines.dynamodb import free_port

SEED_TEMPLATE = '{"connectionId": "$context.connectionId", "message": $input.json(\'$.message\')}'
TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Parameters:
  Backend: {Type: String}
Resources:
  Api:
    Type: AWS::ApiGatewayV2::Api
    Properties:
      Name: bench
      ProtocolType: WEBSOCKET
      RouteSelectionExpression: $request.body.action
  Stage:
    Type: AWS::ApiGatewayV2::Stage
    Properties: {ApiId: !Ref Api, StageName: bench, AutoDeploy: true}
  HttpRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Api
      RouteKey: viaHttp
      Target: !Sub "integrations/${HttpIntegration}"
  HttpIntegration:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Api
      IntegrationType: HTTP
      IntegrationMethod: POST
      IntegrationUri: !Sub ${Backend}/send-message
      TemplateSelectionExpression: \\$default
      RequestTemplates:
        $default: '@SEED@'
  HttpResponse:
    Type: AWS::ApiGatewayV2::IntegrationResponse
    Properties:
      ApiId: !Ref Api
      IntegrationId: !Ref HttpIntegration
      IntegrationResponseKey: $default
  HttpBack:
    Type: AWS::ApiGatewayV2::RouteResponse
    Properties: {ApiId: !Ref Api, RouteId: !Ref HttpRoute, RouteResponseKey: $default}
  LambdaRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Api
      RouteKey: viaLambda
      Target: !Sub "integrations/${LambdaIntegration}"
  LambdaIntegration:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Api
      IntegrationType: AWS_PROXY
      IntegrationUri: !Sub >-
        arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Handler.Arn}/invocations
  LambdaBack:
    Type: AWS::ApiGatewayV2::RouteResponse
    Properties: {ApiId: !Ref Api, RouteId: !Ref LambdaRoute, RouteResponseKey: $default}
  Handler:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: src/, Handler: app.handler, Runtime: python3.11}
""".replace("@SEED@", SEED_TEMPLATE.replace("'", "''"))
HANDLER = """\
def handler(event, context):
    return {"statusCode": 200, "body": '{"delivered": 1}'}
"""
BACKEND = """\
import sys
from aiohttp import web

async def send(request):
    await request.read()
    return web.Response(text='{"delivered": 1}', content_type="application/json")

app = web.Application()
app.router.add_post("/send-message", send)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


async def client(url: str, action: str, count: int, latencies: list[float]) -> None:
    message = json.dumps({"action": action, "message": "hello"})
    async with connect(url) as ws:
        for _ in range(count):
            began = time.perf_counter()
            await ws.send(message)
            await ws.recv()
            latencies.append(time.perf_counter() - began)


async def route(url: str, action: str, clients: int, messages: int) -> tuple[list[float], float]:
    await asyncio.gather(*(client(url, action, 20, []) for _ in range(clients)))  # warm-up
    latencies: list[float] = []
    began = time.perf_counter()
    await asyncio.gather(*(client(url, action, messages // clients, latencies)
                           for _ in range(clients)))  # fmt: skip
    return latencies, time.perf_counter() - began


def through_the_stage(clients: int, messages: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        app = Path(folder)
        (app / "src").mkdir()
        (app / "template.yaml").write_text(TEMPLATE)
        (app / "src" / "app.py").write_text(HANDLER)
        (app / "backend.py").write_text(BACKEND)
        backend_port, port = free_port(), free_port()
        backend = subprocess.Popen([sys.executable, str(app / "backend.py"), str(backend_port)])
        stage = subprocess.Popen(
            [sys.executable, "-m", "wslocal.cli", "start", "--port", str(port), "--no-watch",
             "--dynamodb-endpoint", "http://127.0.0.1:9",
             "--parameter-overrides", f"Backend=http://127.0.0.1:{backend_port}"],
            cwd=app, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        try:
            assert stage.stdout is not None
            for line in stage.stdout:
                if "Press Ctrl-C" in line:
                    break
            else:
                raise SystemExit("the stage did not start")
            output = stage.stdout
            threading.Thread(target=lambda: [None for _ in output], daemon=True).start()
            url = f"ws://127.0.0.1:{port}/bench"
            results = {
                action: asyncio.run(route(url, action, clients, messages))
                for action in ("viaHttp", "viaLambda")
            }
        finally:
            for process in (stage, backend):
                process.terminate()
                process.wait(30)
    print(f"WebSocket two-way routes, {clients} clients, {messages} messages each route:")
    for action, (latencies, elapsed) in results.items():
        kind = "HTTP integration to aiohttp" if action == "viaHttp" else "Lambda proxy"
        print(f"  {action:<10} ({kind}): p50 {percentile(latencies, 0.5) * 1000:.2f} ms, "
              f"p95 {percentile(latencies, 0.95) * 1000:.2f} ms, "
              f"{len(latencies) / elapsed:,.0f} messages/s")  # fmt: skip


def rendering(calls: int) -> None:
    from wslocal.apigateway.mapping import MappingInput, MappingTemplate, render, render_compiled

    given = MappingInput(
        '{"action": "sendMessage", "message": "hello"}',
        {"path": {}, "querystring": {}, "header": {}},
        {"connectionId": "abc=", "routeKey": "sendMessage"},
    )
    compiled = MappingTemplate(SEED_TEMPLATE)
    for name, call in (
        ("parsed per call", lambda: render(SEED_TEMPLATE, given)),
        ("parsed once (the stage)", lambda: render_compiled(compiled, given)),
    ):
        timings = []
        for _ in range(calls):
            began = time.perf_counter()
            call()
            timings.append(time.perf_counter() - began)
        print(f"  the seed's template, {name}: p50 {statistics.median(timings) * 1e6:.0f} us")


def main() -> None:
    parser = argparse.ArgumentParser(description=textwrap.dedent(__doc__ or ""))
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--messages", type=int, default=2000)
    args = parser.parse_args()
    through_the_stage(args.clients, args.messages)
    print("Rendering, in this process:")
    rendering(2000)


if __name__ == "__main__":
    main()
