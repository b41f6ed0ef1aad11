"""A fork server: ``python -m wslocal.runtime.forkserver FD``.

Starting a worker from scratch costs a new interpreter and the import of boto3, botocore
and the function's other libraries: about 0.6 s of CPU each, paid again for every worker a
burst of calls adds, and about 40 MB that each worker holds privately. A fork server is
started in one function's environment (its interpreter, its layers on the path, its
variables), imports the libraries the stage names (the modules a worker imported from
outside the function's code and layers), then forks workers, for that function and for
every other function whose libraries import the same (``wslocal.runtime.forking``'s
``ForkServers`` decides which): their pages are shared, copy-on-write. The server's own
path has no function's code on it, and its working directory is ``/``: the code each
worker imports is its own. Each fork takes the environment it is sent (its function's
variables only), puts its function's code first on ``sys.path``, moves to it, and runs
the handler's init itself, as a new execution environment does; it skips only the
libraries' import. Before forking, the server moves the libraries' objects out of the
garbage collector's reach (``gc.freeze``): a fork's collections would otherwise write to
every object's header, copying the pages the forks share (about 4-5 MB per fork); the
server and each fork, after its init, give the C heap's free pages back. The
server notes every variable the preload read (``os.environ``, ``os.getenv``): a function
whose value of one of them differs is forked by a server of its own, so no library's
import depends on another function's variables.

The control channel FD is a SOCK_SEQPACKET socket: one JSON object per packet. In:
``preload`` (once, first), then ``fork`` with the worker's environment, carrying its
channel as an SCM_RIGHTS file descriptor. The stage's lifeline (``wslocal.lifeline``) is
read in the same loop: when the stage ends, however it ends, so does the server, and each
fork watches it too. Out: ``ready`` (after the preload: how long it took, what failed,
the services whose boto3 clients were warmed, the variables read, and how many threads
run, since forking a threaded process is unsafe), ``forked`` with the child's pid, and
``exited`` with its exit code when it ends. When the stage shuts its side of the channel,
the server forks no more and exits after its last fork has (still reporting their ends).
Standard library only, like the bootstrap.
"""

from __future__ import annotations

import array
import contextlib
import gc
import importlib
import json
import os
import select
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from typing import Any

from wslocal import lifeline
from wslocal.runtime import bootstrap

MAX_PACKET_BYTES = 4 * 1024 * 1024


def _send(control: socket.socket, message: dict[str, Any]) -> None:
    control.send(json.dumps(message, separators=(",", ":")).encode("utf-8"))


def receive_with_fds(control: socket.socket) -> tuple[bytes, list[int]]:
    """One packet and the descriptors sent with it. ``socket.recv_fds`` is 3.9+; a
    function may run on Lambda's python3.8, so this is recvmsg as it does it."""
    size = array.array("i").itemsize
    data, ancillary, _, _ = control.recvmsg(MAX_PACKET_BYTES, socket.CMSG_LEN(size))
    fds = array.array("i")
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - (len(payload) % size)])
    return data, list(fds)


WARM_UP_SCAN_READS = ("REQUEST_METHOD", "AWS_EC2_METADATA_DISABLED")
"""What botocore reads from the copies of the environment it scans while making a client
(besides the ``*_proxy`` variables, as urllib finds them): the warm-up's only scans."""


class EnvironmentReads:
    """The variables read while it was recording (``recording_reads``); ``scanned`` when
    something went through them all (a copy, an iteration)."""

    def __init__(self) -> None:
        self.names: set[str] = set()
        self.scanned = False
        self.copying = 0


@contextlib.contextmanager
def recording_reads() -> Iterator[EnvironmentReads]:
    """Note each variable read through ``os.environ`` (``os.getenv``, ``get``, ``in``)
    while the block runs, and whether it was scanned: what the block depends on."""
    reads = EnvironmentReads()
    original = type(os.environ)

    class Recording(original):  # type: ignore[valid-type,misc]
        def __getitem__(self, key: str) -> str:
            if not reads.copying:
                reads.names.add(key)
            return super().__getitem__(key)  # type: ignore[no-any-return]

        def __iter__(self) -> Iterator[str]:
            reads.scanned = True
            return super().__iter__()  # type: ignore[no-any-return]

        def copy(self) -> dict[str, str]:
            reads.scanned = True
            reads.copying += 1
            try:
                return super().copy()  # type: ignore[no-any-return]
            finally:
                reads.copying -= 1

    os.environ.__class__ = Recording
    try:
        yield reads
    finally:
        os.environ.__class__ = original


def preload(modules: list[str]) -> list[str]:
    """Import each module, in order; return the names that failed (skipped: the worker
    imports them itself, or fails there as it would have)."""
    failed = []
    for name in modules:
        try:
            importlib.import_module(name)
        except BaseException:  # a library's import may raise anything
            failed.append(name)
    return failed


def warm_boto3(environ: dict[str, str]) -> list[str]:
    """Once boto3 is preloaded: create its default session and a client for each service
    the stage serves (``AWS_ENDPOINT_URL_<SERVICE>``), so the forks find botocore's
    endpoints, partitions and those service models already parsed (about 150 ms of each
    handler's init). A handler's ``boto3.client(...)`` then uses that session, as it would
    the one it created itself: same environment, same credentials. Return the services."""
    boto3: Any = sys.modules.get("boto3")
    if boto3 is None:
        return []
    prefix = "AWS_ENDPOINT_URL_"
    wanted = {name[len(prefix) :].lower() for name in environ if name.startswith(prefix)}
    try:
        boto3.setup_default_session()
        session = boto3.DEFAULT_SESSION
        services = sorted(wanted & set(session.get_available_services()))
        resources = set(session.get_available_resources())
        for service in services:
            session.client(service)
            if service in resources:
                session.resource(service)
    except Exception:  # a warm-up only: the handler's own init will say what is wrong
        boto3.DEFAULT_SESSION = None
        return []
    return services


def enter_function(environment: dict[str, str], stage: int | None) -> None:
    """In a fork: its function's variables and only those (and the server's lifeline,
    which ``lifeline.watch`` takes off again), its code first on ``sys.path``, its code
    folder as working directory, as the bootstrap would have set them up."""
    os.environ.clear()
    os.environ.update(environment)
    if stage is not None:
        os.environ[lifeline.VARIABLE] = str(stage)
    task_root = os.environ["LAMBDA_TASK_ROOT"]
    sys.path.insert(0, task_root)
    os.chdir(task_root)
    importlib.invalidate_caches()


def _child(
    control: socket.socket,
    wakeup: tuple[int, int],
    channel_fd: int,
    environment: dict[str, str],
    stage: int | None,
) -> None:
    """In the fork: drop the server's handles, start a session of its own (a terminal's
    Ctrl-C reaches the stage alone), take the function's environment, and serve as a
    worker."""
    code = 0
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        control.close()
        for fd in wakeup:
            os.close(fd)
        os.setsid()
        enter_function(environment, stage)
        lifeline.watch()  # the server's lifeline, inherited: it ends when the stage does
        # the pool learned the modules from its first worker: a fork need not repeat them
        bootstrap.serve(
            socket.socket(fileno=channel_fd), report_modules=False, after_init=trim_heap
        )
    except BaseException:  # report, then leave without the server's cleanup
        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def trim_heap() -> None:
    """Give the C heap's free pages back (glibc's ``malloc_trim``): what an init freed,
    and the free pages the fork inherited, would otherwise stay counted as its own.
    Nothing where the C library has no such call."""
    try:
        import ctypes

        ctypes.CDLL(None).malloc_trim(0)
    except (AttributeError, OSError):
        pass


def _reap(control: socket.socket, children: set[int]) -> None:
    while children:
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            return
        children.discard(pid)
        _send(control, {"type": "exited", "pid": pid, "code": exit_code(status)})


def exit_code(status: int) -> int:
    """``os.waitstatus_to_exitcode``, which python3.8 (a function may declare it) lacks:
    the code a process exited with, or minus the signal that ended it."""
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def serve(control: socket.socket) -> None:
    """Preload, then fork a worker per request and report each one's end."""
    request = json.loads(control.recv(MAX_PACKET_BYTES) or b"{}")
    started = time.perf_counter()
    environment = dict(os.environ)
    with recording_reads() as imports:
        bootstrap.install_endpoint_redirect()
        failed = preload(list(request.get("modules") or []))
    with recording_reads() as warming:  # botocore's client scans for proxies, as urllib
        warmed = warm_boto3(environment)
    if warming.scanned:
        warming.names.update(WARM_UP_SCAN_READS)
    gc.collect()  # the imports' garbage goes now, not into the frozen generation
    trim_heap()  # and its pages: no fork inherits them
    gc.freeze()  # a fork's collections then never write to (so copy) the libraries' pages
    threads = threading.active_count()
    _send(
        control,
        {
            "type": "ready",
            "ms": (time.perf_counter() - started) * 1000,
            "failed": failed,
            "warmed": warmed,
            "read": sorted(imports.names | warming.names),
            "readEvery": imports.scanned,
            "readProxies": warming.scanned,
            "threads": threads,
        },
    )
    if threads > 1:
        return
    wakeup = os.pipe()
    os.set_blocking(wakeup[0], False)
    os.set_blocking(wakeup[1], False)
    signal.set_wakeup_fd(wakeup[1])
    signal.signal(signal.SIGCHLD, lambda *_: None)
    children: set[int] = set()
    forking = True
    stage = lifeline.inherited_fd()  # read in this loop: a thread would make forking unsafe
    while forking or children:
        watched: list[socket.socket | int] = [control, wakeup[0]] if forking else [wakeup[0]]
        if stage is not None:
            watched.append(stage)
        readable, _, _ = select.select(watched, [], [])
        if stage in readable and not os.read(stage, 1):
            return  # the stage has ended: so does the server (each fork watches it too)
        if wakeup[0] in readable:
            with contextlib.suppress(BlockingIOError):
                while os.read(wakeup[0], 512):
                    pass
            _reap(control, children)
        if control in readable:
            data, fds = receive_with_fds(control)
            if not data:
                forking = False
            elif fds:
                fork = json.loads(data)
                pid = os.fork()
                if pid == 0:
                    _child(control, wakeup, fds[0], dict(fork["environment"]), stage)
                os.close(fds[0])
                children.add(pid)
                _send(control, {"type": "forked", "pid": pid})


def main(fd: int) -> None:
    sys.path[:] = bootstrap.library_path()  # no function's code: each fork adds its own
    os.chdir("/")
    serve(socket.socket(fileno=fd))


if __name__ == "__main__":
    main(int(sys.argv[1]))
