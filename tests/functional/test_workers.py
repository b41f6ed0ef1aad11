"""Worker pools with real processes: warm reuse, bounded growth, a Lambda-like
environment, import errors, logs kept apart from results."""

import asyncio
import json
import os
import re
import time

import pytest

from tests.support.paths import FIXTURES
from wslocal.exceptions import HandlerError, InvocationError, PoolRetiredError, ThrottledError
from wslocal.runtime import worker
from wslocal.runtime.settings import RuntimeSettings
from wslocal.runtime.worker import Worker
from wslocal.runtime.workers import WorkerPool
from wslocal.template import FunctionModel

CODE = FIXTURES / "worker_functions"


def function(handler: str, **changes) -> FunctionModel:
    values = {
        "logical_id": "TestFunction",
        "function_name": "test-function",
        "code_dir": CODE,
        "handler": handler,
        "runtime": "python3.13",
        "timeout": 10.0,
        "memory_size": 256,
        "environment": {"FROM_TEMPLATE": "yes"},
        "layer_dirs": (),
    }
    values.update(changes)
    return FunctionModel(**values)


def settings(max_workers: int = 2) -> RuntimeSettings:
    return RuntimeSettings(
        region="eu-west-1",
        account_id="123456789012",
        endpoints={"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:1"},
        max_workers=max_workers,
    )


async def with_pool(handler: str, body, max_workers: int = 2, **changes):
    pool = WorkerPool(function(handler, **changes), settings(max_workers))
    try:
        return await body(pool)
    finally:
        await pool.close()


async def test_sequential_calls_reuse_one_warm_worker():
    async def body(pool):
        first = await pool.invoke({}, "r1")
        second = await pool.invoke({}, "r2")
        return first, second, pool.cold_starts

    first, second, cold = await with_pool("handlers.slow", body)
    assert first == second  # same pid, same module state
    assert cold == 1


async def test_prewarm_starts_a_worker_before_the_first_call():
    async def body(pool):
        await pool.prewarm()
        size = pool.size
        await pool.invoke({}, "r1")
        return size, pool.cold_starts

    assert await with_pool("handlers.slow", body) == (1, 1)


async def test_concurrent_calls_grow_the_pool_up_to_its_limit_and_no_further():
    async def body(pool):
        started = time.monotonic()
        results = await asyncio.gather(*(pool.invoke({"seconds": 0.6}, f"r{i}") for i in range(4)))
        return results, time.monotonic() - started, pool.size

    results, elapsed, size = await with_pool("handlers.slow", body, max_workers=2)
    assert len({result["pid"] for result in results}) == 2
    assert size == 2
    assert elapsed >= 1.2  # four calls of 0.6 s on two workers: two rounds


async def test_the_environment_is_lambdas_not_the_shells(monkeypatch):
    monkeypatch.setenv("WSLOCAL_TEST_SECRET", "must not leak")

    async def body(pool):
        return await pool.invoke({}, "r1")

    env = await with_pool("handlers.environment", body)
    assert "WSLOCAL_TEST_SECRET" not in env
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "test-function"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_REGION"] == "eu-west-1"
    assert env["AWS_ENDPOINT_URL_DYNAMODB"] == "http://127.0.0.1:1"
    assert env["FROM_TEMPLATE"] == "yes"
    assert env["AWS_ACCESS_KEY_ID"] == "wslocal"
    assert env["LAMBDA_TASK_ROOT"] == str(CODE)


async def test_what_a_handler_prints_is_a_log_never_a_result(capfd):
    async def body(pool):
        return await pool.invoke({}, "r1")

    assert await with_pool("handlers.noisy", body) == "real result"
    logs = capfd.readouterr()
    assert "forged" in logs.out
    assert "REPORT RequestId: r1" in logs.out
    assert "Init Duration" in logs.out


async def test_root_logger_lines_are_lambdas_text_lines_with_the_request_id(capfd):
    async def body(pool):
        return await pool.invoke({}, "r1")

    assert await with_pool("handlers.logs", body) == "logged"
    lines = capfd.readouterr().out.splitlines()
    warning = next(line for line in lines if "stock low" in line)
    assert re.fullmatch(
        r"\[TestFunction\] \[WARNING\]\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\tr1\tstock low",
        warning,
    )
    assert not any("an info line" in line for line in lines)  # Python's WARNING, as on Lambda


async def test_json_logs_are_one_object_per_record_filtered_by_the_application_log_level(capfd):
    async def body(pool):
        return await pool.invoke({}, "r1")

    assert await with_pool("handlers.logs", body, log_format="JSON") == "logged"
    prefix = "[TestFunction] {"
    lines = capfd.readouterr().out.splitlines()
    records = [json.loads(line[len(prefix) - 1 :]) for line in lines if line.startswith(prefix)]
    assert [(r["level"], r["message"], r["requestId"]) for r in records] == [
        ("INFO", "an info line", "r1"),
        ("WARNING", "stock low", "r1"),
    ]
    assert records[1]["logger"] == "orders" and records[1]["sku"] == "b7"


async def test_an_application_log_level_of_warn_drops_info_records(capfd):
    async def body(pool):
        return await pool.invoke({}, "r1")

    await with_pool("handlers.logs", body, log_format="JSON", log_level="WARN")
    out = capfd.readouterr().out
    assert "stock low" in out and "an info line" not in out


async def test_an_import_error_fails_each_call_with_its_type():
    async def body(pool):
        with pytest.raises(HandlerError) as caught:
            await pool.invoke({}, "r1")
        return caught.value.error

    error = await with_pool("broken.handler", body)
    assert error["errorType"] == "Runtime.ImportModuleError"
    assert "this_module_does_not_exist" in error["errorMessage"]


async def test_closing_the_pool_ends_its_processes():
    pool = WorkerPool(function("handlers.slow"), settings())
    pid = (await pool.invoke({}, "r1"))["pid"]
    await pool.close()
    await asyncio.sleep(0.2)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_a_worker_that_died_while_idle_is_replaced_on_the_next_call():
    async def body(pool):
        first = (await pool.invoke({}, "r1"))["pid"]
        os.kill(first, 9)
        await asyncio.sleep(0.2)
        second = (await pool.invoke({}, "r2"))["pid"]
        return first, second, pool.size

    first, second, size = await with_pool("handlers.slow", body)
    assert second != first
    assert size == 1


async def test_idle_workers_are_stopped_down_to_one_warm_one():
    async def body(pool):
        await asyncio.gather(*(pool.invoke({"seconds": 0.3}, f"r{i}") for i in range(3)))
        grown = pool.size
        stopped = await pool.reap(time.monotonic() + 61)
        result = await pool.invoke({}, "after")
        return grown, stopped, pool.size, pool.cold_starts, result

    grown, stopped, size, cold, result = await with_pool("handlers.slow", body, max_workers=3)
    assert (grown, stopped, size) == (3, 2, 1)
    assert cold == 3 and result["pid"]  # the warm one served the next call


async def test_workers_used_recently_are_kept():
    async def body(pool):
        await asyncio.gather(*(pool.invoke({"seconds": 0.3}, f"r{i}") for i in range(2)))
        return await pool.reap(time.monotonic() + 1), pool.size

    assert await with_pool("handlers.slow", body) == (0, 2)


async def test_a_reload_replaces_idle_workers_and_the_next_call_starts_a_new_one():
    async def body(pool):
        before = await pool.invoke({}, "r1")
        stopped = await pool.reload()
        after = await pool.invoke({}, "r2")
        return before["pid"], after["pid"], stopped, pool.cold_starts

    before, after, stopped, cold = await with_pool("handlers.slow", body)
    assert before != after and (stopped, cold) == (1, 2)


async def test_a_call_in_flight_during_a_reload_finishes_on_the_old_worker():
    async def body(pool):
        running = asyncio.create_task(pool.invoke({"seconds": 0.5}, "r1"))
        await asyncio.sleep(0.2)
        await pool.reload()
        old = await running
        new = await pool.invoke({}, "r2")
        return old["pid"], new["pid"], pool.size

    old, new, size = await with_pool("handlers.slow", body)
    assert old != new and size == 1


async def test_a_call_cancelled_as_it_completes_is_cancelled_and_its_worker_kept(monkeypatch):
    # asyncio.wait_for on 3.11 returned the result and dropped such a cancellation
    # (CPython gh-86296): a stream poller being stopped then never stopped.
    original = Worker.invoke
    caller: asyncio.Task | None = None

    async def invoke_then_cancel_the_caller(self, request):
        reply = await original(self, request)
        caller.cancel()
        return reply

    async def body(pool):
        nonlocal caller
        await pool.prewarm()
        monkeypatch.setattr(Worker, "invoke", invoke_then_cancel_the_caller)
        caller = asyncio.create_task(pool.invoke({}, "req-1"))
        with pytest.raises(asyncio.CancelledError):
            await caller
        return pool.size, len(pool.idle_pids())

    assert await with_pool("handlers.environment", body) == (1, 1)


async def test_a_handler_whose_import_hangs_is_given_up_after_init_time(monkeypatch):
    monkeypatch.setattr(worker, "INIT_TIMEOUT_S", 1.0)

    async def body(pool):
        started = time.monotonic()
        with pytest.raises(InvocationError, match="did not finish within 1 s"):
            await pool.invoke({}, "req-1")
        return time.monotonic() - started, pool.size

    elapsed, size = await with_pool("hangs.handler", body)
    assert elapsed < 5 and size == 0


async def test_calls_beyond_the_reserved_concurrency_are_throttled_not_queued():
    async def body(pool):
        calls = [pool.invoke({"seconds": 0.5}, f"req-{index}") for index in range(3)]
        results = await asyncio.gather(*calls, return_exceptions=True)
        return [type(result).__name__ for result in results]

    kinds = await with_pool("handlers.slow", body, max_workers=4, reserved_concurrency=2)
    assert sorted(kinds) == ["ThrottledError", "dict", "dict"]


async def test_a_reserved_concurrency_of_zero_throttles_every_call():
    async def body(pool):
        with pytest.raises(ThrottledError):
            await pool.invoke({}, "req-1")
        return pool.size

    assert await with_pool("handlers.environment", body, reserved_concurrency=0) == 0


async def test_a_call_waiting_for_a_worker_when_the_pool_retires_is_told_to_go_elsewhere():
    async def body(pool):
        running = asyncio.create_task(pool.invoke({"seconds": 0.5}, "r1"))
        await asyncio.sleep(0.2)  # r1 holds the only worker
        waiting = asyncio.create_task(pool.invoke({}, "r2"))
        await asyncio.sleep(0.05)
        await pool.retire()
        first = await running
        with pytest.raises(PoolRetiredError):
            await waiting
        return first, pool.size

    first, size = await with_pool("handlers.slow", body, max_workers=1)
    assert first["pid"] and size == 0  # the call in flight finished; nothing is left running


async def test_an_injected_kill_ends_the_call_as_a_crash_and_the_next_call_gets_a_new_worker():
    from dataclasses import replace

    from wslocal.faults import FaultPlan

    faults = FaultPlan(kill=1.0, seed=1)
    pool = WorkerPool(function("handlers.slow"), replace(settings(), faults=faults))
    try:
        with pytest.raises(InvocationError, match="exited"):
            await pool.invoke({"seconds": 0.2}, "r1")
        faults.kill = 0.0
        assert (await pool.invoke({}, "r2"))["pid"] > 0
    finally:
        await pool.close()
