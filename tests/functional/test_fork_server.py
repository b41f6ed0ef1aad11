"""Workers forked from a function's fork server: cheaper cold starts that still run the
handler's init in each execution environment, and that leave no process behind."""

import asyncio
import dataclasses
import json
import os
import time
from pathlib import Path

import pytest

from tests.functional import test_workers
from tests.functional.test_workers import function
from wslocal.exceptions import WorkerCrashedError
from wslocal.runtime.forking import ForkServer, ForkServerError, ForkServers
from wslocal.runtime.languages.python import PYTHON
from wslocal.runtime.workers import WorkerPool


def settings(max_workers: int = 2):
    """Lambda's growth: a call that finds the worker busy gets a new one at once, which
    these tests need forked (the stage's default might let it wait for the busy one)."""
    return dataclasses.replace(test_workers.settings(max_workers), pool_growth="lambda")


def command_line(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


async def busy_and_new(pool: WorkerPool) -> tuple[dict, dict]:
    """One call on the warm worker while another needs a second one."""
    await pool.prewarm()
    return await asyncio.gather(
        pool.invoke({"seconds": 0.5}, "warm"), pool.invoke({"seconds": 0.1}, "new")
    )


def children() -> list[int]:
    """This process's child processes, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid():
                found.append(int(entry.name))
    return found


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def test_the_second_worker_is_forked_by_the_functions_fork_server():
    pool = WorkerPool(function("handlers.slow"), settings(max_workers=2))
    try:
        first, second = await busy_and_new(pool)
        assert pool.forks == 1 and pool.cold_starts == 2
        assert "wslocal.runtime.forkserver" in command_line(second["parent"])
        assert "wslocal.runtime.forkserver" not in command_line(first["parent"])
    finally:
        await pool.close()


async def test_a_forked_worker_runs_the_handlers_init_itself():
    pool = WorkerPool(function("handlers.slow"), settings(max_workers=2))
    try:
        _, forked = await busy_and_new(pool)
    finally:
        await pool.close()
    assert forked["initPid"] == forked["pid"]


async def test_a_forked_worker_has_the_functions_environment():
    pool = WorkerPool(function("handlers.environment"), settings(max_workers=2))
    try:
        await pool.prewarm()
        slow = pool.invoke({}, "warm")  # occupies the warm worker for a moment
        env, forked_env = await asyncio.gather(slow, pool.invoke({}, "new"))
    finally:
        await pool.close()
    for name in ("AWS_LAMBDA_FUNCTION_NAME", "FROM_TEMPLATE", "LAMBDA_TASK_ROOT", "AWS_REGION"):
        assert forked_env[name] == env[name]


async def test_a_forked_worker_that_exits_is_reported_with_its_code_and_replaced():
    pool = WorkerPool(function("handlers.slow"), settings(max_workers=2))
    try:
        await pool.prewarm()
        slow = asyncio.create_task(pool.invoke({"seconds": 0.5}, "warm"))
        await asyncio.sleep(0.05)
        with pytest.raises(WorkerCrashedError, match="exited with code 3"):
            await pool.invoke({"exitCode": 3}, "crash")
        await slow
        assert (await pool.invoke({}, "after"))["pid"]
        assert pool.size == 1
    finally:
        await pool.close()


async def test_after_a_code_change_new_workers_are_forked_and_import_the_new_code(tmp_path):
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return 'before'\n")
    pool = WorkerPool(function("app.handler", code_dir=tmp_path), settings())
    try:
        assert await pool.invoke({}, "r1") == "before"
        (tmp_path / "app.py").write_text("def handler(event, context):\n    return 'after'\n")
        await pool.reload()
        assert await pool.invoke({}, "r2") == "after"
        assert pool.forks == 1
    finally:
        await pool.close()


async def test_with_forking_off_every_worker_starts_on_its_own():
    quiet = dataclasses.replace(settings(max_workers=2), fork_workers=False)
    pool = WorkerPool(function("handlers.slow"), quiet)
    try:
        _, second = await busy_and_new(pool)
    finally:
        await pool.close()
    assert pool.forks == 0 and second["parent"] == os.getpid()


async def test_closing_the_pool_ends_the_fork_server_and_its_forks():
    pool = WorkerPool(function("handlers.slow"), settings(max_workers=2))
    _, forked = await busy_and_new(pool)
    await pool.close()
    await asyncio.sleep(0.2)
    assert gone(forked["pid"]) and gone(forked["parent"])


async def test_a_fork_server_still_starting_when_the_pool_closes_is_ended(monkeypatch):
    # GIVEN a pool whose fork server is still starting (held) when the pool is closed, as a
    # stage stops, or retires a pool after an edit, in the middle of a burst
    started: list[ForkServer] = []
    holding, release = asyncio.Event(), asyncio.Event()
    real_start = ForkServer.start

    async def held_start(*args, **kwargs):
        server = await real_start(*args, **kwargs)
        started.append(server)
        holding.set()
        await release.wait()
        return server

    monkeypatch.setattr(ForkServer, "start", held_start)
    pool = WorkerPool(function("handlers.slow"), settings(max_workers=2))
    await pool.prewarm()
    burst = asyncio.gather(
        pool.invoke({"seconds": 0.5}, "warm"), pool.invoke({}, "new"), return_exceptions=True
    )
    await asyncio.wait_for(holding.wait(), 30)
    # WHEN the pool closes, then the server's start returns
    closing = asyncio.ensure_future(pool.close())
    await asyncio.sleep(0)
    release.set()
    await closing
    await burst
    # THEN no fork server is left running
    [server] = started
    await asyncio.wait_for(server.process.wait(), 10)
    assert pool.fork_server is None


async def test_the_worker_kept_warm_is_a_fork_and_its_fork_server_stays():
    pool = WorkerPool(function("handlers.slow"), settings(max_workers=3))
    try:
        await pool.prewarm()
        results = await asyncio.gather(
            *(pool.invoke({"seconds": 0.3}, f"r{index}") for index in range(3))
        )
        server = next(r["parent"] for r in results if r["parent"] != os.getpid())
        stopped = await pool.reap(time.monotonic() + 61)
        kept = await pool.invoke({}, "after")
        assert stopped == 2 and not gone(server)
        assert kept["parent"] == server  # it shares the libraries' pages with the server
    finally:
        await pool.close()


async def test_a_lone_worker_started_on_its_own_is_kept_when_no_fork_server_runs():
    pool = WorkerPool(function("handlers.slow"), settings(max_workers=2))
    try:
        own = await pool.invoke({}, "first")
        await pool.reap(time.monotonic() + 61)
        kept = await pool.invoke({}, "after")
        assert kept["pid"] == own["pid"]  # a server started for it alone would cost more
        assert pool.fork_server is None
    finally:
        await pool.close()


async def test_a_fork_server_with_no_fork_left_is_stopped_once_idle():
    servers = ForkServers()
    slow = function("handlers.slow")
    launch = PYTHON.fork_server(slow, settings())
    servers.learn(launch, [("json", json.__file__)], [slow.code_dir])
    server = await servers.server_for(launch, [slow.code_dir], None, 10.0)
    try:
        await servers.reap(time.monotonic() + 1, 60)
        assert list(servers) == [server]  # used within the limit: kept
        await servers.reap(time.monotonic() + 61, 60)
        assert list(servers) == [] and server.process.returncode is not None
    finally:
        await servers.close()


async def test_a_fork_server_whose_libraries_start_threads_refuses_to_fork(tmp_path):
    (tmp_path / "threaded_library.py").write_text(
        "import threading, time\nthreading.Thread(target=time.sleep, args=(30,), daemon=True)"
        ".start()\n"
    )
    slow = function("handlers.slow")
    launch = PYTHON.fork_server(slow, settings())
    env = {**launch.environment, "PYTHONPATH": str(tmp_path)}
    with pytest.raises(ForkServerError, match="threads"):
        await ForkServer.start(
            launch.command,
            env,
            ["threaded_library"],
            None,
            10.0,
        )


async def test_libraries_that_fail_to_import_are_skipped_not_fatal():
    slow = function("handlers.slow")
    launch = PYTHON.fork_server(slow, settings())
    server = await ForkServer.start(
        launch.command,
        launch.environment,
        ["json", "no_such_library_here"],
        None,
        10.0,
    )
    try:
        assert server.failed == ["no_such_library_here"]
    finally:
        await server.stop()


async def test_boto3_clients_of_the_services_the_stage_serves_are_warmed_for_the_forks():
    pool = WorkerPool(function("aws.handler"), settings(max_workers=2))
    try:
        await pool.prewarm()
        exec_result, fork_result = await asyncio.gather(
            pool.invoke({"seconds": 0.5}, "warm"), pool.invoke({}, "new")
        )
        assert pool.fork_server is not None and pool.fork_server.warmed == ["dynamodb"]
        assert "wslocal.runtime.forkserver" in command_line(fork_result["parent"])
    finally:
        await pool.close()
    assert fork_result["endpoint"] == exec_result["endpoint"] == "http://127.0.0.1:1"
    assert fork_result["region"] == "eu-west-1"


async def test_a_fork_server_that_cannot_be_told_its_libraries_fails_cleanly():
    slow = function("handlers.slow")
    too_many = [f"module_{index:07d}_{'x' * 40}" for index in range(100_000)]  # > 4 MB
    launch = PYTHON.fork_server(slow, settings())
    before = set(children())
    with pytest.raises(ForkServerError, match="did not get ready"):
        await ForkServer.start(
            launch.command,
            launch.environment,
            too_many,
            None,
            10.0,
        )
    assert set(children()) - before == set()  # the process it started is gone


async def test_a_pool_whose_fork_server_fails_turns_forking_off_once_and_says_so(
    monkeypatch, tmp_path
):
    starts = []

    async def failing_start(*args, **kwargs):
        starts.append(1)
        raise ForkServerError("EMSGSIZE")

    monkeypatch.setattr(ForkServer, "start", failing_start)
    with (tmp_path / "log").open("w") as log:
        pool = WorkerPool(
            function("handlers.slow"), dataclasses.replace(settings(max_workers=4), log_stream=log)
        )
        try:
            await pool.prewarm()  # the first worker shows which libraries to preload
            await asyncio.gather(*(pool.invoke({"seconds": 0.3}, f"r{n}") for n in range(3)))
            await asyncio.gather(*(pool.invoke({"seconds": 0.3}, f"s{n}") for n in range(4)))
        finally:
            await pool.close()
    said = (tmp_path / "log").read_text()
    assert starts == [1]
    assert said.count("workers start on their own from now on: EMSGSIZE") == 1
