"""Background tasks are never silently dead: an error is logged and the task restarted."""

import asyncio

import pytest

from wslocal.supervision import supervised


async def test_a_task_that_fails_is_logged_and_run_again(caplog):
    runs = []

    async def run():
        runs.append(1)
        if len(runs) < 3:
            raise ValueError(f"failure {len(runs)}")

    await asyncio.wait_for(supervised("the sweeper", run, first_pause_s=0.001), 5)
    assert len(runs) == 3
    assert caplog.text.count("the sweeper stopped on an error") == 2
    assert "ValueError: failure 2" in caplog.text


async def test_a_task_that_keeps_failing_waits_longer_each_time():
    pauses = []

    async def sleep(seconds):
        pauses.append(seconds)
        if len(pauses) == 7:
            raise asyncio.CancelledError

    async def run():
        raise RuntimeError("always")

    with pytest.raises(asyncio.CancelledError):
        await supervised("x", run, first_pause_s=1, clock=lambda: 0.0, sleep=sleep)
    assert pauses == [1, 2, 4, 8, 16, 30, 30]


async def test_cancelling_stops_it_for_good():
    started = asyncio.Event()

    async def run():
        started.set()
        await asyncio.sleep(3600)

    task = asyncio.create_task(supervised("x", run))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
