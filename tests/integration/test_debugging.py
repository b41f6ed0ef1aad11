"""``wslocal start --debug`` and ``wslocal invoke --debug-port`` as people run them, with a
real client in VS Code's place (Debug Adapter Protocol to debugpy for Python, Chrome
DevTools Protocol to Node's inspector): it attaches to the port the banner names, a
breakpoint on the handler's line stops the call, and once continued the call completes
with the handler's result, though held past the function's 1 s Timeout."""

import json
import signal
import subprocess
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.integration.test_cli import WSLOCAL, read_banner
from tests.support import cdp
from tests.support.dap import breakpoint_line, stop_once
from tests.support.paths import FIXTURES, ROOT
from wslocal.engines.dynamodb import free_port
from wslocal.runtime.languages import DEBUG_HOST

pytestmark = pytest.mark.integration

APP = FIXTURES / "debug_app"
HANDLER = APP / "src" / "app.py"
NODE_APP = FIXTURES / "debug_node_app"
NODE_HANDLER = NODE_APP / "src" / "app.mjs"
HOLD_S = 1.5
"""Longer than GreetFunction's Timeout: the call is not killed while it is paused."""


def get(url: str) -> tuple[int, dict]:
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.status, json.loads(response.read())


def test_start_debug_wait_holds_the_first_call_until_a_client_stops_it_and_lets_it_go():
    port, debug_port = free_port(), free_port()
    process = subprocess.Popen(
        [*WSLOCAL, "start", "--template", str(APP / "template.yaml"), "--dynamodb", "moto",
         "--port", str(port), "--debug", f"GreetFunction={debug_port}", "--debug-wait"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        # GIVEN the stage, its banner naming the port and the suspended timeout
        banner = "".join(read_banner(process))
        assert (
            f"Debug         GreetFunction: debugpy listens on {DEBUG_HOST}:{debug_port}; its "
            "first call waits for a client; one worker, its Timeout suspended while debugging"
        ) in banner
        with ThreadPoolExecutor(1) as caller:
            # WHEN a request arrives, then a client attaches and breaks in the handler
            answer = caller.submit(get, f"http://127.0.0.1:{port}/greet?name=dap")
            stopped = stop_once(DEBUG_HOST, debug_port, HANDLER, HOLD_S)
            # THEN the call stopped on that line, and answers once let go
            assert stopped["reason"] == "breakpoint"
            assert answer.result(timeout=60) == (200, {"greeting": "hello dap"})
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_invoke_debug_port_waits_for_a_client_and_prints_the_handlers_result(tmp_path):
    debug_port = free_port()
    event = tmp_path / "event.json"
    event.write_text('{"name": "invoke"}')
    process = subprocess.Popen(
        [*WSLOCAL, "invoke", "GreetFunction", "--template", str(APP / "template.yaml"),
         "--dynamodb", "moto", "-e", str(event), "--debug-port", str(debug_port)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        stopped = stop_once(DEBUG_HOST, debug_port, HANDLER, HOLD_S)
        out, err = process.communicate(timeout=60)
        assert stopped["reason"] == "breakpoint"
        assert process.returncode == 0, err
        assert json.loads(out) == {"greeting": "hello invoke"}
        assert f"debugpy listens on {DEBUG_HOST}:{debug_port}" in err
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_start_debug_wait_holds_a_node_call_until_a_client_of_the_inspector_lets_it_go():
    port = free_port()
    process = subprocess.Popen(
        [*WSLOCAL, "start", "--template", str(NODE_APP / "template.yaml"), "--dynamodb",
         "moto", "--port", str(port), "--debug", "GreetNodeFunction", "--debug-wait"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        # GIVEN the stage, its banner naming the inspector's default port
        banner = "".join(read_banner(process))
        assert (
            f"Debug         GreetNodeFunction: the Node inspector listens on {DEBUG_HOST}:9229; "
            "its first call waits for a client; one worker, its Timeout suspended while "
            "debugging"
        ) in banner
        with ThreadPoolExecutor(1) as caller:
            # WHEN a request arrives, then a client attaches and breaks in the handler
            answer = caller.submit(get, f"http://127.0.0.1:{port}/greet?name=cdp")
            line = breakpoint_line(NODE_HANDLER, "// breakpoint here")
            paused = cdp.stop_once(DEBUG_HOST, 9229, NODE_HANDLER, line, HOLD_S)
            # THEN the call paused on that line, and answers once resumed
            assert paused["at_breakpoint"] and paused["line"] == line
            assert answer.result(timeout=60) == (200, {"greeting": "hello cdp"})
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_invoke_debug_port_holds_a_node_call_for_the_inspector_and_prints_its_result(tmp_path):
    debug_port = free_port()
    event = tmp_path / "event.json"
    event.write_text('{"name": "invoke"}')
    process = subprocess.Popen(
        [*WSLOCAL, "invoke", "GreetNodeFunction", "--template", str(NODE_APP / "template.yaml"),
         "--dynamodb", "moto", "-e", str(event), "--debug-port", str(debug_port)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        line = breakpoint_line(NODE_HANDLER, "// breakpoint here")
        paused = cdp.stop_once(DEBUG_HOST, debug_port, NODE_HANDLER, line, HOLD_S)
        out, err = process.communicate(timeout=60)
        assert paused["at_breakpoint"]
        assert process.returncode == 0, err
        assert json.loads(out) == {"greeting": "hello invoke"}
        assert f"Debugger listening on ws://{DEBUG_HOST}:{debug_port}/" in err
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
