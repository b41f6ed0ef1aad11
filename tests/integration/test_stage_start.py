"""Starting the stage: a client that connects as soon as the port opens (as test runners
and scripts that wait for the port do) is answered once the workers are up, never dropped."""

import asyncio
import time

import pytest
from websockets.asyncio.client import connect

from tests.support.paths import FIXTURES
from wslocal.runtime import builds
from wslocal.server import LocalStage, StageConfig
from wslocal.template import build_stage_model, read_template

pytestmark = pytest.mark.integration

APP = FIXTURES / "slow_start_app"


async def test_a_client_that_connects_while_the_functions_build_is_answered(monkeypatch):
    prepare = builds.prepare

    def slow_prepare(*args, **kwargs):  # a requirements.txt being installed
        time.sleep(1.0)
        return prepare(*args, **kwargs)

    monkeypatch.setattr(builds, "prepare", slow_prepare)
    model = build_stage_model(read_template(APP / "template.yaml"), APP)
    stage = LocalStage(
        model, StageConfig(port=0, stage="dev", max_workers=1, build=True, ttl_sweep_s=0)
    )
    starting = asyncio.create_task(stage.start())
    try:
        async with asyncio.timeout(10):
            while stage.port == 0:
                await asyncio.sleep(0.005)
        assert not starting.done()
        async with connect(f"{stage.websocket_url}/dev", open_timeout=30) as ws:
            await ws.send('{"action": "hello"}')
            assert await asyncio.wait_for(ws.recv(), 30) == '{"action": "hello"}'
        await starting
    finally:
        await starting
        await stage.stop()


async def test_a_handshake_is_answered_before_functions_it_does_not_run_are_warm():
    app = FIXTURES / "connect_first_app"
    model = build_stage_model(read_template(app / "template.yaml"), app)
    stage = LocalStage(model, StageConfig(port=0, stage="dev", max_workers=1, ttl_sweep_s=0))
    starting = asyncio.create_task(stage.start())
    try:
        async with asyncio.timeout(10):
            while stage.port == 0:
                await asyncio.sleep(0.005)
        async with connect(f"{stage.websocket_url}/dev", open_timeout=30):
            assert not starting.done()  # SlowToStart's init (4 s) is still running
            assert stage.pools["Connect"].idle_pids()
        await starting
        assert stage.pools["SlowToStart"].idle_pids()
    finally:
        await starting
        await stage.stop()
