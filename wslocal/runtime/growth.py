"""When a worker pool starts another execution environment: the decision, pure (the
pool's state and a clock reading in, ``Start`` or ``Wait`` out), and the timings it
reads.

Lambda starts an environment for every request that finds none free (``PerCall``). On
AWS that costs the caller a cold start and nobody else anything; locally every
environment is a process on the developer's few cores, and its start (a fork: about
0.2 s of CPU; the fork server first: about 0.8 s) costs more than dozens of short calls.
A burst of 50 handshakes grew ``$connect``'s pool to 8 environments for calls of 5 ms,
and a burst of 20 sends grew SendMessage's to 8: on two cores the extra ones added cold
starts, not throughput. ``WarmFirst`` (the stage's default) starts one while fewer are
busy or starting than the machine has cores (each runs a call at once beside the
others), and beyond that only when no warm environment will be free sooner: a call that
finds every environment busy waits up to one cold start's time for one, unless the
calls already waiting are more than the busy and starting environments can clear in
that time. When its wait runs out the pool asks again (``PoolState.held_s``): with a
core free, it starts its own unless calls returned meanwhile and the same rule holds it
again (the pool's first call, loading the SDK's models, can take 50 times a typical one:
the calls held behind it then find the warm environment clearing them fast).

Beyond the cores, a call also waits while the machine has more tasks ready to run than
cores (``PoolState.runnable``), whether or not calls returned: then no core is free, and
a new environment's start (0.1-0.2 s of CPU for a fork) would be taken from the calls
it waits for. In a CPU-bound burst of 20 sends to 499, calls slowed by the burst take
longer than a cold start timed on a quieter machine; starting after one or two waits
forked 4-6 workers late in the burst, a tenth of its CPU. No call is held longer in all
than four cold starts or twice the time the environments at work take to clear the
calls that were ahead of it and itself at the typical call's pace (at most 3 s),
whichever is longer (``hold_bound``; 18 sends queued on two workers took 1.1-1.6 s, four
starts 1.05 s). A handler that blocks until another call runs gets that call its own
environment: nothing returns while it blocks, and either its core is free (one wait) or
every call at work has run three typical calls and two cold starts long (``stalled``),
which a burst's calls, slowed alike, do not.
"""

from __future__ import annotations

import math
import os
import statistics
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol

RECENT_CALLS = 9
"""How many of a pool's latest calls say how long a call typically takes."""
LOADAVG = Path("/proc/loadavg")
"""Its fourth field is ``running/total``: the tasks runnable now, over all tasks."""
HELD_COLD_STARTS = 4
"""A held call waits at most this many cold starts in all (``hold_bound``)..."""
HELD_CLEARS = 2
"""... or this many times the calls ahead of it take at their typical pace, if longer,"""
HELD_LONGEST_S = 3.0
"""... but that at most: a fork costs about 0.1-0.2 s of CPU, and a function whose calls
take seconds must not be held for minutes (the stage's integrations time out at 29 s)."""
STALLED_CALLS = 3
"""Calls at work this many typical calls long (and ``STALLED_COLD_STARTS`` starts), with
none returned, look blocked (waiting for another call, which would need a worker of its
own), not slowed by busy cores..."""
STALLED_COLD_STARTS = 2
"""... for the typical call lags a burst: it is the latest calls', timed before it."""
ROUNDING = 1e-9
"""So that calls that fit the horizon exactly are counted despite float division."""
TIMER_SLACK_S = 0.002
"""A loop may run a timer early (uvloop by up to 1 ms): a call held for waits that add up
to ``stalled``'s span, asking as its last wait runs out, finds it that much short."""


@dataclass(frozen=True)
class PoolState:
    """What a pool knows when a call finds no environment free."""

    now: float
    busy_since: Sequence[float]
    """When each call in flight began, and ``now`` for each free environment the calls
    waiting ahead of this one are about to take."""
    starting_since: Sequence[float]
    """When each environment being started (for a call, or ahead) began starting."""
    waiting: int
    """Calls already waiting for an environment, served before this one, less those the
    free environments are for."""
    cold_start_s: float | None
    """How long the pool's latest environment took to start; None before any has."""
    call_s: float | None
    """How long the pool's calls typically take; None before any has returned."""
    runnable: int | None = None
    """The machine's tasks ready to run now, the asker among them (``runnable_tasks``);
    None where it is not known."""
    held_s: float | None = None
    """How long this call has been held so far; None when it has just arrived."""
    returned_while_held: bool = False
    """Whether any of the pool's calls returned during this call's latest wait."""
    ahead_when_held: int | None = None
    """The calls waiting ahead of this one when it was first held; None when it has just
    arrived (then ``waiting``)."""


class StartReason(StrEnum):
    """Which rule started an environment: the pool logs it beside the worker's pid, so a
    start late in a burst can be traced to its rule (``bench/fanout.py --core-idle``)."""

    PER_CALL = "per-call"
    """Lambda's policy: every call that finds none free."""
    UNTIMED = "untimed"
    """No start timed yet: nothing to weigh a wait against."""
    CORE_WITHOUT_CALL = "core-without-call"
    """Fewer environments at work than cores."""
    HOLD_BOUND = "hold-bound"
    """Held to ``hold_bound``."""
    STALLED = "stalled"
    """Held, none returned, and every call at work ``stalled``."""
    CORE_FREE_NONE_RETURNED = "core-free-none-returned"
    """Held, none returned, and a core free."""
    QUEUE = "queue"
    """More calls waiting than the environments at work clear within a start."""


@dataclass(frozen=True)
class Start:
    """Start an environment for this call now, for ``reason``."""

    reason: StartReason


@dataclass(frozen=True)
class Wait:
    """Wait for an environment to free until ``until``; start one then if none has."""

    until: float


Decision = Start | Wait


class GrowthPolicy(Protocol):
    """Whether a call that finds every environment busy starts one (the pool's bound,
    ``--max-workers``, and reserved concurrency are the pool's to apply, not this)."""

    def decide(self, state: PoolState) -> Decision: ...


class PerCall:
    """Lambda's: every call that finds no environment free gets a new one."""

    def decide(self, state: PoolState) -> Decision:
        return Start(StartReason.PER_CALL)


class WarmFirst:
    """Up to ``cores`` environments at work, start one; beyond, only when no warm one will
    be free sooner (module docstring)."""

    def __init__(self, cores: int) -> None:
        self.cores = cores

    def decide(self, state: PoolState) -> Decision:
        at_work = len(state.busy_since) + len(state.starting_since)
        if state.cold_start_s is None:
            return Start(StartReason.UNTIMED)
        if at_work < self.cores:
            return Start(StartReason.CORE_WITHOUT_CALL)
        ahead = state.waiting if state.ahead_when_held is None else state.ahead_when_held
        bound_s = hold_bound(state.cold_start_s, state.call_s, ahead, at_work)
        left_s = bound_s - (state.held_s or 0.0)
        if left_s <= ROUNDING:
            return Start(StartReason.HOLD_BOUND)  # no call waits longer, however busy the cores
        horizon = state.now + min(state.cold_start_s, left_s)
        if state.held_s is not None and not state.returned_while_held and stalled(state):
            return Start(StartReason.STALLED)  # the calls at work may be waiting for this one
        if state.runnable is not None and state.runnable > self.cores:
            return Wait(horizon)  # no core free: a start would slow the calls it waits for
        if state.held_s is not None and not state.returned_while_held:
            return Start(StartReason.CORE_FREE_NONE_RETURNED)  # they may wait for this one
        if state.call_s is None:  # no call has returned yet: wait one start for the first
            return Wait(horizon)
        call_s = max(state.call_s, 1e-6)
        frees_at = [max(began + call_s, state.now) for began in state.busy_since]
        frees_at += [max(began + state.cold_start_s, state.now) for began in state.starting_since]
        clearable = sum(
            math.floor((horizon - free) / call_s + ROUNDING) + 1
            for free in frees_at
            if free <= horizon
        )
        return Wait(horizon) if state.waiting < clearable else Start(StartReason.QUEUE)


def hold_bound(cold_start_s: float, call_s: float | None, ahead: int, at_work: int) -> float:
    """The longest a call is held in all: a few cold starts, or twice the time the
    environments at work take to clear the calls that were ahead of it and this one at
    the typical call's pace if that is longer, up to ``HELD_LONGEST_S`` (a burst slows
    every call: 18 sends queued on two workers took 1.1-1.6 s, four starts of 0.26 s)."""
    clear_s = (call_s or 0.0) * (ahead + 1) / max(at_work, 1)
    return max(HELD_COLD_STARTS * cold_start_s, min(HELD_CLEARS * clear_s, HELD_LONGEST_S))


def stalled(state: PoolState) -> bool:
    """Whether every call at work has run three typical calls and two cold starts or
    longer: a burst slows calls by a factor the typical call soon follows, a handler
    blocked until another call runs does not return at all."""
    if state.call_s is None or state.cold_start_s is None or not state.busy_since:
        return False
    longest_s = max(STALLED_CALLS * state.call_s, STALLED_COLD_STARTS * state.cold_start_s)
    return all(state.now - began >= longest_s - TIMER_SLACK_S for began in state.busy_since)


POLICIES: Mapping[str, Callable[[int], GrowthPolicy]] = {
    "warm-first": WarmFirst,
    "lambda": lambda cores: PerCall(),
}
"""Each policy by its ``--pool-growth`` name, made for a machine of so many cores."""


def runnable_tasks(loadavg: Path = LOADAVG) -> int | None:
    """The tasks ready to run on the machine at this instant (the kernel's count, the
    reader among them), or None where ``/proc/loadavg`` is not there or this process may
    run on fewer cores than the machine has (``taskset``, a container's CPU set): the
    count is the whole machine's, and other programs' tasks would look like ours."""
    if available_cores() < (os.cpu_count() or 1):
        return None
    try:
        return int(loadavg.read_text().split()[3].split("/")[0])
    except (OSError, IndexError, ValueError):
        return None


def available_cores() -> int:
    """The cores this process may run on (a container's or ``taskset``'s share)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class Timings:
    """A pool's latest cold start and its typical call time, as ``PoolState`` reads them."""

    def __init__(self) -> None:
        self.cold_start_s: float | None = None
        self._recent_calls: deque[float] = deque(maxlen=RECENT_CALLS)
        self.returns = 0
        """Calls returned so far: a held call that sees this move knows the pool moves."""

    @property
    def call_s(self) -> float | None:
        """The median of the latest calls: one slow call (a first call's lazy loading
        of the SDK) is not taken as typical."""
        return statistics.median(self._recent_calls) if self._recent_calls else None

    def started(self, seconds: float) -> None:
        """An environment took ``seconds`` to start (the next start is most like the
        latest: a fork after the first own process, a fork server restarted...)."""
        self.cold_start_s = seconds

    def returned(self, seconds: float) -> None:
        """A call took ``seconds``, from its environment's hand-over to its answer."""
        self._recent_calls.append(seconds)
        self.returns += 1
