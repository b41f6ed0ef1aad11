"""Every process the stage starts ends with the stage, whatever ends it: a Ctrl-C, a
crash, an IDE's stop button, ``kill -9``.

The stage holds the write end of one pipe, the lifeline, for as long as it lives and never
hands it on (it is close-on-exec); each child gets the read end. Nothing is ever written
to it: when the stage's process ends, however it ends, the kernel closes the write end
and a read on the other end returns EOF. That is the child's cue to end.

Why not ``PR_SET_PDEATHSIG`` alone: it fires when the *thread* that forked the child
ends, not its process, and the stage starts engines from short-lived threads (DynamoDB
from one that ends once it answers, SQS from asyncio's pool, again after a reload): moto's
server would be killed as soon as its starting thread was done. The pipe does not care
which thread started a child.

Who reads the lifeline:

- A program that cannot (java, moto's server, npm, esbuild, node): ``bound(command)``
  runs it through this file (``python -I -S lifeline.py FD program args...``), which forks
  a small watcher and then *execs* the program, so the child the caller holds is the
  program itself (its pid, signals, exit code, output). The watcher blocks on the
  lifeline; at EOF it sends SIGTERM to the program's process group (the wrapper makes the
  program lead one: npm's and pip's children go too), and SIGKILL after ``GRACE_S``. The
  watcher itself dies with the program (``PR_SET_PDEATHSIG`` on Linux, asked by the
  watcher of its parent: the program's main thread, which lives as long as the
  program).
- The stage's own Python children, whose start-up time counts (workers, fork servers):
  ``inherited()`` hands them the read end through ``WSLOCAL_LIFELINE`` and they watch it
  themselves: a worker with ``watch()`` (a thread), the fork server in its select loop
  (it must stay single-threaded to fork), each fork with ``watch()`` again.

Standard library only: the workers import it, on whatever Python the function declares.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Sequence

VARIABLE = "WSLOCAL_LIFELINE"
"""The read end's fd, for a Python child of the stage that watches it itself."""
GRACE_S = 5.0
"""How long a program has to end on SIGTERM before it is killed."""
_PR_SET_PDEATHSIG = 1
_POLL_S = 1.0


@functools.lru_cache(maxsize=None)  # noqa: UP033 (functools.cache is 3.9+; python3.8 workers import this)
def _pipe(pid: int) -> tuple[int, int]:
    """This process's lifeline (read end, write end): one per process, made on first use
    and kept open until the process ends. Keyed by pid: a fork makes its own."""
    return os.pipe()


def _read_end() -> int:
    return _pipe(os.getpid())[0]


def bound(command: Sequence[str]) -> tuple[list[str], tuple[int, ...]]:
    """``command`` as a command line that ends with this process, and the fds to pass:
    ``Popen(line, pass_fds=fds, ...)`` or ``create_subprocess_exec(*line, pass_fds=fds)``.
    Raises FileNotFoundError for a program that is not there, as Popen would."""
    import shutil  # the stage's alone: a worker's cold start does not pay for it (~4 ms)

    program = shutil.which(command[0])
    if program is None:
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), command[0])
    fd = _read_end()
    line = [sys.executable, "-I", "-S", os.path.abspath(__file__), str(fd), program]
    return [*line, *command[1:]], (fd,)


def inherited() -> tuple[dict[str, str], tuple[int, ...]]:
    """For a Python child of the stage that calls ``watch()`` (or watches the fd in its
    own loop): the variable to add to its environment, and the fds to pass."""
    fd = _read_end()
    return {VARIABLE: str(fd)}, (fd,)


def inherited_fd() -> int | None:
    """The lifeline this process was given (``inherited()``), if any."""
    value = os.environ.get(VARIABLE, "")
    return int(value) if value.isdigit() else None


def watch() -> None:
    """End this process (SIGKILL) once the stage's has ended: a daemon thread waits for
    the lifeline's EOF. Nothing happens when the process was given none."""
    fd = inherited_fd()
    if fd is None:
        return
    os.environ.pop(VARIABLE)  # the handler's environment is Lambda's, not the stage's

    def wait_for_eof() -> None:
        try:
            while not _ended(fd, None):
                pass
        except OSError:  # the fd is gone (a handler closed it): nothing is left to watch
            return
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=wait_for_eof, name="wslocal-lifeline", daemon=True).start()


def _ended(fd: int, wait_s: float | None) -> bool:
    """Whether the lifeline has reached EOF, after waiting up to ``wait_s`` (None: until
    something happens). The read end is shared with every child, and one may have made it
    non-blocking (Node's streams do): nothing to read is not the end."""
    if not select.select([fd], [], [], wait_s)[0]:
        return False
    try:
        return not os.read(fd, 1)
    except BlockingIOError:
        return False


def _die_with_parent(parent: int) -> bool:
    """Ask Linux to kill this process when its parent ends; False where it cannot (the
    caller then polls)."""
    import ctypes  # the watcher's alone: a worker importing this module does not pay for it

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            return False
    except (OSError, AttributeError):
        return False
    if os.getppid() != parent:  # it ended before the request was made
        os._exit(0)
    return True


def _signal(target: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getpgid(target) == target:
            os.killpg(target, signum)
        else:
            os.kill(target, signum)


def _watcher(fd: int, target: int) -> None:
    """In the watcher: wait for the lifeline's EOF, then end ``target``; leave as soon
    as ``target`` has ended on its own."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # its own group's SIGTERM is for the program
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Hold nothing of the program's: its output pipes and channels close when it ends.
    devnull = os.open(os.devnull, os.O_RDWR)
    for standard in (0, 1, 2):
        os.dup2(devnull, standard)
    os.closerange(3, fd)
    os.closerange(fd + 1, os.sysconf("SC_OPEN_MAX"))
    wait_s = None if _die_with_parent(target) else _POLL_S
    while True:
        try:
            if _ended(fd, wait_s):
                break
        except OSError:
            break
        if wait_s is not None and os.getppid() != target:
            os._exit(0)
    _signal(target, signal.SIGTERM)
    deadline = time.monotonic() + GRACE_S
    while time.monotonic() < deadline:  # on Linux the program's end kills the watcher
        time.sleep(0.1)
        if os.getppid() != target:
            os._exit(0)
    _signal(target, signal.SIGKILL)
    os._exit(0)


def main(argv: list[str]) -> None:
    """``lifeline.py FD PROGRAM ARGS...``: fork the watcher, then become the program."""
    fd, command = int(argv[0]), argv[1:]
    target = os.getpid()
    if os.fork() == 0:
        try:
            _watcher(fd, target)
        finally:
            os._exit(0)
    os.close(fd)
    with contextlib.suppress(OSError):  # already a session's leader (start_new_session)
        os.setpgid(0, 0)  # it leads a group: the watcher's signals reach its children too
    # Python ignores these at start; the program must get them as a shell would give them.
    for signum in (signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(signum, signal.SIG_DFL)
    os.execv(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
