"""How a pool grows, on fake workers (no process) that take 0.1 s to start: a warm
environment that frees sooner serves the call, one that stays busy does not hold it
longer than a start while a core is free (nor longer than four while none is), a call
that waits for another call still gets its own environment, ``max_workers`` and
reserved concurrency still bound it all, and the workers freed go to the waiting calls in
the order they came, none left waiting while a worker is free for it or, in a full pool,
once there is room."""

import asyncio
import io
from dataclasses import replace
from typing import Any, NamedTuple

import pytest

from tests.support.paths import FIXTURES
from tests.support.processes import FakeProcess
from tests.support.virtual_time import VirtualClock
from wslocal.exceptions import PoolRetiredError, ThrottledError
from wslocal.runtime import growth, workers
from wslocal.runtime.settings import RuntimeSettings
from wslocal.runtime.workers import WorkerPool
from wslocal.template import FunctionModel

START_S = 0.1

FUNCTION = FunctionModel(
    logical_id="Fn",
    function_name="fn",
    code_dir=FIXTURES,
    handler="app.handler",
    runtime="python3.13",
    timeout=5.0,
    memory_size=128,
    environment={},
    layer_dirs=(),
)
WARM_FIRST = RuntimeSettings(
    region="eu-west-1", account_id="123456789012", endpoints={}, fork_workers=False
)
LAMBDA = replace(WARM_FIRST, pool_growth="lambda")


class FakeWorker:
    """Answers a call after ``event["seconds"]``; a call with ``"until"`` answers once a
    call with ``"signal"`` of the same name has run (``rendezvous``)."""

    def __init__(self, pid: int, rendezvous: dict[str, asyncio.Event]) -> None:
        self.process = FakeProcess(pid)
        self.init_ms = 0.0
        self.init_error = None
        self.idle_since = 0.0
        self.generation = 0
        self.modules: list[tuple[str, str]] = []
        self.served: list[str] = []
        """The request id of each call it ran, in order."""
        self._rendezvous = rendezvous

    async def invoke(self, request: dict[str, Any]) -> dict[str, Any]:
        event = request["event"]
        self.served.append(request["requestId"])
        if "signal" in event:
            self._rendezvous.setdefault(event["signal"], asyncio.Event()).set()
        if "until" in event:
            await self._rendezvous.setdefault(event["until"], asyncio.Event()).wait()
        await asyncio.sleep(event.get("seconds", 0))
        return {"ok": True, "result": self.process.pid}

    def kill(self) -> None:
        self.process.kill()

    async def stop(self) -> None:
        self.process.kill()


@pytest.fixture(autouse=True)
async def virtual_clock(monkeypatch) -> VirtualClock:
    """The pool's clock and the fake work's sleeps on one virtual clock: the rules see
    the sleeps' time alone, not the machine's (a CI runner once stalled a burst for half
    a second, and seven calls past their bound each started a worker)."""
    clock = VirtualClock(asyncio.get_running_loop())
    monkeypatch.setattr(workers, "time", clock.module)
    return clock


@pytest.fixture(autouse=True)
def one_core(monkeypatch) -> None:
    """The pools here run on one core, which they alone use (whatever else the machine
    running the tests does): beyond one call at work, the policy decides."""
    monkeypatch.setattr(growth, "available_cores", lambda: 1)
    monkeypatch.setattr(growth, "runnable_tasks", lambda: 1)


def fake_starts(
    monkeypatch, seconds: float, rendezvous: dict[str, asyncio.Event] | None = None
) -> list[int]:
    """The pid of every worker started; each start takes ``seconds``; the workers' calls
    meet in ``rendezvous``."""
    started: list[int] = []
    rendezvous = {} if rendezvous is None else rendezvous

    async def start(cls, function, settings, language, **options):
        await asyncio.sleep(seconds)
        started.append(len(started) + 1)
        return FakeWorker(started[-1], rendezvous)

    monkeypatch.setattr(workers.Worker, "start", classmethod(start))
    return started


@pytest.fixture
def starts(monkeypatch) -> list[int]:
    return fake_starts(monkeypatch, START_S)


async def warm_pool(settings: RuntimeSettings, max_workers: int = 8) -> WorkerPool:
    """A pool with one warm worker whose start and one call of 10 ms it has timed."""
    pool = WorkerPool(FUNCTION, replace(settings, max_workers=max_workers))
    await pool.prewarm()
    await pool.invoke({"seconds": 0.01}, "first")
    return pool


async def test_a_burst_of_short_calls_is_served_by_the_warm_worker(monkeypatch):
    # a start of 1 s, 25 times the burst's 40 ms: a loaded machine's late timers do not
    # make the warm worker look slower than a new one
    starts = fake_starts(monkeypatch, 1.0)
    pool = await warm_pool(WARM_FIRST)
    pids = await asyncio.gather(*(pool.invoke({"seconds": 0.005}, f"r{n}") for n in range(8)))
    assert set(pids) == {1} and starts == [1]
    await pool.close()


async def test_on_two_cores_a_second_call_at_once_gets_a_second_worker(starts, monkeypatch):
    monkeypatch.setattr(growth, "available_cores", lambda: 2)
    pool = await warm_pool(WARM_FIRST)
    pids = await asyncio.gather(*(pool.invoke({"seconds": 0.005}, f"r{n}") for n in range(8)))
    assert set(pids) == {1, 2}
    await pool.close()


async def test_a_worker_started_for_a_call_is_logged_with_its_rule_as_the_bench_reads_it(
    starts, monkeypatch
):
    monkeypatch.setattr(growth, "available_cores", lambda: 2)
    log = io.StringIO()
    pool = await warm_pool(replace(WARM_FIRST, log_stream=log))
    await asyncio.gather(*(pool.invoke({"seconds": 0.005}, f"r{n}") for n in range(8)))
    # bench/fanout.py's WorkerStarts reads this line (tests/unit/bench/test_worker_starts.py)
    started = [line for line in log.getvalue().splitlines() if "started for a call" in line]
    assert started == ["[Fn] worker 2 started for a call: core-without-call"]
    await pool.close()


async def test_under_lambdas_policy_the_same_burst_starts_a_worker_per_concurrent_call(starts):
    pool = await warm_pool(LAMBDA)
    pids = await asyncio.gather(*(pool.invoke({"seconds": 0.005}, f"r{n}") for n in range(8)))
    assert len(set(pids)) == 8
    await pool.close()


async def test_calls_beyond_what_the_warm_worker_clears_in_a_start_get_their_own(starts):
    pool = await warm_pool(WARM_FIRST, max_workers=16)
    # in 0.1 s the warm worker begins about 9 calls of 10 ms: the other 5 each start one
    pids = await asyncio.gather(*(pool.invoke({"seconds": 0.01}, f"r{n}") for n in range(14)))
    assert 1 < len(set(pids)) < 14
    await pool.close()


async def test_on_a_machine_with_no_core_free_the_same_calls_wait_for_the_warm_worker(
    starts, monkeypatch
):
    monkeypatch.setattr(growth, "runnable_tasks", lambda: 3)  # three tasks ready, one core
    pool = await warm_pool(WARM_FIRST, max_workers=16)
    # with a core free the 12th would start one (the warm worker begins 11 in a start);
    # held four starts at most (0.4 s), the 12 calls of 10 ms are cleared by the warm worker
    pids = await asyncio.gather(*(pool.invoke({"seconds": 0.01}, f"r{n}") for n in range(12)))
    assert set(pids) == {1} and starts == [1]
    await pool.close()


async def test_with_no_core_free_held_calls_keep_waiting_while_the_warm_worker_returns_calls(
    monkeypatch,
):
    starts = fake_starts(monkeypatch, 0.2)
    monkeypatch.setattr(growth, "runnable_tasks", lambda: 3)
    pool = await warm_pool(WARM_FIRST, max_workers=16)
    # 60 calls of 10 ms: the last is held 0.6 s, past two starts, within the bound of four
    pids = await asyncio.gather(*(pool.invoke({"seconds": 0.01}, f"r{n}") for n in range(60)))
    assert set(pids) == {1} and starts == [1]
    await pool.close()


async def test_with_no_core_free_a_call_behind_calls_slower_than_a_start_waits_for_them(
    starts, monkeypatch
):
    monkeypatch.setattr(growth, "runnable_tasks", lambda: 3)
    pool = await warm_pool(WARM_FIRST)
    # calls of 0.12 s, slowed by the busy cores: none returns within the first start's wait
    pids = await asyncio.gather(*(pool.invoke({"seconds": 0.12}, f"r{n}") for n in range(3)))
    assert set(pids) == {1} and starts == [1]
    await pool.close()


async def test_with_no_core_free_a_call_is_held_as_long_as_the_calls_ahead_of_it_take(
    starts, monkeypatch
):
    monkeypatch.setattr(growth, "runnable_tasks", lambda: 3)
    pool = WorkerPool(FUNCTION, WARM_FIRST)
    await pool.prewarm()
    await pool.invoke({"seconds": 0.05}, "first")  # calls of 50 ms, starts of 0.1 s
    # the last of 20 waits about 1 s, past four starts (0.4 s); it is held up to twice
    # what the 19 ahead of it and itself take when first held (2 s), not what is left
    # ahead of it as they are served (four starts, once three are left)
    pids = await asyncio.gather(*(pool.invoke({"seconds": 0.05}, f"r{n}") for n in range(20)))
    assert set(pids) == {1} and starts == [1]
    await pool.close()


async def test_held_calls_are_served_in_the_order_they_came(starts, monkeypatch):
    monkeypatch.setattr(growth, "runnable_tasks", lambda: 3)
    pool = await warm_pool(WARM_FIRST)
    # each held call's wait ends every start (0.1 s) and it waits again: a worker freed
    # goes to the first in line, not to whichever waited again last
    names = [f"r{n}" for n in range(12)]
    await asyncio.gather(*(pool.invoke({"seconds": 0.03}, name) for name in names))
    assert pool._idle[0].served == ["first", *names] and starts == [1]
    await pool.close()


class Queue(NamedTuple):
    """A pool whose one worker runs ``busy`` until ``go`` is set, and calls waiting."""

    pool: WorkerPool
    go: asyncio.Event
    busy: asyncio.Task
    waiting: list[asyncio.Task]


async def calls_behind_a_busy_one(monkeypatch, max_workers: int, *names: str) -> Queue:
    rendezvous: dict[str, asyncio.Event] = {"go": asyncio.Event()}
    fake_starts(monkeypatch, START_S, rendezvous)
    pool = await warm_pool(WARM_FIRST, max_workers=max_workers)
    busy = asyncio.create_task(pool.invoke({"until": "go"}, "busy"))
    waiting = [asyncio.create_task(pool.invoke({}, name)) for name in names]
    await asyncio.sleep(0.01)  # all in: one call at work, the others waiting
    return Queue(pool, rendezvous["go"], busy, waiting)


async def test_a_call_cancelled_as_its_turn_comes_passes_the_turn_to_the_next(monkeypatch):
    pool, go, busy, (first, second) = await calls_behind_a_busy_one(
        monkeypatch, 1, "first", "second"
    )
    go.set()
    while not pool._idle:
        await asyncio.sleep(0)
    first.cancel()  # woken for the worker just freed, it has not taken it
    async with asyncio.timeout(1):
        assert await second == 1 and await busy == 1
    assert first.cancelled()
    await pool.close()


async def test_a_call_arriving_as_a_worker_frees_does_not_pass_the_call_woken_for_it(
    monkeypatch,
):
    pool, go, busy, (waiting,) = await calls_behind_a_busy_one(monkeypatch, 1, "waiting")
    go.set()
    await asyncio.sleep(0)  # the call at work is in its last step
    late = asyncio.create_task(pool.invoke({}, "late"))  # runs as the worker is freed
    await asyncio.gather(busy, waiting, late)
    assert pool._idle[0].served == ["first", "busy", "waiting", "late"]
    await pool.close()


class Recorded:
    """The policy's decisions, with the state each was asked on."""

    def __init__(self, policy: growth.GrowthPolicy) -> None:
        self.policy = policy
        self.states: list[growth.PoolState] = []

    def decide(self, state: growth.PoolState) -> growth.Decision:
        self.states.append(state)
        return self.policy.decide(state)


async def test_a_call_arriving_as_a_worker_frees_sees_it_busy_with_the_call_it_is_for(
    monkeypatch,
):
    # room for two, one core: the waiting call is held
    pool, go, busy, (waiting,) = await calls_behind_a_busy_one(monkeypatch, 2, "waiting")
    pool._growth = recorded = Recorded(pool._growth)
    go.set()
    await asyncio.sleep(0)
    late = asyncio.create_task(pool.invoke({}, "late"))  # asks as the worker is freed
    await asyncio.gather(busy, waiting, late)
    # the freed worker is the held call's: busy from now, and that call not ahead
    seen = recorded.states[0]
    assert (len(seen.busy_since), seen.waiting) == (1, 0)
    assert seen.busy_since[0] == seen.now
    await pool.close()


async def test_a_call_woken_for_room_to_start_and_cancelled_leaves_it_to_the_next(monkeypatch):
    pool, _, busy, (first, second) = await calls_behind_a_busy_one(
        monkeypatch, 1, "first", "second"
    )
    busy.cancel()  # its worker is stopped: room for one start, and a call is woken
    while pool.size:
        await asyncio.sleep(0)
    first.cancel()  # woken, it leaves before it starts one
    async with asyncio.timeout(5):
        assert await second == 2
    await pool.close()


class FullPool(NamedTuple):
    """A pool of two workers, each running a call until ``go`` is set, and two calls
    waiting, the first until the second has run."""

    pool: WorkerPool
    go: asyncio.Event
    busy: list[asyncio.Task]
    first: asyncio.Task
    second: asyncio.Task


async def two_calls_behind_a_full_pool_of_two(monkeypatch) -> FullPool:
    monkeypatch.setattr(growth, "available_cores", lambda: 2)
    rendezvous: dict[str, asyncio.Event] = {"go": asyncio.Event()}
    fake_starts(monkeypatch, START_S, rendezvous)
    pool = await warm_pool(WARM_FIRST, max_workers=2)
    busy = [asyncio.create_task(pool.invoke({"until": "go"}, f"busy{n}")) for n in (1, 2)]
    await asyncio.sleep(0.5)
    assert pool.size == 2 and pool.busy == 2
    first = asyncio.create_task(pool.invoke({"until": "second ran"}, "first"))
    second = asyncio.create_task(pool.invoke({"signal": "second ran"}, "second"))
    await asyncio.sleep(0.01)  # both waiting, the pool full
    return FullPool(pool, rendezvous["go"], busy, first, second)


async def test_two_workers_stopped_at_once_leave_room_for_two_waiting_calls(monkeypatch):
    pool, _, busy, first, second = await two_calls_behind_a_full_pool_of_two(monkeypatch)
    for task in busy:
        task.cancel()  # both workers stopped in one pass: room for two
    async with asyncio.timeout(5):
        assert len(set(await asyncio.gather(first, second))) == 2
    await pool.close()


async def test_calls_held_behind_a_slow_first_call_wait_again_while_the_worker_clears_them(
    monkeypatch,
):
    starts = fake_starts(monkeypatch, 1.0)
    pool = WorkerPool(FUNCTION, WARM_FIRST)
    await pool.prewarm()
    first = pool.invoke({"seconds": 0.8}, "first")  # the SDK's lazy loading, say
    rest = [pool.invoke({"seconds": 0.02}, f"r{n}") for n in range(12)]
    pids = await asyncio.gather(first, *rest)
    # when their wait (a start, 1 s) ends, about 10 are served and 2 are left, which the
    # warm worker clears in 40 ms: they look again and wait, none starts a worker (calls
    # slowed fourfold by a loaded machine still leave fewer than it clears in a start)
    assert set(pids) == {1} and starts == [1]
    await pool.close()


async def test_a_call_waits_no_longer_than_a_start_for_a_worker_that_stays_busy(starts):
    pool = await warm_pool(WARM_FIRST)
    long = asyncio.create_task(pool.invoke({"seconds": 1.0}, "long"))
    await asyncio.sleep(0.01)
    pid = await pool.invoke({}, "short")
    assert pid == 2 and not long.done()  # held one start (0.1 s), then started its own
    await long
    await pool.close()


async def test_a_handler_that_waits_for_a_second_call_gets_it_without_deadlock(starts):
    pool = await warm_pool(WARM_FIRST)
    waiting = pool.invoke({"until": "second ran"}, "first")
    second = pool.invoke({"signal": "second ran"}, "second")
    async with asyncio.timeout(2):
        assert sorted(await asyncio.gather(waiting, second)) == [1, 2]
    await pool.close()


async def second_call_held_behind_a_blocked_one(pool: WorkerPool) -> float:
    """How long a call was held before its own worker started, while the pool's one
    worker runs a call that waits for it."""
    began = asyncio.get_running_loop().time()
    waiting = pool.invoke({"until": "second ran"}, "first")
    second = pool.invoke({"signal": "second ran"}, "second")
    async with asyncio.timeout(2):
        assert sorted(await asyncio.gather(waiting, second)) == [1, 2]
    held = asyncio.get_running_loop().time() - began - START_S  # less the second's start
    await pool.close()
    return held


async def test_a_handler_that_waits_for_a_second_call_gets_it_after_one_wait_on_busy_cores(
    starts, monkeypatch
):
    monkeypatch.setattr(growth, "runnable_tasks", lambda: 3)  # other programs fill the core
    held = await second_call_held_behind_a_blocked_one(await warm_pool(WARM_FIRST))
    # the first call, two starts long with none returned, looks blocked: two waits at most
    assert START_S * 0.9 <= held < 2.5 * START_S


async def test_a_handler_that_waits_for_a_second_call_as_the_pools_first_gets_it_at_the_bound(
    starts, monkeypatch
):
    monkeypatch.setattr(growth, "runnable_tasks", lambda: 3)  # other programs fill the core
    pool = WorkerPool(FUNCTION, replace(WARM_FIRST, max_workers=8))
    await pool.prewarm()  # started and timed, but no call has returned: no typical call
    held = await second_call_held_behind_a_blocked_one(pool)
    assert held >= 4 * START_S * 0.9  # held four starts, then given its own worker


async def test_max_workers_still_bounds_the_pool(starts):
    pool = await warm_pool(WARM_FIRST, max_workers=2)
    await asyncio.gather(*(pool.invoke({"seconds": 0.2}, f"r{n}") for n in range(4)))
    assert pool.size == 2 and starts == [1, 2]
    await pool.close()


class ForkingLanguage:
    """Python, as far as replacing an idle worker asks: it has a fork server."""

    def fork_server(self, function: FunctionModel, settings: RuntimeSettings) -> object:
        return object()


class RunningServers:
    """Fork servers with one running for every function, none knowing what to preload."""

    def running_for(self, launch: object) -> bool:
        return True

    def knows(self, launch: object) -> bool:
        return False

    async def close(self) -> None:
        pass


async def test_a_fork_replacing_the_idle_worker_counts_a_start_made_meanwhile(starts):
    pool = await warm_pool(replace(WARM_FIRST, fork_workers=True), max_workers=2)
    pool.language = ForkingLanguage()  # type: ignore[assignment]
    pool._fork_servers = RunningServers()  # type: ignore[assignment]
    async with pool._lock:
        replacing = asyncio.create_task(pool._replace_with_a_fork(pool._idle[0]))
        await asyncio.sleep(0)  # it has seen one worker of two and waits for the pool
        pool._size += 1  # a call's worker starts meanwhile: the pool is full
    await replacing
    assert pool.size == 2 and starts == [1]
    await pool.close()


async def test_calls_held_for_a_warm_worker_count_towards_reserved_concurrency(starts):
    pool = WorkerPool(replace(FUNCTION, reserved_concurrency=2), WARM_FIRST)
    await pool.prewarm()
    await pool.invoke({"seconds": 0.01}, "first")
    calls = [pool.invoke({"seconds": 0.05}, f"r{n}") for n in range(3)]
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert [type(result) for result in results].count(ThrottledError) == 1
    await pool.close()


async def test_two_workers_freed_in_one_pass_go_to_the_first_two_in_line(monkeypatch):
    pool, go, busy, first, second = await two_calls_behind_a_full_pool_of_two(monkeypatch)
    go.set()  # both workers freed in one pass: one for each
    async with asyncio.timeout(5):
        assert len(set(await asyncio.gather(first, second, *busy))) == 2
    await pool.close()


async def test_a_start_that_fails_leaves_its_room_to_a_call_waiting_in_a_full_pool(monkeypatch):
    started: list[int] = []

    async def start(cls, function, settings, language, **options):
        await asyncio.sleep(START_S)
        started.append(len(started) + 1)
        if len(started) == 1:
            raise RuntimeError("the first start fails")
        return FakeWorker(started[-1], {})

    monkeypatch.setattr(workers.Worker, "start", classmethod(start))
    pool = WorkerPool(FUNCTION, replace(WARM_FIRST, max_workers=1))
    failing = asyncio.create_task(pool.invoke({}, "failing"))
    await asyncio.sleep(0.01)  # its worker starting: the pool full
    waiting = asyncio.create_task(pool.invoke({}, "waiting"))
    with pytest.raises(RuntimeError):
        await failing
    async with asyncio.timeout(5):
        assert await waiting == 2
    await pool.close()


async def test_a_call_waiting_in_a_full_pool_is_told_when_the_pool_is_retired(monkeypatch):
    pool, go, busy, (waiting,) = await calls_behind_a_busy_one(monkeypatch, 1, "waiting")
    retiring = asyncio.create_task(pool.retire())
    async with asyncio.timeout(1):
        with pytest.raises(PoolRetiredError):
            await waiting
    go.set()
    await busy
    await retiring


async def test_calls_arriving_as_a_worker_frees_for_a_held_call_count_towards_reserved_concurrency(
    monkeypatch,
):
    rendezvous: dict[str, asyncio.Event] = {"go": asyncio.Event()}
    fake_starts(monkeypatch, START_S, rendezvous)
    pool = await warm_pool(replace(WARM_FIRST, max_workers=8))
    pool.function = replace(FUNCTION, reserved_concurrency=2)
    busy = asyncio.create_task(pool.invoke({"until": "go"}, "busy"))
    await asyncio.sleep(0)
    held = asyncio.create_task(pool.invoke({"seconds": 1.0}, "held"))
    await asyncio.sleep(0.01)  # one at work, one held: 2 in use of 2
    rendezvous["go"].set()
    await asyncio.sleep(0)
    # the freed worker is the held call's: of three calls arriving now, one more fits
    late = [asyncio.create_task(pool.invoke({"seconds": 1.0}, f"late{n}")) for n in range(3)]
    results = await asyncio.gather(busy, held, *late, return_exceptions=True)
    assert [type(result) for result in results[2:]].count(ThrottledError) == 2
    assert pool.size <= 2
    await pool.close()
