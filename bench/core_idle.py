"""How busy the cores are during a burst, slice by slice (issue 24): ``bench/fanout.py
--core-idle``.

A thread reads /proc/stat's first line every ``period_s`` from just before the burst's
first send to its last delivery; the report splits the burst into slices and gives, for
each, the share of all cores idle (idle + iowait), the share stolen by the host, and the
deliveries that landed in it. An idle share while deliveries are still due is a wait (a
long poll, a pool holding calls, a serialised delete); busy cores all through mean the
burst is CPU-bound. /proc/stat counts in clock ticks (10 ms a core), so a slice is several
samples.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from profiles import cpu_seconds, process_tree

FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


def cpu_ticks() -> tuple[int, ...]:
    """All cores' clock ticks so far by /proc/stat's first eight fields (guest time is
    already in user's)."""
    line = Path("/proc/stat").read_text().split("\n", 1)[0]
    return tuple(int(value) for value in line.split()[1 : 1 + len(FIELDS)])


def started_s(pid: int) -> float:
    """When a process started, in seconds since boot (/proc/PID/stat's 22nd field)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[19]) / os.sysconf("SC_CLK_TCK")


def uptime_s() -> float:
    """Seconds since boot, on the clock process start times use."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def tree_cpu_s(pids: list[int]) -> float:
    """CPU seconds used so far by these processes (those alive)."""
    total = 0.0
    for pid in pids:
        try:
            total += cpu_seconds(pid)
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


@dataclass
class Slice:
    """One stretch of the burst: its share of all core time by kind, and its deliveries."""

    start_s: float
    end_s: float
    idle: float
    steal: float
    softirq: float
    deliveries: int


@dataclass
class CoreSampler:
    """Samples /proc/stat in a thread of its own (the bench's loop is busy reading frames
    during a burst, so an asyncio task would sample late)."""

    period_s: float = 0.01
    samples: list[tuple[float, tuple[int, ...]]] = field(default_factory=list)
    stage_and_bench_s: float = 0.0
    """CPU of the stage's tree and the bench itself during the sampled stretch."""
    started: list[tuple[str, float, float, int]] = field(default_factory=list)
    """Processes the stage started during the burst: (kind, ms after the burst's start,
    CPU seconds so far, pid)."""
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _stage_and_bench: list[int] = field(default_factory=list)
    _began_uptime_s: float = 0.0

    def start(self, stage_pid: int) -> None:
        self._began_uptime_s = uptime_s()
        self._stage_and_bench = [os.getpid(), *process_tree(stage_pid)]
        self.stage_and_bench_s = -tree_cpu_s(self._stage_and_bench)
        self.samples.append((time.perf_counter(), cpu_ticks()))
        self._thread = threading.Thread(target=self._sample, name="core-idle", daemon=True)
        self._thread.start()

    def stop(self, stage_pid: int, kind: Callable[[int], str]) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.samples.append((time.perf_counter(), cpu_ticks()))
        # workers started during the burst count from their start (their CPU before it is 0)
        started = [pid for pid in process_tree(stage_pid) if pid not in self._stage_and_bench]
        self.stage_and_bench_s += tree_cpu_s(self._stage_and_bench) + tree_cpu_s(started)
        for pid in started:
            try:
                after_ms = (started_s(pid) - self._began_uptime_s) * 1000
                self.started.append((kind(pid), after_ms, cpu_seconds(pid), pid))
            except (FileNotFoundError, ProcessLookupError):
                continue

    def _sample(self) -> None:
        while not self._stop.wait(self.period_s):
            self.samples.append((time.perf_counter(), cpu_ticks()))


def share(before: tuple[int, ...], after: tuple[int, ...]) -> tuple[float, float, float]:
    """(idle + iowait, steal, softirq) as shares of all core time between two samples."""
    delta = [b - a for a, b in zip(before, after, strict=True)]
    total = sum(delta)
    if not total:
        return 0.0, 0.0, 0.0
    return (delta[3] + delta[4]) / total, delta[7] / total, delta[6] / total


def slices(
    samples: list[tuple[float, tuple[int, ...]]], arrivals: list[float], slice_s: float
) -> list[Slice]:
    """The sampled stretch cut into slices of about ``slice_s`` (on sample boundaries), each
    with its shares and the arrivals (perf_counter stamps) inside it."""
    cut: list[Slice] = []
    origin = samples[0][0]
    first = 0
    for index in range(1, len(samples)):
        last = index == len(samples) - 1
        if samples[index][0] - samples[first][0] < slice_s and not last:
            continue
        (began, before), (ended, after) = samples[first], samples[index]
        idle, steal, softirq = share(before, after)
        landed = sum(1 for stamp in arrivals if began <= stamp < ended or (last and stamp >= ended))
        cut.append(Slice(began - origin, ended - origin, idle, steal, softirq, landed))
        first = index
    return cut


def report(
    sampler: CoreSampler,
    arrivals: list[float],
    why_started: Callable[[int], str | None] = lambda pid: None,
    slice_s: float = 0.1,
) -> list[str]:
    """Lines for the whole burst, its phase before the first delivery and after it, each
    process started in it (with the reason its pool logged, from ``why_started``), and
    each slice."""
    samples = sampler.samples
    if len(samples) < 2 or not arrivals:
        return ["core idle: too few samples"]
    began, ended = samples[0][0], samples[-1][0]
    first_arrival = min(arrivals)
    before_first = [s for s in samples if s[0] <= first_arrival] or samples[:1]
    after_first = before_first[-1:] + [s for s in samples if s[0] > first_arrival]
    cores = os.cpu_count() or 1
    idle, steal, softirq = share(samples[0][1], samples[-1][1])
    ticks = sum(samples[-1][1]) - sum(samples[0][1])
    busy_s = ticks / os.sysconf("SC_CLK_TCK") * (1 - idle - steal)
    tree_s = sampler.stage_and_bench_s
    lines = [
        f"core idle during the burst ({cores} cores, /proc/stat every "
        f"{sampler.period_s * 1000:.0f} ms, {len(samples)} samples over {ended - began:.2f} s):",
        f"  whole burst: idle {idle:.1%}, steal {steal:.1%}, softirq {softirq:.1%}; "
        f"busy {busy_s:.2f} core-s, of it the stage's tree and the bench "
        f"{tree_s:.2f} ({tree_s / busy_s if busy_s else 0:.0%})",
    ]
    for name, part in (("before the first delivery", before_first), ("after it", after_first)):
        if len(part) >= 2:
            idle, steal, _ = share(part[0][1], part[-1][1])
            lines.append(
                f"  {name} ({part[-1][0] - part[0][0]:.3f} s): idle {idle:.1%}, steal {steal:.1%}"
            )
    for name, after_ms, cpu_s, pid in sorted(sampler.started, key=lambda started: started[1]):
        why = why_started(pid)
        lines.append(
            f"  started in the burst: {name} at {after_ms:.0f} ms, {cpu_s * 1000:.0f} ms of CPU "
            f"so far{f' (pid {pid}: {why})' if why else ''}"
        )
    lines.append(f"  by {slice_s * 1000:.0f} ms slice: start-end ms, idle %, steal %, deliveries")
    lines.extend(
        f"    {cut.start_s * 1000:5.0f}-{cut.end_s * 1000:5.0f}  idle {cut.idle:4.0%}  "
        f"steal {cut.steal:4.0%}  {cut.deliveries:5d}"
        for cut in slices(samples, arrivals, slice_s)
    )
    return lines
