"""The stage's pools, on fake pools: no process, no socket. Which pool a call goes to,
what a swap keeps and replaces, prewarm, reaping and closing."""

import asyncio
import itertools
from collections.abc import Mapping
from typing import Any

import pytest

from tests.support.paths import FIXTURES
from wslocal.exceptions import InvocationError, PoolRetiredError, WslocalError
from wslocal.runtime import pools as pools_module
from wslocal.runtime.languages import Debugging
from wslocal.runtime.languages.node import NODE
from wslocal.runtime.languages.python import PYTHON
from wslocal.runtime.pools import FunctionPools, language_of, pools_to_replace, prepare_runtimes
from wslocal.runtime.settings import RuntimeSettings
from wslocal.template import FunctionModel, build_stage_model, read_template
from wslocal.template.changes import Changed, TemplateChanges

SETTINGS = RuntimeSettings(region="eu-west-1", account_id="123456789012", endpoints={})


def function(name: str, runtime: str = "python3.13", **changes: Any) -> FunctionModel:
    values: dict[str, Any] = {
        "logical_id": name,
        "function_name": name.lower(),
        "code_dir": FIXTURES,
        "handler": "app.handler",
        "runtime": runtime,
        "timeout": 3.0,
        "memory_size": 128,
        "environment": {},
        "layer_dirs": (),
    }
    values.update(changes)
    return FunctionModel(**values)


class FakePool:
    """A pool that records what it was asked and answers with its function's name."""

    def __init__(
        self, function: FunctionModel, settings: RuntimeSettings, debug: Debugging | None
    ) -> None:
        self.function = function
        self.debug = debug
        self.calls: list[tuple[Mapping[str, Any], str, str]] = []
        self.prewarmed = 0
        self.reloaded = 0
        self.reaped: list[float] = []
        self.retired = False
        self.closed = False
        self.killed = False
        self.busy = 0
        self.retire_on_next_call = False
        self.prewarm_error: Exception | None = None

    def idle_pids(self) -> list[int]:
        return []

    async def prewarm(self) -> None:
        if self.prewarm_error is not None:
            raise self.prewarm_error
        self.prewarmed += 1

    async def invoke(self, event: Mapping[str, Any], request_id: str, label: str = "") -> Any:
        if self.retire_on_next_call or self.retired:
            raise PoolRetiredError(f"{self.function.logical_id}'s workers were replaced")
        self.calls.append((event, request_id, label))
        return self.function.logical_id

    async def reload(self) -> int:
        self.reloaded += 1
        return 0

    async def reap(self, now: float) -> int:
        self.reaped.append(now)
        return 0

    async def retire(self) -> None:
        self.retired = True

    def kill(self) -> None:
        self.killed = True

    async def close(self) -> None:
        self.closed = True


class Factory:
    def __init__(self, prewarm_errors: Mapping[str, Exception] | None = None) -> None:
        self.made: list[FakePool] = []
        self.prewarm_errors = dict(prewarm_errors or {})

    def __call__(
        self, function: FunctionModel, settings: RuntimeSettings, debug: Debugging | None
    ) -> FakePool:
        pool = FakePool(function, settings, debug)
        pool.prewarm_error = self.prewarm_errors.get(function.logical_id)
        self.made.append(pool)
        return pool


def pools(factory: Factory, **options: Any) -> FunctionPools:
    ids = (f"id-{n}" for n in itertools.count(1))
    return FunctionPools(new_id=lambda: next(ids), pool_factory=factory, **options)


def functions(*names: str) -> dict[str, FunctionModel]:
    return {name: function(name) for name in names}


async def test_start_makes_one_pool_per_function_and_prewarms_each():
    factory = Factory()
    stage_pools = pools(factory)
    await stage_pools.start(functions("A", "B"), SETTINGS)
    assert sorted(stage_pools) == ["A", "B"]
    assert [pool.prewarmed for pool in factory.made] == [1, 1]


async def test_prewarming_every_function_ahead_starts_the_first_alone_then_the_others():
    # the first shows a fork server which libraries to load; the others are forked with them
    steps: list[str] = []

    class Stepping(FakePool):
        async def prewarm(self) -> None:
            steps.append(f"{self.function.logical_id} starts")
            await asyncio.sleep(0)
            steps.append(f"{self.function.logical_id} ready")

    await pools(Stepping).start(functions("A", "B", "C"), SETTINGS)
    assert steps[:2] == ["A starts", "A ready"]
    assert steps[2:4] == ["B starts", "C starts"]  # the others at once


async def test_start_prewarms_only_the_functions_named_and_prewarm_rest_the_others():
    factory = Factory()
    stage_pools = pools(factory)
    await stage_pools.start(functions("A", "B", "C"), SETTINGS, prewarm={"B"})
    assert [pool.prewarmed for pool in factory.made] == [0, 1, 0]
    await stage_pools.prewarm_rest({"B"})
    assert [pool.prewarmed for pool in factory.made] == [1, 1, 1]


async def test_a_call_that_comes_while_its_function_prewarms_waits_for_that_worker():
    factory = Factory()
    stage_pools = pools(factory)
    await stage_pools.start(functions("Connect", "Send"), SETTINGS, prewarm={"Connect"})
    send = factory.made[1]
    worker_up = asyncio.Event()

    async def slow_prewarm() -> None:
        await worker_up.wait()
        send.prewarmed += 1

    send.prewarm = slow_prewarm  # type: ignore[method-assign]
    prewarming = asyncio.create_task(stage_pools.prewarm_rest({"Connect"}))
    await asyncio.sleep(0)
    call = asyncio.create_task(stage_pools.invoke("Send", {}))
    await asyncio.sleep(0.01)
    assert send.calls == []  # not started beside the prewarm's worker: waiting for it
    worker_up.set()
    assert await call == "Send"
    await prewarming
    assert (send.prewarmed, len(send.calls)) == (1, 1)


async def test_a_call_still_runs_when_its_functions_prewarm_failed(caplog):
    factory = Factory(prewarm_errors={"Send": WslocalError("init hung")})
    stage_pools = pools(factory)
    await stage_pools.start(functions("Connect", "Send"), SETTINGS, prewarm={"Connect"})
    prewarming = asyncio.create_task(stage_pools.prewarm_rest({"Connect"}))
    assert await stage_pools.invoke("Send", {}) == "Send"
    await prewarming


async def test_without_prewarm_no_worker_starts_ahead():
    factory = Factory()
    await pools(factory, prewarm=False).start(functions("A"), SETTINGS)
    assert factory.made[0].prewarmed == 0


async def test_a_function_that_cannot_prewarm_does_not_stop_the_others(caplog):
    factory = Factory(prewarm_errors={"A": InvocationError("import hangs")})
    stage_pools = pools(factory)
    await stage_pools.start(functions("A", "B"), SETTINGS)
    assert sorted(stage_pools) == ["A", "B"]
    assert factory.made[1].prewarmed == 1
    assert "A did not start: import hangs" in caplog.text


async def test_invoke_runs_the_function_in_its_pool_with_a_new_request_id():
    factory = Factory()
    stage_pools = pools(factory)
    await stage_pools.start(functions("A", "B"), SETTINGS)
    assert await stage_pools.invoke("B", {"x": 1}, "label") == "B"
    assert factory.made[1].calls == [({"x": 1}, "id-1", "label")]


async def test_invoking_a_function_not_in_the_template_is_an_invocation_error():
    stage_pools = pools(Factory())
    await stage_pools.start(functions("A"), SETTINGS)
    with pytest.raises(InvocationError, match="Gone is not a function of the template now"):
        await stage_pools.invoke("Gone", {})


async def test_a_call_whose_pool_was_replaced_while_it_waited_runs_on_the_new_pool():
    factory = Factory()
    stage_pools = pools(factory)
    await stage_pools.start(functions("A"), SETTINGS)
    old = factory.made[0]
    old.retire_on_next_call = True

    async def swap_then_retire(event: Mapping[str, Any], request_id: str, label: str = "") -> Any:
        await stage_pools.swap(functions("A"), SETTINGS, replaced={"A"})
        raise PoolRetiredError("replaced")

    old.invoke = swap_then_retire  # type: ignore[method-assign]
    assert await stage_pools.invoke("A", {}) == "A"
    assert len(factory.made) == 2 and factory.made[1].calls


async def test_a_call_to_a_closed_pool_not_replaced_says_the_stage_is_stopping():
    factory = Factory()
    stage_pools = pools(factory)
    await stage_pools.start(functions("A"), SETTINGS)
    factory.made[0].retire_on_next_call = True
    with pytest.raises(InvocationError, match="A: the stage is stopping"):
        await stage_pools.invoke("A", {})


async def test_reload_replaces_that_functions_workers_only():
    factory = Factory()
    stage_pools = pools(factory)
    await stage_pools.start(functions("A", "B"), SETTINGS)
    await stage_pools.reload("B")
    assert [pool.reloaded for pool in factory.made] == [0, 1]


async def test_a_swap_keeps_untouched_pools_and_replaces_redefined_and_gone_ones():
    factory = Factory()
    stage_pools = pools(factory)
    await stage_pools.start(functions("Kept", "Redefined", "Gone"), SETTINGS)
    kept, redefined, gone = factory.made
    added = await stage_pools.swap(functions("Kept", "Redefined", "New"), SETTINGS, {"Redefined"})
    assert added == ["New", "Redefined"]
    assert stage_pools["Kept"] is kept and not kept.retired
    assert redefined.retired and gone.retired
    assert stage_pools["Redefined"] is not redefined
    assert sorted(stage_pools) == ["Kept", "New", "Redefined"]
    assert [pool.prewarmed for pool in factory.made[3:]] == [1, 1]


async def test_retired_pools_with_calls_in_flight_are_closed_when_the_stage_stops():
    factory = Factory()
    stage_pools = pools(factory)
    await stage_pools.start(functions("A", "B"), SETTINGS)
    busy, idle = factory.made
    busy.busy = 1
    await stage_pools.swap(functions("A", "B"), SETTINGS, {"A", "B"})
    assert stage_pools.retired == 1
    await stage_pools.close()
    assert busy.closed and not idle.closed
    assert all(pool.closed for pool in factory.made[2:])


async def test_kill_reaches_current_and_retired_pools():
    factory = Factory()
    stage_pools = pools(factory)
    await stage_pools.start(functions("A"), SETTINGS)
    factory.made[0].busy = 1
    await stage_pools.swap(functions("A"), SETTINGS, {"A"})
    stage_pools.kill()
    assert all(pool.killed for pool in factory.made)


async def test_reaping_asks_every_pool_with_the_clocks_time():
    factory = Factory()
    stage_pools = FunctionPools(new_id=str, pool_factory=factory, clock=lambda: 42.0)
    await stage_pools.start(functions("A", "B"), SETTINGS)
    await stage_pools.reap_idle()
    assert [pool.reaped for pool in factory.made] == [[42.0], [42.0]]


async def test_with_no_idle_limit_the_reaper_ends_at_once():
    stage_pools = pools(Factory(), idle_worker_s=0)
    await asyncio.wait_for(stage_pools.reap_forever(), 1)


async def test_a_debugged_function_gets_its_debugging_and_the_others_none():
    factory = Factory()
    debugging = Debugging(port=5678, wait=True)
    await pools(factory, debug={"B": debugging}).start(functions("A", "B"), SETTINGS)
    assert [pool.debug for pool in factory.made] == [None, debugging]


def test_a_python_runtime_runs_on_python_workers():
    assert language_of(function("A", runtime="python3.8")) is PYTHON


def test_a_node_runtime_runs_on_node_workers():
    assert language_of(function("A", runtime="nodejs22.x")) is NODE


def test_a_runtime_no_worker_runs_is_a_clear_error():
    with pytest.raises(WslocalError, match="A: no worker runs the runtime 'java21'"):
        language_of(function("A", runtime="java21"))


class PreparingLanguage:
    """A language that prepares the functions it was told it has, and says what it was asked."""

    def __init__(self, prepared: Mapping[str, str]) -> None:
        self.prepared = prepared
        self.asked: list[tuple[bool, tuple[str, ...]]] = []

    def prepare(self, model, cache, build, debugged):
        self.asked.append((build, tuple(debugged)))
        return dict(self.prepared)


def test_every_language_prepares_its_own_functions_and_none_is_named_by_the_stage(
    monkeypatch, tmp_path
):
    python, node = PreparingLanguage({"A": "py"}), PreparingLanguage({"B": "node"})
    monkeypatch.setattr(pools_module, "LANGUAGES", {"python": python, "nodejs": node})
    assert prepare_runtimes(None, tmp_path, True, ["A"]) == {"A": "py", "B": "node"}
    assert python.asked == node.asked == [(True, ("A",))]


def test_unbuilt_python_functions_run_on_the_stages_interpreter(tmp_path):
    model = build_stage_model(
        read_template(FIXTURES / "echo_app" / "template.yaml"), FIXTURES / "echo_app"
    )
    assert PYTHON.prepare(model, tmp_path, build=False, debugged=()) == {}


def test_only_redefined_or_rebuilt_functions_get_new_workers():
    changes = TemplateChanges(functions=Changed(added=("New",), removed=("Gone",), changed=("A",)))
    running = ["A", "B", "C", "Gone"]
    assert pools_to_replace(changes, running, builds_changed=["C"]) == {"A", "C", "Gone"}


def test_new_engine_endpoints_replace_every_functions_workers():
    changes = TemplateChanges(tables=Changed(added=("T",)))
    assert pools_to_replace(changes, ["A", "B"], endpoints_changed=True) == {"A", "B"}


def test_a_replaced_api_replaces_every_functions_workers():
    assert pools_to_replace(TemplateChanges(api_replaced=True), ["A", "B"]) == {"A", "B"}
