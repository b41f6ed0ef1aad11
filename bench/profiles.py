"""Where a run's CPU goes (issue 24), shared by the benches that profile: CPU time per process
group from /proc, and sampled stacks (py-spy's raw output for Python, JDK Flight Recorder's
for a JVM) folded into named places, each given its share of a measured CPU time.

Samples say where a thread was, not how long it ran: a place's microseconds are the measured
CPU time shared out in proportion to its samples. Samples of waiting threads are kept out
(py-spy's ``--gil``, or the ``idle`` frames a bench names), but a thread that waits for a
core is still sampled: on a loaded machine the shares are what this method gives, not exact.
"""

from __future__ import annotations

import contextlib
import functools
import os
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

SQS_ENGINE_COMMANDS = (b"wslocal.engines.moto_sqs", b"fauxqs")
"""What names an SQS engine in a process's command line: moto's SQS app alone (the stage's
engine), fauxqs (measured beside it)."""
MOTO_SERVER_COMMAND = b"moto.server"
"""moto's whole server: the stage's DynamoDB with ``--dynamodb moto``. It serves SQS only
where moto's SQS app alone cannot start, and in trees older than that app: a bench run on
one of those counts its SQS engine under this name."""


def engine_of(command: bytes) -> str | None:
    """``"jvm"`` (DynamoDB Local), ``"archive"`` (a JVM writing its class-data archive
    in the background, or trying it, once per jar), ``"sqs"``, ``"moto"`` (moto's whole
    server) or None, from a process's ``/proc/PID/cmdline`` (NUL-separated; its lifeline
    wrapper, which names the program, counts as the program): the one test every bench's
    process grouping shares."""
    parts = command.split(b"\0")
    if any(Path(part.decode(errors="replace")).name == "java" for part in parts):
        if any(part.startswith(b"-XX:ArchiveClassesAtExit") or part == b"-Xshare:on"
               for part in parts):  # fmt: skip
            return "archive"  # its writer or trial, once per jar: not the engine serving
        return "jvm"
    if any(name in command for name in SQS_ENGINE_COMMANDS):
        return "sqs"
    if MOTO_SERVER_COMMAND in command:
        return "moto"
    return None


CHAT_TEMPLATE = Path(__file__).resolve().parent.parent / "template.yaml"


@functools.cache
def function_folders(template: Path = CHAT_TEMPLATE) -> dict[str, str]:
    """Each function's code folder (resolved) -> its logical id, from the template."""
    from wslocal.template import read_template

    folders = {}
    for logical_id, resource in read_template(template).get("Resources", {}).items():
        code = (resource.get("Properties") or {}).get("CodeUri")
        if resource.get("Type") == "AWS::Serverless::Function" and isinstance(code, str):
            folders[str((template.parent / code).resolve())] = logical_id
    return folders


def function_of(pid: int) -> str | None:
    """The function a worker serves: ``AWS_LAMBDA_FUNCTION_NAME`` in its environment. A
    fork of a shared fork server shows the server's environment in /proc (it changed
    ``os.environ`` after the fork), so a fork is named by its working directory, its
    function's code folder, through the chat template's ``CodeUri``s."""
    command = Path(f"/proc/{pid}/cmdline").read_bytes()
    if b"wslocal.runtime.forkserver" in command:
        with contextlib.suppress(OSError):
            named = function_folders().get(os.readlink(f"/proc/{pid}/cwd"))
            if named is not None:
                return named
    for variable in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
        if variable.startswith(b"AWS_LAMBDA_FUNCTION_NAME="):
            return variable.split(b"=", 1)[1].decode()
    return None


NO_PYTHON_FRAME = "(no Python frame)"
"""The stack of a sample taken while a thread held the GIL outside any Python function: the
interpreter starting, exiting, or collecting garbage between two calls."""


@dataclass(frozen=True)
class Place:
    """A named place a sample is counted in: its stack has a frame that one of ``frames``
    names (any frame, if empty), a frame that one of ``under`` names (if given), and its
    innermost frame starts with one of ``leaf`` (if given); and no frame that one of
    ``unless_deeper`` names lies deeper than the deepest frame ``frames`` names (a library
    that wraps the handler, such as Powertools' decorators, holds only the samples of its
    own work, not those of the code it calls). A name is the start of a frame
    (``Class.method``, ``function``, ``package.Class``) or of its file (``botocore/auth.py``,
    ``asyncio/``): py-spy writes a frame ``function (file:line)``."""

    name: str
    frames: tuple[str, ...] = ()
    under: tuple[str, ...] = ()
    leaf: tuple[str, ...] = ()
    unless_deeper: tuple[str, ...] = ()

    def holds(self, stack: Sequence[str]) -> bool:
        if self.leaf and not stack[-1].startswith(self.leaf):
            return False
        if self.unless_deeper and self._called_deeper(stack):
            return False
        return all(
            any(names(frame, part) for frame in stack for part in parts)
            for parts in (self.frames, self.under)
            if parts
        )

    def _called_deeper(self, stack: Sequence[str]) -> bool:
        """Whether a frame ``unless_deeper`` names lies deeper than every one ``frames`` names."""
        for frame in reversed(stack):
            if any(names(frame, part) for part in self.frames):
                return False
            if any(names(frame, part) for part in self.unless_deeper):
                return True
        return False


def names(frame: str, part: str) -> bool:
    """Whether ``part`` names the frame: its start, or the start of its file."""
    return frame.startswith(part) or f"({part}" in frame


OURS = "ours: wslocal, the chatroom layer, the functions' handlers"
SDK = "AWS SDK: botocore, boto3, urllib3, http.client"
POWERTOOLS = "Powertools: logs, metrics"
SQS_ENGINE = "SQS engine: moto, werkzeug, Flask"
JVM_OWNER = "DynamoDB Local's JVM"
CPYTHON = "CPython: interpreter, stdlib"
KERNEL_OWNER = "kernel: system time"
OTHER_LIBRARIES = "other libraries"
NOT_SAMPLED = "not sampled (py-spy never attached)"
OUTSIDE_OWNERS = (SDK, POWERTOOLS, SQS_ENGINE, JVM_OWNER, CPYTHON, KERNEL_OWNER, OTHER_LIBRARIES)
OWNER_FILES = {
    "wslocal/": OURS, "chatroom/": OURS, "app.py": OURS, "tokens.py": OURS,
    "botocore/": SDK, "boto3/": SDK, "urllib3/": SDK, "s3transfer/": SDK, "jmespath/": SDK,
    "dateutil/": SDK, "http/client.py": SDK,
    "aws_lambda_powertools/": POWERTOOLS,
    "moto/": SQS_ENGINE, "werkzeug/": SQS_ENGINE, "werkzeug_app.py": SQS_ENGINE,
    "flask/": SQS_ENGINE, "flask_cors/": SQS_ENGINE, "jinja2/": SQS_ENGINE,
    "markupsafe/": SQS_ENGINE, "itsdangerous/": SQS_ENGINE, "xmltodict.py": SQS_ENGINE,
    "blinker/": SQS_ENGINE,
}  # fmt: skip
"""Who owns the code of a frame, by the start of its file as py-spy writes it (relative to
the ``sys.path`` entry it was found in): the project's packages and the functions' modules
(``app.py``, the authorizer's ``tokens.py``, each at the top of its function's folder), the
libraries the handlers and the SQS engine use (moto's server module is ``werkzeug_app.py``
at the top of its folder). A file not here is CPython's if its top name is a stdlib
module's (or ``<frozen ...>``), else another library's."""


def frame_owner(frame: str) -> str:
    """The owner of one frame (``function (file:line)``, as py-spy writes it)."""
    if frame == NO_PYTHON_FRAME:
        return CPYTHON
    where = frame[frame.rfind("(") + 1 :].rsplit(":", 1)[0]
    owner = next((o for start, o in OWNER_FILES.items() if where.startswith(start)), None)
    if owner is not None:
        return owner
    top = where.split("/", 1)[0].removesuffix(".py")
    return CPYTHON if where.startswith("<") or top in sys.stdlib_module_names else OTHER_LIBRARIES


def leaf_owner(stack: Sequence[str]) -> str:
    """Whose code a sample was running: the owner of its innermost frame."""
    return frame_owner(stack[-1])


def caller_owner(stack: Sequence[str]) -> str:
    """Whose work a sample was doing, the interpreter's and stdlib's counted for the caller
    (a ``json.dumps`` our handler calls is ours, a ``socket.recv`` botocore's is the SDK's):
    the owner of its innermost frame that is not CPython's."""
    owners = (frame_owner(frame) for frame in reversed(stack))
    return next((owner for owner in owners if owner != CPYTHON), CPYTHON)


def ours_on_stack(stack: Sequence[str]) -> bool:
    """Whether any frame of a sample is ours: our code ran it, directly or not (the upper
    bound of our share: the stage's and the workers' main loops are ours, so in those
    processes nearly every sample is)."""
    return any(frame_owner(frame) == OURS for frame in stack)


@dataclass
class OwnerMicros:
    """A measured CPU time shared among owners by samples: by the innermost frame's owner
    (``leaf``), by the innermost owner that is not CPython (``caller``), the part with any of
    our frames on the stack (``ours_inclusive``), and our part by its innermost function
    (``ours_by_function``, ``function (file)``)."""

    leaf: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    caller: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    ours_inclusive: float = 0.0
    ours_by_function: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))

    def add(self, other: OwnerMicros) -> None:
        for mine, theirs in ((self.leaf, other.leaf), (self.caller, other.caller),
                             (self.ours_by_function, other.ours_by_function)):  # fmt: skip
            for name, micros in theirs.items():
                mine[name] += micros
        self.ours_inclusive += other.ours_inclusive


def owner_micros(
    stacks: Iterable[tuple[Sequence[str], int]], user: float, system: float
) -> OwnerMicros:
    """A process group's user time shared among the owners of its samples, and its system
    time the kernel's (a system call releases the GIL, so ``--gil`` samples miss it)."""
    counted = [(stack, count) for stack, count in stacks if stack]
    total = sum(count for _, count in counted)
    shared = OwnerMicros()
    if system:
        shared.leaf[KERNEL_OWNER] = shared.caller[KERNEL_OWNER] = system
    if not total and user:
        shared.leaf[NOT_SAMPLED] = shared.caller[NOT_SAMPLED] = user
    for stack, count in counted:
        micros = user * count / total
        shared.leaf[leaf_owner(stack)] += micros
        shared.caller[caller_owner(stack)] += micros
        if ours_on_stack(stack):
            shared.ours_inclusive += micros
        if leaf_owner(stack) == OURS:
            shared.ours_by_function[stack[-1].rsplit(":", 1)[0] + ")"] += micros
    return shared


def fold(
    stacks: Iterable[tuple[Sequence[str], int]],
    places: Sequence[Place],
    other: Callable[[Sequence[str]], str],
    idle: tuple[str, ...] = (),
) -> Counter[str]:
    """Samples by place: each stack (outermost frame first, with its count) goes to the first
    place that holds it, else to the place ``other`` names for it; a stack whose innermost
    frame starts with one of ``idle`` is a wait, and is not counted."""
    counts: Counter[str] = Counter()
    for stack, count in stacks:
        if not stack or (idle and stack[-1].startswith(idle)):
            continue
        place = next((p.name for p in places if p.holds(stack)), None)
        counts[place or other(stack)] += count
    return counts


def shares(counts: Counter[str], micros: float) -> list[tuple[str, float]]:
    """``micros`` shared among the places in proportion to their samples, largest first."""
    total = sum(counts.values()) or 1
    return [(place, n / total * micros) for place, n in counts.most_common()]


def top(lines: Iterable[tuple[str, float]], count: int) -> list[tuple[str, float]]:
    """The ``count`` largest lines, and the others summed into one "rest" line."""
    ranked = sorted(lines, key=lambda line: -line[1])
    if len(ranked) <= count + 1:
        return ranked
    rest = sum(value for _, value in ranked[count:])
    return [*ranked[:count], (f"rest ({len(ranked) - count} places)", rest)]


def py_spy_stacks(text: str) -> Iterator[tuple[list[str], int]]:
    """(frames outermost first, count) for each line of ``py-spy record --format raw``."""
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if count.isdigit():
            yield stack.split(";") if stack else [NO_PYTHON_FRAME], int(count)


def jfr_stacks(recording: Path) -> Iterator[tuple[str, list[str]]]:
    """(thread name, frames outermost first) for each execution sample of a JFR recording: a
    thread running Java code (JIT-compiled or interpreted). Native code (SQLite, sockets) is
    not in them: JFR samples one thread in native code per period whether it computes or
    waits, so those samples cannot be shared by CPU."""
    printed = subprocess.run(
        ["jfr", "print", "--stack-depth", "64", "--events", "jdk.ExecutionSample",
         str(recording)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    thread, frames, in_stack = "", list[str](), False
    for line in printed.stdout.splitlines():
        line = line.strip()
        if line.startswith("sampledThread = "):
            thread = line.split('"')[1]
        elif line == "stackTrace = [":
            frames, in_stack = [], True
        elif in_stack and line == "]":
            in_stack = False
            if frames:
                yield thread, frames[::-1]
        elif in_stack and line != "...":
            frames.append(line.split("(", 1)[0])


def cpu_times(pid: int, task: int | None = None) -> tuple[float, float]:
    """(user, system) CPU seconds a process has used, all its threads, from /proc; or, with
    ``task``, one of its threads'."""
    where = f"/proc/{pid}/task/{task}/stat" if task else f"/proc/{pid}/stat"
    fields = Path(where).read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def cpu_seconds(pid: int, task: int | None = None) -> float:
    """CPU time (user + system) a process, or one of its threads, has used."""
    return sum(cpu_times(pid, task))


def process_tree(root: int) -> list[int]:
    """A process and all its descendants, whichever thread started them."""
    found, pending = [], [root]
    while pending:
        current = pending.pop()
        try:
            tasks = list(Path(f"/proc/{current}/task").iterdir())
        except FileNotFoundError:
            continue
        found.append(current)
        for task in tasks:
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                pending.extend(int(child) for child in (task / "children").read_text().split())
    return found


ENDED_THREADS = "threads that ended in the window"


@dataclass(frozen=True)
class ThreadsCpu:
    """One process's CPU at one moment: its own (which keeps the CPU of threads that have
    ended) and each living thread's, by thread id, with the thread's kind."""

    process: float
    threads: dict[int, tuple[str, float]]


def threads_cpu(pid: int, kind_of: dict[str, str], default: str) -> ThreadsCpu:
    """A process's threads now: a thread's kind is that of the first name prefix in
    ``kind_of`` its name (``comm``) starts with, else ``default``."""
    threads: dict[int, tuple[str, float]] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            cpu = cpu_seconds(pid, int(task.name))
        except (FileNotFoundError, ProcessLookupError):
            continue
        kind = next((k for prefix, k in kind_of.items() if name.startswith(prefix)), default)
        threads[int(task.name)] = (kind, cpu)
    return ThreadsCpu(cpu_seconds(pid), threads)


def thread_cpu_since(before: ThreadsCpu, after: ThreadsCpu) -> dict[str, float]:
    """CPU seconds by kind of thread between two readings of one process, thread by
    thread: a thread that ends takes its CPU out of /proc (the JVM stops compiler threads
    it no longer needs), so what the process used beyond its living threads is counted as
    ``ENDED_THREADS``."""
    by_kind: dict[str, float] = {}
    for tid, (kind, cpu) in after.threads.items():
        used = cpu - before.threads.get(tid, (kind, 0.0))[1]
        by_kind[kind] = by_kind.get(kind, 0.0) + used
    by_kind[ENDED_THREADS] = after.process - before.process - sum(by_kind.values())
    return by_kind


def markdown(header: Sequence[str], rows: Iterable[Sequence[str]], right: int = 1) -> str:
    """A markdown table; the last ``right`` columns are numbers, aligned right."""
    rule = ["---"] * (len(header) - right) + ["---:"] * right
    lines = [header, rule, *rows]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)
