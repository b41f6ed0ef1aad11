"""The fan-out bench reads which growth rule started each worker from the stage's log:
the line the pool writes (tests/unit/wslocal/runtime/test_worker_pool_growth.py)."""

import importlib
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[3] / "bench"


@pytest.fixture
def worker_starts(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))  # the bench's scripts import their siblings
    fanout = importlib.import_module("bench.fanout")
    return fanout.WorkerStarts()


def test_the_pools_start_line_gives_the_function_the_pid_and_the_rule(worker_starts):
    worker_starts.read("[Fn] worker 2 started for a call: core-without-call\n")
    assert worker_starts.why(2) == "core-without-call"
    assert [start[1:] for start in worker_starts.between(0, float("inf"))] == [
        ("Fn", 2, "core-without-call")
    ]


def test_a_held_calls_start_keeps_how_long_it_was_held(worker_starts):
    worker_starts.read(
        "[SendMessageFunction] worker 14725 started for a call: hold-bound, held 0.21 s"
    )
    assert worker_starts.why(14725) == "hold-bound, held 0.21 s"


def test_other_lines_of_the_stage_are_not_starts(worker_starts):
    worker_starts.read("[Fn] START RequestId: 1 Version: $LATEST")
    assert worker_starts.between(0, float("inf")) == []
