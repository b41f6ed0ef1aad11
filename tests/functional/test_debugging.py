"""A function's worker under debugpy, driven by a real Debug Adapter Protocol client:
it attaches, sets a breakpoint on the handler's line, the call stops there and, let go,
completes with the handler's result, however long it was held."""

import asyncio
import socket
from dataclasses import replace

from tests.support.dap import DapClient, breakpoint_line, stop_once
from tests.support.paths import FIXTURES
from wslocal.engines.dynamodb import free_port
from wslocal.runtime.languages import DEBUG_HOST, Debugging
from wslocal.runtime.languages.python import PYTHON
from wslocal.runtime.settings import RuntimeSettings
from wslocal.runtime.workers import WorkerPool
from wslocal.template import FunctionModel

CODE = FIXTURES / "debug_app" / "src"
HANDLER = CODE / "app.py"
GREET = FunctionModel(
    logical_id="GreetFunction",
    function_name="greet",
    code_dir=CODE,
    handler="app.handler",
    runtime="python3.12",
    timeout=1.0,
    memory_size=128,
    environment={},
    layer_dirs=(),
)
SETTINGS = RuntimeSettings(region="eu-west-1", account_id="123456789012", endpoints={})


async def test_a_call_stops_at_a_breakpoint_and_completes_once_continued():
    port = free_port()
    pool = WorkerPool(GREET, SETTINGS, PYTHON, Debugging(port, wait=True))
    try:
        # GIVEN a call waiting for a debugger
        call = asyncio.create_task(pool.invoke({"name": "dap"}, "req-1"))
        # WHEN a client attaches, breaks on the handler's line and holds it past the
        # function's 1 s Timeout before it continues
        stopped = await asyncio.to_thread(stop_once, DEBUG_HOST, port, HANDLER, 1.5)
        # THEN the call stopped there, and completed with the handler's result
        assert stopped["reason"] == "breakpoint"
        assert stopped["line"] == breakpoint_line(HANDLER)
        assert await asyncio.wait_for(call, 30) == {"greeting": "hello dap"}
    finally:
        await pool.close()


async def test_without_wait_a_call_runs_at_once_while_the_worker_listens():
    port = free_port()
    pool = WorkerPool(GREET, SETTINGS, PYTHON, Debugging(port))
    try:
        assert await asyncio.wait_for(pool.invoke({}, "req-1"), 30) == {"greeting": "hello world"}
        with DapClient(DEBUG_HOST, port, timeout=5):
            pass  # and a client can still attach
    finally:
        await pool.close()


async def test_a_port_already_taken_is_said_and_the_function_runs_without_a_debugger(tmp_path):
    with socket.socket() as taken, (tmp_path / "log").open("w") as log:
        taken.bind((DEBUG_HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        pool = WorkerPool(GREET, replace(SETTINGS, log_stream=log), PYTHON, Debugging(port))
        try:
            result = await asyncio.wait_for(pool.invoke({}, "req-1"), 30)
        finally:
            await pool.close()
    assert result == {"greeting": "hello world"}
    assert (
        f"no debugger: debugpy cannot listen on {DEBUG_HOST}:{port}"
        in (tmp_path / "log").read_text()
    )
