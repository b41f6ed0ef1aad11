"""A function's worker under its language's debugger, driven by a real client: a Debug
Adapter Protocol client for debugpy (Python), a Chrome DevTools Protocol client for
Node's inspector. It attaches, sets a breakpoint on the handler's line, the call stops
there and, let go, completes with the handler's result, however long it was held."""

import asyncio
import socket
from dataclasses import replace

from tests.support import cdp
from tests.support.dap import DapClient, breakpoint_line, stop_once
from tests.support.paths import FIXTURES
from wslocal.engines.dynamodb import free_port
from wslocal.runtime.languages import DEBUG_HOST, Debugging
from wslocal.runtime.languages.node import NODE
from wslocal.runtime.languages.python import PYTHON
from wslocal.runtime.pools import FunctionPools
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
NODE_CODE = FIXTURES / "debug_node_app" / "src"
NODE_HANDLER = NODE_CODE / "app.mjs"
GREET_NODE = replace(
    GREET, logical_id="GreetNodeFunction", code_dir=NODE_CODE, runtime="nodejs20.x"
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


async def test_a_node_call_stops_at_a_breakpoint_and_completes_once_resumed():
    port = free_port()
    pool = WorkerPool(GREET_NODE, SETTINGS, NODE, Debugging(port, wait=True))
    try:
        # GIVEN a Node call waiting for a debugger
        call = asyncio.create_task(pool.invoke({"name": "cdp"}, "req-1"))
        # WHEN a client attaches to the inspector, breaks on the handler's line, lets the
        # worker run and holds the pause past the function's 1 s Timeout before resuming
        line = breakpoint_line(NODE_HANDLER, "// breakpoint here")
        paused = await asyncio.to_thread(cdp.stop_once, DEBUG_HOST, port, NODE_HANDLER, line, 1.5)
        # THEN the call paused there, and completed with the handler's result
        assert paused["at_breakpoint"] and paused["line"] == line
        assert await asyncio.wait_for(call, 30) == {"greeting": "hello cdp"}
    finally:
        await pool.close()


async def test_a_client_attached_before_the_first_node_call_stops_it(tmp_path):
    port = free_port()
    with (tmp_path / "log").open("w") as log:
        settings = replace(SETTINGS, log_stream=log)
        pool = WorkerPool(GREET_NODE, settings, NODE, Debugging(port, wait=True))
        try:
            # GIVEN a started worker, and a client attached to it with its breakpoint
            await pool.prewarm()
            line = breakpoint_line(NODE_HANDLER, "// breakpoint here")
            stopping = asyncio.create_task(
                asyncio.to_thread(cdp.stop_once, DEBUG_HOST, port, NODE_HANDLER, line)
            )
            await until(lambda: "Debugger attached." in (tmp_path / "log").read_text())
            # WHEN the first call comes
            call = asyncio.create_task(pool.invoke({"name": "late"}, "req-1"))
            # THEN it stops at the breakpoint, and completes once resumed
            paused = await asyncio.wait_for(stopping, 30)
            assert paused["at_breakpoint"]
            assert await asyncio.wait_for(call, 30) == {"greeting": "hello late"}
        finally:
            await pool.close()


async def until(condition, timeout: float = 30.0) -> None:
    """Wait for ``condition()`` to hold, checking every 50 ms, until the deadline."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.05)


async def test_a_node_worker_waiting_for_a_debugger_still_starts_and_says_ready():
    port = free_port()
    pool = WorkerPool(GREET_NODE, SETTINGS, NODE, Debugging(port, wait=True))
    try:
        await asyncio.wait_for(pool.prewarm(), 30)  # the stage's start is not held
        assert pool.size == 1 and pool.busy == 0
    finally:
        await pool.close()


async def test_without_wait_a_node_call_runs_at_once_while_the_inspector_listens():
    port = free_port()
    pool = WorkerPool(GREET_NODE, SETTINGS, NODE, Debugging(port))
    try:
        assert await asyncio.wait_for(pool.invoke({}, "req-1"), 30) == {"greeting": "hello world"}
        with cdp.attached(DEBUG_HOST, port, timeout=5) as client:
            client.command("Debugger.enable")  # and a client can still attach
    finally:
        await pool.close()


async def test_a_node_port_already_taken_is_said_and_a_waiting_call_runs_anyway(tmp_path):
    with socket.socket() as taken, (tmp_path / "log").open("w") as log:
        taken.bind((DEBUG_HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = replace(SETTINGS, log_stream=log)
        pool = WorkerPool(GREET_NODE, settings, NODE, Debugging(port, wait=True))
        try:
            result = await asyncio.wait_for(pool.invoke({}, "req-1"), 30)
        finally:
            await pool.close()
    assert result == {"greeting": "hello world"}
    assert "no debugger: the inspector is not listening" in (tmp_path / "log").read_text()


async def test_after_an_edit_the_new_code_runs_under_the_debugger_once_the_held_call_returns(
    tmp_path,
):
    port = free_port()
    with (tmp_path / "log").open("w") as log:
        settings = replace(SETTINGS, log_stream=log)
        pools = FunctionPools(
            new_id=lambda: "req", debug={GREET.logical_id: Debugging(port, wait=True)}
        )
        await pools.start({GREET.logical_id: GREET}, settings)
        try:
            # GIVEN a call held at a breakpoint by a client
            held = asyncio.create_task(pools.invoke(GREET.logical_id, {"name": "old"}))
            holding = asyncio.create_task(
                asyncio.to_thread(stop_once, DEBUG_HOST, port, HANDLER, 2.0)
            )
            await until(lambda: "waiting for a debugger" in (tmp_path / "log").read_text())
            # WHEN the function is edited (its pool replaced) and called again meanwhile
            await asyncio.wait_for(
                pools.swap({GREET.logical_id: GREET}, settings, [GREET.logical_id]), 10
            )
            call = asyncio.create_task(pools.invoke(GREET.logical_id, {"name": "new"}))
            # THEN the held call completes, and the new code's worker listens on the port
            # once the old one has let it go: a client reattaching stops the new call
            assert (await asyncio.wait_for(holding, 30))["reason"] == "breakpoint"
            assert await asyncio.wait_for(held, 30) == {"greeting": "hello old"}
            stopped = await asyncio.to_thread(stop_once, DEBUG_HOST, port, HANDLER)
            assert stopped["reason"] == "breakpoint"
            assert await asyncio.wait_for(call, 30) == {"greeting": "hello new"}
        finally:
            await pools.close()
    logged = (tmp_path / "log").read_text()
    assert "starts once the call the debugger holds returns" in logged
    assert "no debugger" not in logged
