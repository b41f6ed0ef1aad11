"""When a busy pool starts another environment: Lambda's policy (always) and the stage's
default (only when no warm one frees sooner), decided from the pool's state alone."""

from dataclasses import replace

import pytest

from wslocal.runtime.growth import (
    PerCall,
    PoolState,
    Start,
    StartReason,
    Timings,
    Wait,
    WarmFirst,
    runnable_tasks,
)

ONE_CORE = WarmFirst(cores=1)


def state(**changes) -> PoolState:
    """A pool at t=100 s whose environments start in 0.2 s and whose calls take 10 ms,
    one call in flight since just now, no call waiting."""
    values = {
        "now": 100.0,
        "busy_since": [100.0],
        "starting_since": [],
        "waiting": 0,
        "cold_start_s": 0.2,
        "call_s": 0.01,
    }
    values.update(changes)
    return PoolState(**values)


def test_lambdas_policy_starts_an_environment_for_every_call_that_finds_none_free():
    assert PerCall().decide(state(busy_since=[99.9] * 8, waiting=100)) == Start(
        StartReason.PER_CALL
    )


def test_a_call_waits_for_a_busy_environment_that_frees_before_a_new_one_could_start():
    assert ONE_CORE.decide(state()) == Wait(until=100.2)


def test_a_call_starts_one_when_nothing_is_busy_or_starting():
    assert ONE_CORE.decide(state(busy_since=[])) == Start(StartReason.CORE_WITHOUT_CALL)


def test_a_call_starts_one_while_fewer_are_at_work_than_the_machine_has_cores():
    two_cores = WarmFirst(cores=2)
    assert two_cores.decide(state()) == Start(StartReason.CORE_WITHOUT_CALL)
    assert two_cores.decide(state(starting_since=[100.0])) == Wait(until=100.2)


def test_a_call_starts_one_before_any_start_has_been_timed():
    assert ONE_CORE.decide(state(cold_start_s=None)) == Start(StartReason.UNTIMED)


def test_before_any_call_returns_a_call_waits_one_cold_start_for_the_first():
    assert ONE_CORE.decide(state(call_s=None, waiting=50)) == Wait(until=100.2)


def test_a_call_starts_one_when_those_waiting_already_fill_the_busy_ones_until_a_start():
    # by 100.2 s the busy one begins 20 more calls: as it frees at 100.01, then every 10 ms
    assert ONE_CORE.decide(state(waiting=19)) == Wait(until=100.2)
    assert ONE_CORE.decide(state(waiting=20)) == Start(StartReason.QUEUE)


def test_calls_that_last_longer_than_a_cold_start_get_an_environment_each():
    assert ONE_CORE.decide(state(call_s=0.5)) == Start(StartReason.QUEUE)


def test_a_call_past_its_typical_time_counts_as_freeing_now():
    # the wait is bounded by the start it saves: a call that never ends costs one cold start
    assert ONE_CORE.decide(state(busy_since=[90.0], call_s=0.5)) == Wait(until=100.2)


def test_environments_being_started_count_from_when_they_will_be_ready():
    ready_soon = state(busy_since=[], starting_since=[99.9])  # ready at 100.1: clears 11
    assert ONE_CORE.decide(ready_soon) == Wait(until=100.2)
    assert ONE_CORE.decide(state(busy_since=[], starting_since=[99.9], waiting=11)) == Start(
        StartReason.QUEUE
    )


def test_a_call_waits_while_the_machine_has_more_tasks_ready_than_cores():
    # calls of 0.5 s would each get an environment; with no core free, a start only slows them
    assert ONE_CORE.decide(state(call_s=0.5, runnable=2)) == Wait(until=100.2)


def test_a_core_free_lets_the_queue_rule_decide():
    assert ONE_CORE.decide(state(call_s=0.5, runnable=1)) == Start(StartReason.QUEUE)
    assert ONE_CORE.decide(state(runnable=1)) == Wait(until=100.2)


def test_with_no_core_free_a_held_call_waits_again_while_calls_return():
    held = state(waiting=50, runnable=3, held_s=0.4, returned_while_held=True)
    assert ONE_CORE.decide(held) == Wait(until=100.2)


def test_with_no_core_free_a_held_call_waits_again_though_no_call_returned():
    # the calls ahead are slowed by the busy cores, not blocked: a blocked one frees its core
    held = state(runnable=3, held_s=0.2, returned_while_held=False)
    assert ONE_CORE.decide(held) == Wait(until=100.2)


def test_with_a_core_free_a_held_call_that_saw_no_call_return_starts_one():
    held = state(runnable=1, held_s=0.2, returned_while_held=False)
    assert ONE_CORE.decide(held) == Start(StartReason.CORE_FREE_NONE_RETURNED)


def test_with_a_core_free_a_held_call_that_saw_calls_return_is_held_by_the_queue_rule():
    held = state(runnable=1, held_s=0.2, returned_while_held=True)
    assert ONE_CORE.decide(held) == Wait(until=100.2)
    assert ONE_CORE.decide(replace(held, waiting=20)) == Start(StartReason.QUEUE)


def test_a_held_calls_last_wait_ends_at_the_bound_of_four_cold_starts():
    held = state(runnable=3, held_s=0.7, returned_while_held=True)
    assert ONE_CORE.decide(held) == Wait(until=pytest.approx(100.1))


def test_a_call_held_for_four_cold_starts_starts_one_however_busy_the_machine():
    held = state(runnable=8, held_s=0.8, returned_while_held=True)
    assert ONE_CORE.decide(held) == Start(StartReason.HOLD_BOUND)


def test_a_pool_of_slow_calls_holds_a_call_for_twice_a_typical_call():
    held = state(call_s=0.5, runnable=3, held_s=0.9, returned_while_held=True)
    assert ONE_CORE.decide(held) == Wait(until=pytest.approx(100.1))
    assert ONE_CORE.decide(replace(held, held_s=1.0)) == Start(StartReason.HOLD_BOUND)


def test_a_call_behind_others_is_held_up_to_twice_the_time_they_take_at_the_typical_pace():
    # 9 ahead and itself, 0.1 s each on the one environment at work: 1 s, held 2 s at most
    held = state(call_s=0.1, waiting=9, runnable=3, held_s=1.9, returned_while_held=True)
    held = replace(held, ahead_when_held=9)
    assert ONE_CORE.decide(held) == Wait(until=pytest.approx(100.1))
    assert ONE_CORE.decide(replace(held, held_s=2.0)) == Start(StartReason.HOLD_BOUND)


def test_the_bound_counts_the_calls_that_were_ahead_when_the_call_was_first_held():
    held = state(call_s=0.1, runnable=3, held_s=1.5, returned_while_held=True, ahead_when_held=9)
    assert ONE_CORE.decide(held) == Wait(until=100.2)


def test_a_call_behind_many_slow_calls_is_held_three_seconds_at_most():
    # 99 ahead and itself at 0.5 s each would be 100 s: a fork is cheaper than that wait
    held = state(call_s=0.5, runnable=3, held_s=2.95, returned_while_held=True)
    held = replace(held, ahead_when_held=99, busy_since=[99.9])
    assert ONE_CORE.decide(held) == Wait(until=pytest.approx(100.05))
    assert ONE_CORE.decide(replace(held, held_s=3.0)) == Start(StartReason.HOLD_BOUND)


def test_with_no_core_free_a_held_call_behind_calls_stalled_with_none_returned_starts_one():
    # the call at work has run two cold starts (0.4 s, 40 typical calls), none returned
    held = state(busy_since=[99.6], runnable=3, held_s=0.2, returned_while_held=False)
    assert ONE_CORE.decide(held) == Start(StartReason.STALLED)


def test_with_no_core_free_calls_slowed_to_less_than_two_cold_starts_are_waited_for():
    # 0.3 s is 30 typical calls, but a burst slows calls more than the typical one knows
    held = state(busy_since=[99.7], runnable=3, held_s=0.2, returned_while_held=False)
    assert ONE_CORE.decide(held) == Wait(until=100.2)


def test_a_busy_machine_still_starts_one_while_fewer_are_at_work_than_cores():
    assert WarmFirst(cores=2).decide(state(runnable=8)) == Start(StartReason.CORE_WITHOUT_CALL)


def test_lambdas_policy_starts_one_however_busy_the_machine():
    assert PerCall().decide(state(runnable=8)) == Start(StartReason.PER_CALL)


def test_the_tasks_ready_to_run_are_read_from_the_kernels_loadavg(tmp_path):
    loadavg = tmp_path / "loadavg"
    loadavg.write_text("0.45 0.87 0.93 3/90 19119\n")
    assert runnable_tasks(loadavg) == 3


def test_on_fewer_cores_than_the_machine_has_the_machines_count_is_not_used(tmp_path, monkeypatch):
    from wslocal.runtime import growth

    loadavg = tmp_path / "loadavg"
    loadavg.write_text("0.45 0.87 0.93 3/90 19119\n")
    monkeypatch.setattr(growth.os, "cpu_count", lambda: 64)
    monkeypatch.setattr(growth, "available_cores", lambda: 2)
    assert runnable_tasks(loadavg) is None


def test_no_loadavg_means_the_tasks_ready_are_not_known(tmp_path):
    assert runnable_tasks(tmp_path / "absent") is None
    (tmp_path / "odd").write_text("0.45\n")
    assert runnable_tasks(tmp_path / "odd") is None


def test_the_latest_cold_start_is_the_one_expected_next():
    timings = Timings()
    timings.started(0.9)  # the first environment, a process of its own
    timings.started(0.2)  # a fork
    assert timings.cold_start_s == 0.2


def test_the_typical_call_is_the_median_of_the_latest_so_a_slow_first_one_does_not_count():
    timings = Timings()
    for seconds in (0.3, 0.01, 0.012):
        timings.returned(seconds)
    assert timings.call_s == 0.012 and timings.returns == 3


def test_only_the_latest_calls_make_the_typical_one():
    timings = Timings()
    for _ in range(20):
        timings.returned(0.5)
    for _ in range(5):
        timings.returned(0.01)
    assert timings.call_s == 0.01
