"""The burst's idle-core report (bench/core_idle.py): shares of core time between two
/proc/stat samples, and slices that carry the deliveries read inside them."""

import importlib
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[3] / "bench"


@pytest.fixture
def core_idle(monkeypatch):
    """The module as bench/fanout.py imports it, its siblings on the path."""
    monkeypatch.syspath_prepend(str(BENCH))
    return importlib.import_module("core_idle")


def ticks(user=0, idle=0, iowait=0, softirq=0, steal=0):
    return (user, 0, 0, idle, iowait, 0, softirq, steal)


def test_idle_and_iowait_count_as_idle_and_steal_apart(core_idle):
    idle, steal, softirq = core_idle.share(ticks(), ticks(user=6, idle=1, iowait=1, steal=2))
    assert (idle, steal, softirq) == (0.2, 0.2, 0.0)


def test_each_delivery_lands_in_the_slice_of_its_stamp(core_idle):
    samples = [(t / 100, ticks(user=t, idle=t)) for t in range(0, 21)]  # 0.2 s, half idle
    cut = core_idle.slices(samples, [0.05, 0.15, 0.16, 0.2], 0.1)
    assert [s.deliveries for s in cut] == [1, 3]  # the last slice keeps what lands at its end
    assert all(s.idle == 0.5 for s in cut)
