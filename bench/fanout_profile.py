"""``bench/fanout.py --profile DIR`` (issue 24): where the CPU of a delivery goes, in each
process of the stage.

Processes are grouped by what they run: the stage (``wslocal start``), the workers of each
function (named by ``AWS_LAMBDA_FUNCTION_NAME`` in their environment; a forked worker has its
fork server's), the fork servers, DynamoDB Local's JVM, moto's server (or fauxqs, started
beside the stage by ``bench/fanout.py --fauxqs``). Their CPU time
(user + system, all threads, from /proc, polled so that a worker that ends still counts) over
the measured messages, divided by the deliveries, is each group's µs per delivery. The idle
background (pollers, timers) is measured first, for a few seconds with nothing sent, and
given beside it.

With ``DIR``, samplers run during the measured messages: py-spy on each Python process as
it appears (``--gil``: a sample only while a thread holds the GIL, so never a waiting
thread), JDK Flight Recorder in the JVM (``jcmd``, ``jfr``). A Python group's user time is
shared among its places (``PLACES``) by its samples, its system time is the kernel's line;
the JVM's CPU is split by thread from /proc, its request threads' by their Java samples.
Last, whose code it all ran (``Measured.owners``): ours (wslocal, the chatroom layer, the
functions' handlers) or outside (the AWS SDK, Powertools, the SQS engine, the JVM, CPython,
the kernel), each sample counted for its innermost frame's owner, then with the stdlib
counted for its caller, and ours inclusive (any of our frames on the stack); so a reader
sees what all processes would still spend if our code cost nothing.
``python bench/fanout_profile.py DIR`` prints the tables again from what DIR keeps (a
``bench/presence.py --joins-only --profile DIR`` folder too, per join).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from profile_places import (
    FAUXQS,
    FORK_SERVERS,
    JVM,
    KERNEL,
    LIFELINES,
    MOTO,
    MOTO_DYNAMODB,
    PLACES,
    STAGE,
    WORKER,
    java_method,
    java_place,
    python_other,
)
from profiles import (
    JVM_OWNER,
    KERNEL_OWNER,
    OURS,
    OwnerMicros,
    ThreadsCpu,
    cpu_times,
    engine_of,
    fold,
    function_of,
    jfr_stacks,
    markdown,
    owner_micros,
    process_tree,
    py_spy_stacks,
    shares,
    thread_cpu_since,
    threads_cpu,
    top,
)

SETTLE_S = 3.0
"""Before the idle window (the warm-up's stream batches are done by then) and after the last
delivery (the DeliveryWatchFunction batch that follows a burst, window 2 s)."""
IDLE_S = 3.0
ATTACH_S = 2.0
RATE = 100
"""py-spy's samples per second: at 250, the samplers took so much of the 2 cores that the
profiled run's CPU per delivery was nearly twice an unprofiled one's."""
TOP = 8
MEASURED = "measured.json"

JVM_GROUPS = (JVM, "DynamoDB Local's class-data archive writer")
"""The groups that run a JVM: all their user time is the JVM's."""
SQLITE_THREAD = "SQLite queue thread"
PROFILER = "JFR and jcmd (the profiler)"
REQUEST_THREADS = "request threads (Jetty)"
JVM_THREADS = {
    "SQLiteQueue": SQLITE_THREAD,
    "qtp": REQUEST_THREADS,
    "C1 CompilerThre": "JIT compiler threads",
    "C2 CompilerThre": "JIT compiler threads",
    "VM Thread": "GC and VM threads",
    "GC Thread": "GC and VM threads",
    "VM Periodic": "GC and VM threads",
    "JFR": PROFILER,
    "Attach Listener": PROFILER,
}
"""The JVM's threads by the start of their name (``comm``, 15 characters)."""


def jvm_threads(pid: int | None) -> ThreadsCpu | None:
    """DynamoDB Local's threads' CPU now, by kind (``JVM_THREADS``); none without its JVM
    (``--dynamodb moto``)."""
    return None if pid is None else threads_cpu(pid, JVM_THREADS, "other threads")


JFR_SETTINGS = """<?xml version="1.0" encoding="UTF-8"?>
<configuration version="2.0" label="fanout">
  <event name="jdk.ExecutionSample">
    <setting name="enabled">true</setting>
    <setting name="period">10 ms</setting>
  </event>
</configuration>
"""
"""Execution samples only, every 10 ms (as the "profile" settings take them, without the
hundred other events those record, whose cost would be counted as DynamoDB Local's)."""


def _read(pid: int, name: str) -> bytes:
    return Path(f"/proc/{pid}/{name}").read_bytes()


def parent_pid(pid: int) -> int:
    return int(_read(pid, "stat").rsplit(b")", 1)[1].split()[1])


def process_group(pid: int, stage_pid: int) -> str:
    """The group a process of the stage's tree (or an engine the bench started beside it)
    is counted in."""
    if pid == stage_pid:
        return STAGE
    command = _read(pid, "cmdline")
    if b"wslocal/lifeline.py" in command:
        return LIFELINES
    engine = engine_of(command)
    if engine == "jvm":
        return JVM
    if engine == "archive":
        return JVM_GROUPS[1] + " (once per jar)"
    if engine == "sqs":
        return FAUXQS if b"fauxqs" in command else MOTO
    if engine == "moto":
        return MOTO_DYNAMODB
    if b"wslocal.runtime.forkserver" in command and (
        b"wslocal.runtime.forkserver" not in _read(parent_pid(pid), "cmdline")
    ):
        return FORK_SERVERS
    function = function_of(pid)
    if function is not None:
        return WORKER + function
    return "other: " + _read(pid, "comm").decode().strip()


@dataclass
class Usage:
    """A group's CPU seconds over a window, and how many of its processes used any."""

    user: float = 0.0
    system: float = 0.0
    processes: int = 0

    @property
    def cpu(self) -> float:
        return self.user + self.system


class TreeCpu:
    """CPU seconds of each process under ``root`` and of the processes ``beside`` it (an
    engine the bench started for the stage), polled in a thread every ``interval``: a
    process that ends between two snapshots still counts, up to its last poll. ``on_new``
    is told of each process the first time it is seen."""

    def __init__(self, root: int, interval: float = 0.2, beside: tuple[int, ...] = ()) -> None:
        self.root = root
        self.beside = beside
        self.groups: dict[int, str] = {}
        self.on_new: Callable[[int, str], None] = lambda pid, group: None
        self._last: dict[int, tuple[float, float]] = {}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, args=(interval,), daemon=True)
        self._thread.start()

    def _poll(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self.snapshot()

    def snapshot(self) -> dict[int, tuple[float, float]]:
        """Every process seen so far and its (user, system) CPU seconds at its latest read."""
        with self._lock:
            for pid in [*process_tree(self.root), *self.beside]:
                try:
                    if pid not in self.groups:
                        self.groups[pid] = process_group(pid, self.root)
                        self.on_new(pid, self.groups[pid])
                    elif self.groups[pid].startswith(WORKER):
                        # a fork is named by its working directory, which it takes just
                        # after the fork: first seen, it may still have its server's
                        self.groups[pid] = process_group(pid, self.root)
                    self._last[pid] = cpu_times(pid)
                except (FileNotFoundError, ProcessLookupError):
                    continue
            return dict(self._last)

    def by_group(
        self, start: dict[int, tuple[float, float]], end: dict[int, tuple[float, float]]
    ) -> dict[str, Usage]:
        """Each group's CPU between the snapshots."""
        groups: dict[str, Usage] = {}
        for pid, (user, system) in end.items():
            user_before, system_before = start.get(pid, (0.0, 0.0))
            usage = groups.setdefault(self.groups[pid], Usage())
            usage.user += user - user_before
            usage.system += system - system_before
            usage.processes += user + system > user_before + system_before
        return groups

    def pid_of(self, group: str) -> int | None:
        return next((pid for pid, name in self.groups.items() if name == group), None)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def require_py_spy() -> str:
    """py-spy's path, or the bench stops, saying how to install it."""
    py_spy = shutil.which("py-spy", path=Path(sys.executable).parent) or shutil.which("py-spy")
    if py_spy is None:
        raise SystemExit(
            "--profile needs py-spy: .venv/bin/pip install py-spy (a measurement tool, not a "
            "dependency of the project)"
        )
    return py_spy


def start_py_spy(folder: Path, pid: int) -> subprocess.Popen[bytes]:
    """py-spy on one process, its raw stacks in ``folder/PID.txt``. One per process, and
    ``--gil``: py-spy's own idle test took waiting threads for running ones here, and
    ``--subprocesses`` on the stage sampled the workers a tenth as often as their CPU asks."""
    return subprocess.Popen(
        [require_py_spy(), "record", "--pid", str(pid), "--rate", str(RATE), "--nonblocking",
         "--gil", "--format", "raw", "--output", str(folder / f"{pid}.txt")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_sooner,
    )  # fmt: skip


class FanoutProfile:
    """The measured window of a fan-out run: ``begin`` before the first measured message,
    ``end`` after the last delivery; then ``report``. With a ``folder``, py-spy and JFR
    record during the window and leave their raw profiles there."""

    def __init__(self, stage_pid: int, folder: Path | None, beside: tuple[int, ...] = ()) -> None:
        self.folder = folder
        self.tree = TreeCpu(stage_pid, beside=beside)
        self.idle: dict[str, Usage] = {}
        self.window: dict[str, Usage] = {}
        self.window_s = 0.0
        self.jvm_threads: dict[str, float] = {}
        self._start: dict[int, tuple[float, float]] = {}
        self._started = 0.0
        self._spies: list[subprocess.Popen[bytes]] = []
        self._jvm: int | None = None
        self._jvm_start: ThreadsCpu | None = None

    async def begin(self) -> None:
        await asyncio.sleep(SETTLE_S)
        start = self.tree.snapshot()
        await asyncio.sleep(IDLE_S)
        self.idle = self.tree.by_group(start, self.tree.snapshot())
        self._jvm = self.tree.pid_of(JVM)
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            spied = self.folder / "py-spy"
            spied.mkdir(exist_ok=True)
            for pid, group in dict(self.tree.groups).items():
                self._spy(spied, pid, group)
            self.tree.on_new = lambda pid, group: self._spy(spied, pid, group)
            if self._jvm is not None and shutil.which("jcmd"):
                settings = self.folder / "samples.jfc"
                settings.write_text(JFR_SETTINGS)
                await asyncio.to_thread(self._jcmd, "JFR.start", "name=fanout",
                                        f"settings={settings}",
                                        f"filename={self.folder / 'dynamodb.jfr'}")  # fmt: skip
                _renice_threads(self._jvm, "JFR ")
            await asyncio.sleep(ATTACH_S)
        self._jvm_start = self._jvm_threads()
        self._start, self._started = self.tree.snapshot(), time.perf_counter()

    async def end(self) -> None:
        await asyncio.sleep(SETTLE_S)
        end = self.tree.snapshot()
        self.window_s = time.perf_counter() - self._started
        self.window = self.tree.by_group(self._start, end)
        jvm_end = self._jvm_threads()
        if self._jvm_start is not None and jvm_end is not None:
            self.jvm_threads = thread_cpu_since(self._jvm_start, jvm_end)
        self.tree.on_new = lambda pid, group: None
        if self.folder is not None:
            groups = json.dumps({str(pid): group for pid, group in self.tree.groups.items()})
            (self.folder / "processes.json").write_text(groups + "\n")
        for spy in self._spies:
            spy.send_signal(signal.SIGINT)
        for spy in self._spies:
            await asyncio.to_thread(spy.wait, 120)
        if self.folder is not None and self._jvm is not None and shutil.which("jcmd"):
            await asyncio.to_thread(self._jcmd, "JFR.stop", "name=fanout")
        self.tree.close()

    def _spy(self, folder: Path, pid: int, group: str) -> None:
        if group not in (JVM, LIFELINES, FAUXQS) and Path(f"/proc/{pid}").exists():
            self._spies.append(start_py_spy(folder, pid))

    def _jvm_threads(self) -> ThreadsCpu | None:
        return jvm_threads(self._jvm)

    def _jcmd(self, *command: str) -> None:
        subprocess.run(["jcmd", str(self._jvm), *command], capture_output=True, check=True)

    def measured(self, deliveries: int, unit: str = "delivery") -> Measured:
        """What the window measured, per ``unit`` (``deliveries`` of them: a join, for the
        presence bench); kept in the folder, if any, beside the raw profiles."""
        measured = Measured(
            deliveries, self.window_s, os.getloadavg(), self.window, self.idle,
            self.jvm_threads, dict(self.tree.groups), self.folder, unit,
        )  # fmt: skip
        if self.folder is not None:
            (self.folder / MEASURED).write_text(measured.to_json())
        return measured


@dataclass
class Measured:
    """A profiled window: CPU by group (and the JVM's by thread), over how many deliveries,
    and which process was in which group (the raw profiles are named by pid)."""

    deliveries: int
    window_s: float
    load: tuple[float, float, float]
    window: dict[str, Usage]
    idle: dict[str, Usage]
    jvm_threads: dict[str, float]
    groups: dict[int, str]
    folder: Path | None
    unit: str = "delivery"

    @property
    def units(self) -> str:
        """``unit`` in the plural, for the window's line ("13,972 deliveries", "500 joins")."""
        return self.unit[:-1] + "ies" if self.unit.endswith("y") else self.unit + "s"

    def to_json(self) -> str:
        fields = {**asdict(self), "folder": None}
        return json.dumps(fields, indent=1) + "\n"

    @classmethod
    def from_folder(cls, folder: Path) -> Measured:
        fields = json.loads((folder / MEASURED).read_text())
        usage = {key: {g: Usage(**u) for g, u in fields[key].items()} for key in ("window", "idle")}
        groups = {int(pid): group for pid, group in fields["groups"].items()}
        load = tuple(fields["load"])
        return cls(**{**fields, **usage, "groups": groups, "load": load, "folder": folder})

    def report(self) -> str:
        """The tables, in markdown: CPU per delivery by group, then each group's places.
        JFR's own threads are left out of the JVM's CPU (their CPU is the profile's cost,
        not the stage's); py-spy is a process of its own."""
        per = 1e6 / max(self.deliveries, 1)
        profiler = self.jvm_threads.get(PROFILER, 0.0)
        window = {group: replace(usage, user=usage.user - profiler) if group == JVM else usage
                  for group, usage in self.window.items()}  # fmt: skip
        ranked = sorted(window.items(), key=lambda item: -item[1].cpu)
        rows: list[tuple[str, ...]] = []
        for group, usage in ranked:
            background = self.idle.get(group, Usage()).cpu / IDLE_S * self.window_s
            if usage.cpu > 0:
                rows.append((group, str(usage.processes), f"{usage.cpu:.2f}",
                             f"{usage.cpu * per:.0f}", f"{background * per:.0f}"))  # fmt: skip
        total = sum(usage.cpu for usage in window.values())
        idle = sum(usage.cpu for usage in self.idle.values()) / IDLE_S * self.window_s
        rows.append(("**all processes**", "", f"{total:.2f}", f"**{total * per:.0f}**",
                     f"{idle * per:.0f}"))  # fmt: skip
        header = ("process group", "processes", "CPU (s)", f"µs per {self.unit}",
                  "of which idle background")  # fmt: skip
        parts = [
            f"{self.deliveries:,} {self.units} in {self.window_s:.1f} s; load average "
            f"{' '.join(f'{x:.2f}' for x in self.load)}"
            + (
                f"; JFR's own threads ({profiler * per:.0f} µs per {self.unit}) left out of "
                "the JVM's"
                if profiler
                else ""
            ),
            "",
            markdown(header, rows, right=3),
        ]
        for group, usage in ranked:
            if self.folder is not None or group == JVM:
                lines, how = self._places(group, usage, per)
                if lines:
                    title = f"{group}: {usage.cpu * per:.0f} µs per {self.unit} ({how})"
                    table = [(place, f"{us:.1f}") for place, us in top(lines, TOP)]
                    parts += ["", markdown((title, f"µs per {self.unit}"), table)]
        if self.folder is not None:
            parts += ["", self.owners(window, per)]
        return "\n".join(parts)

    def owners(self, window: dict[str, Usage], per: float) -> str:
        """Whose code the CPU ran, ours or outside (bench/profiles.py ``frame_owner``), and
        the bound each count implies: what all processes would still spend if ours cost
        nothing."""
        total, by_group = OwnerMicros(), []
        for group, usage in window.items():
            if group == LIFELINES:  # wslocal/lifeline.py, not sampled
                shared = OwnerMicros(ours_inclusive=usage.cpu)
                shared.leaf[OURS] = shared.caller[OURS] = usage.cpu
            elif group.startswith(JVM_GROUPS):
                shared = OwnerMicros()
                shared.leaf[JVM_OWNER] = shared.caller[JVM_OWNER] = usage.user
                shared.leaf[KERNEL_OWNER] = shared.caller[KERNEL_OWNER] = usage.system
            else:
                shared = owner_micros(self._stacks(group), usage.user, usage.system)
            total.add(shared)
            by_group.append((group, shared))
        cpu = sum(usage.cpu for usage in window.values())
        unit = f"µs per {self.unit}"
        owners = [OURS, *sorted((o for o in total.leaf if o != OURS), key=lambda o: -total.leaf[o])]
        rows = [(owner, f"{total.leaf[owner] * per:.0f}", f"{total.caller[owner] * per:.0f}")
                for owner in owners]  # fmt: skip
        rows.append(("**all processes**", f"**{cpu * per:.0f}**", f"**{cpu * per:.0f}**"))
        bounds = [
            ("ours: innermost frame ours (lower bound)", total.leaf[OURS]),
            ("ours: the stdlib and interpreter counted for their caller", total.caller[OURS]),
            ("ours inclusive: any of our frames on the stack (upper bound)",
             total.ours_inclusive),
        ]  # fmt: skip
        bound_rows = [(name, f"{ours * per:.0f}", f"{(cpu - ours) * per:.0f}")
                      for name, ours in bounds]  # fmt: skip
        group_rows = [(group, f"{shared.leaf[OURS] * per:.0f}",
                       f"{shared.caller[OURS] * per:.0f}", f"{shared.ours_inclusive * per:.0f}",
                       f"{shared.leaf[KERNEL_OWNER] * per:.0f}")
                      for group, shared in sorted(by_group, key=lambda g: -g[1].leaf[OURS])
                      if shared.leaf[OURS] or shared.ours_inclusive]  # fmt: skip
        functions = [(name, f"{micros * per:.1f}")
                     for name, micros in top(total.ours_by_function.items(), TOP * 2)]  # fmt: skip
        return "\n\n".join([
            markdown(("owner (a sample counts for its innermost frame's owner)", unit,
                      f"{unit}, the stdlib counted for its caller"), rows, right=2),
            markdown(("our share", unit, f"if ours were zero, all processes would still spend "
                      f"({unit})"), bound_rows, right=2),
            markdown(("ours, by process group", "innermost frame", "stdlib for its caller",
                      "inclusive", "its system calls (kernel, counted outside)"), group_rows,
                     right=4),
            markdown(("ours, by innermost function", unit), functions),
        ])  # fmt: skip

    def _stacks(self, group: str) -> list[tuple[list[str], int]]:
        """The py-spy samples of a group's processes."""
        assert self.folder is not None
        raws = [self.folder / "py-spy" / f"{pid}.txt"
                for pid, name in self.groups.items() if name == group]  # fmt: skip
        return [(stack, count) for raw in raws if raw.exists()
                for stack, count in py_spy_stacks(raw.read_text())]  # fmt: skip

    def _places(self, group: str, usage: Usage, per: float) -> tuple[list[tuple[str, float]], str]:
        """The group's places with their µs per delivery (none without samples), and how
        they were measured."""
        if group == JVM:
            return self._jvm_places(per)
        stacks = self._stacks(group)
        kind = WORKER if group.startswith(WORKER) else group
        counts = fold(stacks, PLACES.get(kind, []), python_other)
        if not counts:
            return [], ""
        lines = [(KERNEL, usage.system * per), *shares(counts, usage.user * per)]
        return lines, f"py-spy --gil, {counts.total():,} samples; kernel time from /proc"

    def _jvm_places(self, per: float) -> tuple[list[tuple[str, float]], str]:
        """The JVM's threads' CPU from /proc; with a recording, the request threads' shared
        by their Java samples, and the SQLite thread's Java samples named beside it (its
        SQLite is native code, which JFR does not sample by CPU)."""
        recording = self.folder / "dynamodb.jfr" if self.folder else None
        by_kind: dict[str, list[tuple[list[str], int]]] = {}
        if recording is not None and recording.exists():
            for thread, stack in jfr_stacks(recording):
                kind = next((k for p, k in JVM_THREADS.items() if thread.startswith(p)), "")
                by_kind.setdefault(kind, []).append((stack, 1))
        lines = []
        for kind, cpu in self.jvm_threads.items():
            if kind == PROFILER:
                continue
            counts = fold(by_kind.get(kind, []), [], java_place)
            if kind == REQUEST_THREADS and counts:
                lines += [(f"{kind}: {place}", us) for place, us in shares(counts, cpu * per)]
            elif kind == SQLITE_THREAD and counts:
                methods = fold(by_kind[kind], [], java_method)
                named = ", ".join(f"{method} {n / methods.total():.0%}"
                                  for method, n in methods.most_common(3))  # fmt: skip
                lines.append((f"{kind} (its Java samples: {named})", cpu * per))
            elif cpu > 0:
                lines.append((kind, cpu * per))
        samples = sum(len(stacks) for stacks in by_kind.values())
        if not samples:
            return lines, "threads' CPU from /proc"
        return lines, f"threads' CPU from /proc; JFR, {samples:,} execution samples"


def _sooner() -> None:
    """py-spy must sample on time on a loaded machine: it runs before the processes it
    watches (its own CPU is not counted in theirs)."""
    with contextlib.suppress(PermissionError):
        os.nice(-10)


def _renice_threads(pid: int, name: str) -> None:
    """Run the threads of ``pid`` whose name starts with ``name`` before the others (the
    JVM's sampler, for the same reason as py-spy)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            if (task / "comm").read_text().startswith(name):
                os.setpriority(os.PRIO_PROCESS, int(task.name), -10)


if __name__ == "__main__":
    # The tables again from a --profile folder (after PLACES changed, say).
    print(Measured.from_folder(Path(sys.argv[1])).report())
