"""A pool under a debugger, on fake workers (no process): one worker, never forked, its
calls not timed out; the same pool without a debugger keeps its limits."""

import asyncio
from dataclasses import replace
from typing import Any

import pytest

from tests.support.paths import FIXTURES
from tests.support.processes import FakeProcess
from wslocal.exceptions import InvocationTimeoutError
from wslocal.runtime import workers
from wslocal.runtime.languages import Debugging
from wslocal.runtime.settings import RuntimeSettings
from wslocal.runtime.workers import WorkerPool
from wslocal.template import FunctionModel

FUNCTION = FunctionModel(
    logical_id="Fn",
    function_name="fn",
    code_dir=FIXTURES,
    handler="app.handler",
    runtime="python3.13",
    timeout=0.05,
    memory_size=128,
    environment={},
    layer_dirs=(),
)
SETTINGS = RuntimeSettings(region="eu-west-1", account_id="123456789012", endpoints={})
NO_FORKS = replace(SETTINGS, fork_workers=False)
"""For the pools without a debugger: no fork server process in a unit test."""


class FakeWorker:
    """Answers each call after ``event["seconds"]``; says it imported a library, so the
    pool would start a fork server for the next worker if it could."""

    def __init__(self, pid: int) -> None:
        self.process = FakeProcess(pid)
        self.init_ms = 0.0
        self.init_error = None
        self.idle_since = 0.0
        self.generation = 0
        self.modules = [("boto3", "/site-packages/boto3/__init__.py")]

    async def invoke(self, request: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(request["event"].get("seconds", 0))
        return {"ok": True, "result": self.process.pid}

    def kill(self) -> None:
        self.process.kill()

    async def stop(self) -> None:
        self.process.kill()


@pytest.fixture
def starts(monkeypatch):
    """Every Worker.start: its keyword arguments (fork_server, debug)."""
    started: list[dict[str, Any]] = []

    async def start(cls, function, settings, language, **options):
        started.append(options)
        return FakeWorker(pid=len(started))

    monkeypatch.setattr(workers.Worker, "start", classmethod(start))
    return started


async def test_a_debugged_pool_runs_concurrent_calls_one_after_the_other_on_one_worker(starts):
    pool = WorkerPool(FUNCTION, SETTINGS, debug=Debugging(5678))
    first = asyncio.create_task(pool.invoke({"seconds": 0.2}, "r1"))
    await asyncio.sleep(0.05)
    second = asyncio.create_task(pool.invoke({}, "r2"))
    await asyncio.sleep(0.05)
    assert pool.size == 1 and not second.done()  # waiting for the one worker
    assert await asyncio.gather(first, second) == [1, 1]
    assert len(starts) == 1
    await pool.close()


async def test_a_debugged_pool_starts_its_worker_on_its_own_with_the_debugging(starts):
    debugging = Debugging(5678, wait=True)
    pool = WorkerPool(FUNCTION, SETTINGS, debug=debugging)
    await pool.prewarm()
    await pool.reload()  # a code edit: the next call starts a new worker
    await pool.invoke({}, "r1")
    assert starts == [{"fork_server": None, "debug": debugging}] * 2
    assert pool.fork_server is None
    await pool.close()


async def test_a_debugged_call_is_not_timed_out(starts):
    pool = WorkerPool(FUNCTION, SETTINGS, debug=Debugging(5678))
    assert await pool.invoke({"seconds": 0.2}, "r1") == 1  # four times the Timeout
    await pool.close()


async def test_without_a_debugger_the_same_call_times_out(starts):
    pool = WorkerPool(FUNCTION, NO_FORKS)
    with pytest.raises(InvocationTimeoutError):
        await pool.invoke({"seconds": 0.2}, "r1")
    await pool.close()


async def test_without_a_debugger_concurrent_calls_get_workers_of_their_own(starts):
    pool = WorkerPool(FUNCTION, NO_FORKS)
    calls = [pool.invoke({"seconds": 0.02}, f"r{n}") for n in range(2)]
    assert sorted(await asyncio.gather(*calls)) == [1, 2]
    assert all(start["debug"] is None for start in starts)
    await pool.close()
