"""The wslocal command as people run it: invoke with the sample events, start and stop."""

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.support.paths import EVENTS, FIXTURES, ROOT
from tests.support.processes import (
    children_of,
    command_line,
    descendants_of,
    kill_all,
    still_running,
)
from wslocal.engines.dynamodb import free_port

pytestmark = pytest.mark.integration

WSLOCAL = [sys.executable, "-m", "wslocal.cli"]


def run(*args, timeout=180):
    return subprocess.run(
        [*WSLOCAL, *args], capture_output=True, text=True, cwd=ROOT, timeout=timeout
    )


@pytest.mark.parametrize(
    ("function", "event"),
    [
        ("ConnectFunction", "connect"),
        ("SendMessageFunction", "send_message"),
        ("HistoryFunction", "history"),
        ("DefaultFunction", "default"),
        ("DisconnectFunction", "disconnect"),
    ],
)
def test_invoke_runs_each_sample_event(dynamodb_local, function, event):
    result = run(
        "invoke", function, "-e", str(EVENTS / f"{event}.json"),
        "--dynamodb-endpoint", dynamodb_local.endpoint,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    response = json.loads(result.stdout)
    assert response["statusCode"] in (200, 400)
    assert "REPORT RequestId" in result.stderr


def test_invoke_runs_a_stream_function_with_the_sample_stream_event(dynamodb_local):
    result = run(
        "invoke", "PresenceFunction", "-e", str(EVENTS / "presence_stream.json"),
        "--dynamodb-endpoint", dynamodb_local.endpoint,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"batchItemFailures": []}


def test_invoke_starts_its_own_dynamodb_when_given_none():
    result = run("invoke", "ConnectFunction", "-e", str(EVENTS / "connect.json"))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"statusCode": 200}


def test_invoke_exits_1_with_the_error_when_the_handler_raises(tmp_path):
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"body": '{"type":"echo","do":"raise"}', "requestContext": {}}))
    template = FIXTURES / "echo_app" / "template.yaml"
    result = run(
        "invoke", "EchoFn", "-e", str(event), "--template", str(template), "--dynamodb", "moto"
    )  # fmt: skip
    assert result.returncode == 1
    assert '"errorType": "ValueError"' in result.stderr
    assert '"errorMessage": "asked to fail"' in result.stderr


def test_a_template_it_cannot_read_is_a_clear_error(tmp_path):
    result = run("start", "--template", str(tmp_path / "missing.yaml"))
    assert result.returncode == 2
    assert "cannot read" in result.stderr


def assert_ended(processes: list[int]) -> None:
    time.sleep(0.5)
    for process in processes:
        with pytest.raises(ProcessLookupError):
            os.kill(process, 0)


def test_start_serves_the_chat_and_page_then_stops_cleanly_on_sigterm():
    port = free_port()
    process = subprocess.Popen(
        [*WSLOCAL, "start", "--port", str(port), "--static", "frontend/"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        text = "".join(read_banner(process))
        assert f"ws://127.0.0.1:{port}" in text
        assert f"http://127.0.0.1:{port}/dev/@connections" in text  # the template's StageName
        assert "DynamoDB Local" in text
        assert "Event loop    uvloop" in text  # --loop auto, uvloop installed
        assert "ConnectionsTable stream -> PresenceFunction (batch 100, window 1 s" in text
        assert "TTL           expired items of ConnectionsTable (ttl)" in text
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/") as page:
            assert "script-src 'self'" in page.headers["Content-Security-Policy"]
        started = descendants_of(process.pid)  # the workers after the first are forks
        assert len(started) >= 7  # six prewarmed workers and DynamoDB Local
        with connect(f"ws://127.0.0.1:{port}?room=cli&name=alice") as ws:
            stopped_after_disconnects(process, ws, lambda: process.send_signal(signal.SIGTERM))
        assert still_running(started, 5) == []  # an orphan's zombie has ended too
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@contextlib.contextmanager
def wslocal_started(*args: str) -> Iterator[tuple[subprocess.Popen, int]]:
    """The process and port of a ``wslocal start`` the block may stop itself; whatever is
    left running at the end is killed."""
    process, port = start_on_a_free_port(*args)
    try:
        yield process, port
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def start_on_a_free_port(*args: str) -> tuple[subprocess.Popen, int]:
    """``wslocal start ARGS --port P`` as a terminal runs it (the leader of its own process
    group), once its banner is out. A free port can be taken between our look and the
    stage's bind: then another is tried."""
    for _ in range(3):
        port = free_port()
        process = subprocess.Popen(
            [*WSLOCAL, "start", *args, "--port", str(port)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,
        )  # fmt: skip
        try:
            read_banner(process)
        except AssertionError as exc:
            process.wait(timeout=30)
            if "address already in use" not in str(exc):
                raise
            continue
        return process, port
    raise AssertionError("no free port could be bound three times in a row")


def stopped_after_disconnects(process, ws, stop) -> str:
    """``stop()`` the stage while ``ws`` is open: the client is closed with 1001, and the
    stage exits 0 after ``$disconnect`` ran. Returns what the stage printed."""
    stop()
    with pytest.raises(ConnectionClosed) as caught:
        ws.recv(timeout=20)
    assert caught.value.rcvd.code == 1001
    assert process.wait(timeout=30) == 0
    output = process.stdout.read()
    assert "Route: $disconnect" in output
    return output


def read_banner(process):
    banner = []
    while not any("Press Ctrl-C" in line for line in banner):
        line = process.stdout.readline()
        assert line, "".join(banner)
        banner.append(line)
    return banner


def test_ctrl_c_to_the_process_group_stops_cleanly_after_disconnects():
    with wslocal_started() as (process, port):
        children = children_of(process.pid)
        with connect(f"ws://127.0.0.1:{port}?room=ctrlc&name=alice") as ws:
            # WHEN the terminal sends SIGINT to the whole foreground group
            # THEN the client got 1001, $disconnect ran, nothing printed a traceback
            output = stopped_after_disconnects(
                process, ws, lambda: os.killpg(process.pid, signal.SIGINT)
            )
        assert "[DisconnectFunction] END" in output
        assert "Traceback" not in output and "KeyboardInterrupt" not in output
        assert_ended(children)


def test_start_on_asyncios_loop_delivers_a_message_to_the_room():
    # --loop asyncio, the fallback where uvloop is not installed; the other tests run on uvloop
    with wslocal_started("--loop", "asyncio") as (process, port):
        url = f"ws://127.0.0.1:{port}?room=asyncio"
        with connect(f"{url}&name=alice") as alice, connect(f"{url}&name=bob") as bob:
            alice.send(json.dumps({"action": "sendMessage", "message": "on asyncio's loop"}))
            deadline = time.monotonic() + 20
            while "on asyncio's loop" not in bob.recv(
                timeout=max(0.1, deadline - time.monotonic())
            ):
                pass
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0


def test_a_second_ctrl_c_stops_at_once():
    with wslocal_started() as (process, _):
        children = children_of(process.pid)
        os.killpg(process.pid, signal.SIGINT)
        time.sleep(0.2)
        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(timeout=20) == 0
        assert "Stopping now" in process.stdout.read()
        assert_ended(children)


def test_a_generated_event_piped_to_invoke_runs_the_function(dynamodb_local):
    # sam local generate-event ... | sam local invoke -e -
    generated = run(
        "generate-event", "websocket", "message", "--body", '{"action":"nope"}',
        "--route-key", "$default",
    )  # fmt: skip
    assert generated.returncode == 0, generated.stderr
    result = subprocess.run(
        [*WSLOCAL, "invoke", "DefaultFunction", "-e", "-",
         "--dynamodb-endpoint", dynamodb_local.endpoint],
        input=generated.stdout, capture_output=True, text=True, cwd=ROOT, timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(json.loads(result.stdout)["body"])["code"] == "unknown_action"


def test_an_event_that_is_not_json_fails_before_anything_starts():
    result = subprocess.run(
        [*WSLOCAL, "invoke", "DefaultFunction", "-e", "-"],
        input="not json", capture_output=True, text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert "the event is not JSON" in result.stderr


def test_the_wheel_installs_a_working_wslocal_in_a_fresh_environment(tmp_path):
    # make dist's wheel, installed as pipx or uv tool install would: its own venv
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir",
         str(tmp_path / "dist"), str(ROOT)],
        check=True, timeout=300,
    )  # fmt: skip
    [wheel] = (tmp_path / "dist").glob("wslocal-*.whl")
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "venv")], check=True)
    pip = tmp_path / "venv" / "bin" / "pip"
    subprocess.run([pip, "install", "--quiet", str(wheel)], check=True, timeout=600)
    result = subprocess.run(
        [tmp_path / "venv" / "bin" / "wslocal", "generate-event", "websocket", "connect"],
        capture_output=True, text=True, cwd=tmp_path, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["requestContext"]["eventType"] == "CONNECT"


def test_start_reloads_an_edited_layer_with_the_connection_still_open(tmp_path):
    # GIVEN `wslocal start` on a copy of a third-party app
    with echo_app_started(tmp_path) as (app, process, port):
        with connect(f"ws://127.0.0.1:{port}") as ws:

            def greeting():
                ws.send(json.dumps({"type": "echo"}))
                return json.loads(ws.recv(timeout=15))["greeting"]

            assert greeting() == "echo"
            # WHEN the layer is edited while the connection is open
            shared = app / "shared" / "echo_shared" / "__init__.py"
            shared.write_text(shared.read_text().replace('"echo"', '"edited"'))
            # THEN a later reply on the same connection comes from the new code
            deadline = time.monotonic() + 15
            while greeting() != "edited":
                assert time.monotonic() < deadline, "the edit was never picked up"
                time.sleep(0.2)
        assert "reloaded EchoFn: __init__.py changed" in stop_and_read(process)


@contextlib.contextmanager
def echo_app_started(tmp_path) -> Iterator[tuple[Path, subprocess.Popen, int]]:
    """``wslocal start`` on a copy of a third-party app the test may edit."""
    app = tmp_path / "app"
    shutil.copytree(FIXTURES / "echo_app", app, ignore=shutil.ignore_patterns("__pycache__"))
    with wslocal_started(
        "--template", str(app / "template.yaml"), "--stage", "test", "--skip-build",
        "--parameter-overrides", f"EventLogPath={tmp_path / 'events.jsonl'}",
    ) as (process, port):  # fmt: skip
        yield app, process, port


def stop_and_read(process):
    os.killpg(process.pid, signal.SIGINT)
    assert process.wait(timeout=30) == 0
    return process.stdout.read()


PING_ROUTE = """
  PingRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref EchoApi
      RouteKey: ping
      RouteResponseSelectionExpression: $default
      Target: !Sub "integrations/${PingIntegration}"
  PingIntegration:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref EchoApi
      IntegrationType: AWS_PROXY
      IntegrationUri: !Sub "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/\
        functions/${PingFn.Arn}/invocations"
  PingRouteResponse:
    Type: AWS::ApiGatewayV2::RouteResponse
    Properties:
      ApiId: !Ref EchoApi
      RouteId: !Ref PingRoute
      RouteResponseKey: $default
  PingFn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: ping.handler
      Environment:
        Variables:
          PINGS_TABLE: !Ref Pings
  Pings:
    Type: AWS::Serverless::SimpleTable
"""

PING_HANDLER = """
import json, os
import boto3

def handler(event, context):
    table = boto3.resource("dynamodb").Table(os.environ["PINGS_TABLE"])
    table.put_item(Item={"id": event["requestContext"]["connectionId"]})
    return {"statusCode": 200, "body": json.dumps({"pong": table.item_count >= 0})}
"""


def test_an_edited_template_adds_a_route_function_and_table_with_the_connection_open(tmp_path):
    # GIVEN `wslocal start` on a copy of a third-party app, and a client connected
    with echo_app_started(tmp_path) as (app, process, port):
        with connect(f"ws://127.0.0.1:{port}") as ws:

            def answer():
                ws.send(json.dumps({"type": "ping"}))
                return json.loads(ws.recv(timeout=15))

            assert answer()["routeKey"] == "$default"
            # WHEN the template gains a route, its function and a table it writes to
            (app / "src" / "ping.py").write_text(PING_HANDLER)
            template = app / "template.yaml"
            template.write_text(template.read_text() + PING_ROUTE)
            # THEN the same connection reaches the new function, which finds its table
            deadline = time.monotonic() + 30
            while (reply := answer()).get("pong") is None:
                assert time.monotonic() < deadline, f"the new route never answered: {reply}"
                time.sleep(0.3)
            assert reply == {"pong": True}
        output = stop_and_read(process)
        assert "template.yaml changed: routes +ping; functions +PingFn; tables +Pings" in output
        assert "created table" in output


def test_a_template_that_no_longer_reads_is_said_and_the_previous_one_still_serves(tmp_path):
    # GIVEN `wslocal start` on a copy of a third-party app, and a client connected
    with echo_app_started(tmp_path) as (app, process, port):
        with connect(f"ws://127.0.0.1:{port}") as ws:
            # WHEN the template is saved half-edited (a route naming a missing function)
            template = app / "template.yaml"
            template.write_text(template.read_text() + PING_ROUTE.split("  PingFn:")[0])
            time.sleep(2)
            # THEN the connection and its routes work as before
            ws.send(json.dumps({"type": "echo"}))
            assert json.loads(ws.recv(timeout=15))["routeKey"] == "echo"
        output = stop_and_read(process)
        assert "template.yaml not applied, still serving the previous one" in output


def test_dynamodb_local_dying_is_said_and_the_stage_keeps_answering():
    # GIVEN the chat on `wslocal start` with a client in a room
    with wslocal_started() as (process, port):
        with connect(f"ws://127.0.0.1:{port}?room=dies&name=alice") as ws:
            # WHEN DynamoDB Local dies
            [java] = [pid for pid in children_of(process.pid) if b"java" in process_name(pid)]
            os.kill(java, signal.SIGKILL)
            # THEN a message is answered with the service's failure, the connection stays
            ws.send(json.dumps({"action": "sendMessage", "message": "anyone?"}))
            assert json.loads(ws.recv(timeout=30))["message"] == "Internal server error"
            ws.send(json.dumps({"action": "nothing"}))
            assert json.loads(ws.recv(timeout=30))["code"] == "unknown_action"
            time.sleep(2)  # the stage looks at its engines every second
        output = stop_and_read(process)
        assert re.search(r"DynamoDB Local \(in memory\).* exited with code -9", output)
        assert "stop wslocal and start it again" in output


def process_name(pid: int) -> bytes:
    return Path(f"/proc/{pid}/cmdline").read_bytes()


def test_a_rest_only_app_is_served_at_its_deployed_url_and_stage():
    app = FIXTURES / "rest_only_app"
    with wslocal_started("--template", str(app / "template.yaml"), "--dynamodb", "moto") as (
        process,
        port,
    ):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/Prod/hello") as response:
            assert json.loads(response.read()) == {"message": "hello world", "path": "/hello"}
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0


def test_the_banner_names_every_api_with_its_local_url():
    app = FIXTURES / "mixed_app"
    port = free_port()
    process = subprocess.Popen(
        [*WSLOCAL, "start", "--template", str(app / "template.yaml"), "--skip-build",
         "--dynamodb", "moto", "--port", str(port)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        banner = "".join(read_banner(process))
        process.send_signal(signal.SIGTERM)  # stopped as a user stops it: engines too
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert re.search(rf"WebSocket API LiveApi +ws://127.0.0.1:{port}/live", banner)
    assert re.search(rf"REST API +ShopApi +http://127.0.0.1:{port + 1}/v1\n", banner)
    assert re.search(rf"HTTP API +PublicHttpApi +http://127.0.0.1:{port + 2}\n", banner)
    assert re.search(rf"HTTP API +ServerlessHttpApi +http://127.0.0.1:{port + 3}\n", banner)


def test_a_stage_killed_with_sigkill_leaves_no_process_behind():
    # GIVEN the chat on `wslocal start`: DynamoDB Local, moto's SQS, prewarmed workers
    with wslocal_started() as (process, _):
        tree = descendants_of(process.pid)
        lines = [command_line(pid) for pid in tree]
        assert any("DynamoDBLocal" in line for line in lines)
        assert any("wslocal.engines.moto_sqs" in line for line in lines)
        assert any("wslocal.runtime.bootstrap" in line for line in lines)
        # WHEN it is killed as an IDE's stop button or a crash ends it
        # THEN every process it started ends too
        assert_killed_leaving_nothing(process, tree)


def test_a_killed_stage_takes_its_busy_workers_and_fork_servers_with_it(tmp_path):
    # GIVEN two calls of a minute each in flight: one on the function's first worker, one
    # on a worker forked by its fork server
    app = tmp_path / "app"
    shutil.copytree(FIXTURES / "echo_app", app, ignore=shutil.ignore_patterns("__pycache__"))
    template = app / "template.yaml"
    template.write_text(template.read_text().replace("Timeout: 1\n", "Timeout: 120\n"))
    echo = app / "src" / "echo.py"
    echo.write_text(echo.read_text().replace("time.sleep(3)", "time.sleep(60)"))
    with wslocal_started(
        "--template", str(template), "--stage", "test", "--skip-build",
        "--parameter-overrides", f"EventLogPath={tmp_path / 'events.jsonl'}",
    ) as (process, port):  # fmt: skip
        url = f"ws://127.0.0.1:{port}"
        with connect(url) as first, connect(url) as second:
            first.send('{"type":"echo","do":"sleep"}')
            second.send('{"type":"echo","do":"sleep"}')
            # WHEN the stage is killed with SIGKILL
            # THEN the workers end mid-call, the fork server and its fork too (well before
            # their calls would have returned)
            assert_killed_leaving_nothing(process, forked_under(process.pid))


def assert_killed_leaving_nothing(process: subprocess.Popen, tree: list[int]) -> None:
    """SIGKILL ``process``; every process of ``tree`` (its descendants) ends within 20 s."""
    try:
        process.kill()
        process.wait()
        left = still_running(tree, timeout=20)
        assert left == [], [command_line(pid) for pid in left]
    finally:
        kill_all(tree)


def forked_under(pid: int, timeout: float = 60) -> list[int]:
    """The processes under ``pid`` once one of them is a fork of a fork server."""
    deadline = time.monotonic() + timeout
    while True:
        tree = descendants_of(pid)
        servers = [p for p in tree if "wslocal.runtime.forkserver" in command_line(p)]
        if any(children_of(server) for server in servers):
            return tree
        assert time.monotonic() < deadline, "no worker was forked"
        time.sleep(0.2)


def worker_processes() -> set[int]:
    found = subprocess.run(["pgrep", "-f", "wslocal.runtime"], capture_output=True, text=True)
    return {int(pid) for pid in found.stdout.split()}


def test_an_endpoint_that_does_not_answer_is_a_clear_error_and_nothing_is_left():
    port = free_port()
    before = worker_processes()
    process = subprocess.Popen(
        [*WSLOCAL, "start", "--port", str(free_port()), "--dynamodb-endpoint",
         f"http://127.0.0.1:{port}"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y"},
    )  # fmt: skip
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 2
    assert f"wslocal: DynamoDB at http://127.0.0.1:{port} cannot be used" in output
    assert "Traceback" not in output
    assert worker_processes() - before == set()  # the workers that started meanwhile ended


def test_a_generated_rest_request_piped_to_invoke_runs_the_function():
    generated = run("generate-event", "apigateway", "rest", "--path", "/hello")
    assert generated.returncode == 0, generated.stderr
    result = subprocess.run(
        [*WSLOCAL, "invoke", "HelloWorldFunction", "-e", "-", "--template",
         str(FIXTURES / "rest_only_app" / "template.yaml"), "--dynamodb", "moto"],
        input=generated.stdout, capture_output=True, text=True, cwd=ROOT, timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(json.loads(result.stdout)["body"]) == {
        "message": "hello world",
        "path": "/hello",
    }
