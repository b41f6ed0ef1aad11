"""The stage's side of the fork servers (``wslocal.runtime.forkserver``).

A worker started on its own says which library modules its handler's init imported
(``preloadable``); when a worker is needed after it, a fork server imports those once and
forks each new worker from them, so a burst of calls pays one library import instead of
one per worker. One fork server serves every function whose libraries import the same
(``ForkServers``): the chat's functions share their interpreter, the layer and its
requirements, and differ only in their code, handler and variables, so their idle
workers share the libraries' pages instead of each holding its own 40 MB. The forks are
the fork server's children: it reports each one's exit, and the stage waits on that
(``ForkedProcess``).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.machinery
import json
import os
import signal
import socket
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from wslocal import lifeline
from wslocal.exceptions import WslocalError
from wslocal.runtime import bootstrap
from wslocal.runtime.forkserver import MAX_PACKET_BYTES
from wslocal.runtime.languages import WorkerLaunch
from wslocal.runtime.open_files import keep_lambda_limit

KILLED = -signal.SIGKILL
STARTUP_VARIABLES = frozenset(
    {"PATH", "LANG", "TZ", "AWS_EXECUTION_ENV", "PYTHONPATH", bootstrap.LAYER_PATHS}
)
"""Variables a process reads as it starts, before any library's import could be noted:
the interpreter's and the C library's (with the ``STARTUP_PREFIXES``), the runtime's
name, the layers and libraries on its path."""
STARTUP_PREFIXES = ("PYTHON", "LC_", "LD_")


class ForkServerError(WslocalError):
    """The fork server could not start, or cannot fork (the pool starts workers itself)."""


def preloadable(modules: Iterable[tuple[str, str]], code_dirs: Iterable[Path]) -> list[str]:
    """The modules a fork server may import ahead, in import order: every one whose file
    is outside the function's code and layer folders (those change as the user edits and
    are imported by each worker), and not wslocal's own."""
    roots = _roots(code_dirs)
    return [
        name
        for name, file in modules
        if name.split(".")[0] != "wslocal" and not _under(file, roots)
    ]


def shadowed(names: Iterable[str], code_dirs: Iterable[Path]) -> str | None:
    """The first of the preloaded modules ``names`` whose top-level package the function's
    own folders also hold (its own ``requests/`` or ``boto3/``): on Lambda its code comes
    first on sys.path and it imports its own copy, but in a fork the server's is already
    imported. Namespace folders (no ``__init__``) do not count: a package elsewhere wins."""
    folders = [str(folder) for folder in code_dirs]
    for top in dict.fromkeys(name.split(".")[0] for name in names):
        spec = importlib.machinery.PathFinder.find_spec(top, folders)
        if spec is not None and spec.origin is not None:
            return top
    return None


def fork_server_key(launch: WorkerLaunch) -> tuple[str, ...]:
    """What a fork server's preload depends on before any variable it reads (those are
    noted as it runs, ``ForkServer.serves``): its command line (the interpreter and its
    flags) and the ``STARTUP_VARIABLES``. Functions with the same key may share one."""
    startup = sorted(
        f"{name}={value}"
        for name, value in launch.environment.items()
        if name in STARTUP_VARIABLES or name.startswith(STARTUP_PREFIXES)
    )
    return (*launch.command, "", *startup)


def _proxies(environment: Mapping[str, str]) -> dict[str, str]:
    """The variables urllib (and botocore) take proxies from: ``*_proxy``, any case."""
    return {name: value for name, value in environment.items() if name.lower().endswith("_proxy")}


def _roots(folders: Iterable[Path]) -> tuple[str, ...]:
    return tuple(str(path.resolve()) + os.sep for path in folders)


def _under(file: str, roots: tuple[str, ...]) -> bool:
    """``file`` is in one of the (resolved) ``roots``, as named or once its links are."""
    return file.startswith(roots) or os.path.realpath(file).startswith(roots)


class ForkedProcess:
    """A worker forked by a fork server: the part of asyncio's Process a Worker uses."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._exited: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    @property
    def returncode(self) -> int | None:
        return self._exited.result() if self._exited.done() else None

    async def wait(self) -> int:
        return await asyncio.shield(self._exited)

    def kill(self) -> None:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)

    def exited(self, code: int) -> None:
        if not self._exited.done():
            self._exited.set_result(code)


class ForkServer:
    """One fork server process and its control channel."""

    def __init__(
        self,
        process: asyncio.subprocess.Process,
        control: socket.socket,
        environment: Mapping[str, str] | None = None,
    ) -> None:
        self.process = process
        self.environment = dict(environment or {})
        """The variables it was started with (its first function's)."""
        self.read: set[str] = set()
        """The variables its preload read; ``read_every``: it went through them all (a
        library's import scanned them); ``read_proxies``: the proxy variables (botocore
        making the warm-up's clients)."""
        self.read_every = False
        self.read_proxies = False
        self.used = time.monotonic()
        """When it last forked or was asked to."""
        self._control = control
        self._children: dict[int, ForkedProcess] = {}
        self._forked: asyncio.Queue[ForkedProcess | None] = asyncio.Queue()
        self._forking = asyncio.Lock()
        self._reader: asyncio.Task[None] | None = None
        self.preload_ms = 0.0
        self.failed: list[str] = []
        self.warmed: list[str] = []
        """Services whose boto3 clients it created ahead (botocore's data parsed once)."""
        self._retired = False

    @classmethod
    async def start(
        cls,
        command: list[str],
        env: dict[str, str],
        modules: list[str],
        log_stream: Any,
        timeout: float,
    ) -> ForkServer:
        """Start it with the workers' command line and environment, have it import
        ``modules``, and return it once it can fork."""
        try:
            parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        except (AttributeError, OSError) as exc:
            raise ForkServerError(f"no SOCK_SEQPACKET sockets here: {exc}") from None
        variable, fds = lifeline.inherited()  # it, and each fork, end when the stage does
        try:
            process = await asyncio.create_subprocess_exec(
                *command,
                str(child.fileno()),
                env={**env, **variable},
                pass_fds=(child.fileno(), *fds),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_stream,
                stderr=log_stream,
                start_new_session=True,
            )
        except OSError as exc:
            parent.close()
            raise ForkServerError(f"the fork server could not start: {exc}") from None
        finally:
            child.close()
        keep_lambda_limit(process.pid)  # its forks inherit it
        parent.setblocking(False)
        server = cls(process, parent, env)
        try:
            async with asyncio.timeout(timeout):
                await server._send({"type": "preload", "modules": modules})
                ready = await server._receive()
        except (TimeoutError, OSError, ValueError) as exc:  # OSError: EMSGSIZE, a closed channel
            server.kill()
            await process.wait()
            parent.close()
            raise ForkServerError(f"the fork server did not get ready: {exc!r}") from None
        if ready.get("type") != "ready" or int(ready.get("threads", 0)) > 1:
            server.kill()
            await process.wait()
            parent.close()
            raise ForkServerError(
                f"importing the libraries started {ready.get('threads')} threads; forking "
                "a threaded process is unsafe"
            )
        server.preload_ms = float(ready.get("ms") or 0.0)
        server.failed = list(ready.get("failed") or [])
        server.warmed = list(ready.get("warmed") or [])
        server.read = set(ready.get("read") or [])
        server.read_every = bool(ready.get("readEvery"))
        server.read_proxies = bool(ready.get("readProxies"))
        server._reader = asyncio.create_task(server._read())
        return server

    @property
    def alive(self) -> bool:
        """It can fork: running, its channel open, not retired."""
        reading = self._reader is not None and not self._reader.done()
        return self.process.returncode is None and reading and not self._retired

    @property
    def forks(self) -> int:
        """Its forks still running."""
        return len(self._children)

    def serves(self, environment: Mapping[str, str]) -> bool:
        """A worker with ``environment`` may be forked here: every variable the preload
        read has the same value (or is unset in both), so no library imported here
        depends on a variable of another function."""
        if self.read_every:
            return dict(environment) == self.environment
        if self.read_proxies and _proxies(environment) != _proxies(self.environment):
            return False
        return all(environment.get(name) == self.environment.get(name) for name in self.read)

    async def fork(self, channel: socket.socket, environment: Mapping[str, str]) -> ForkedProcess:
        """A new worker whose end of the channel is ``channel``, whose variables are
        ``environment`` (its function's, and only those)."""
        async with self._forking:
            if not self.alive:
                raise ForkServerError("the fork server has exited")
            self.used = time.monotonic()
            request = {"type": "fork", "environment": dict(environment)}
            await self._send(request, fds=[channel.fileno()])
            forked = await self._forked.get()
        if forked is None:
            raise ForkServerError("the fork server exited while forking")
        return forked

    async def _send(self, message: dict[str, Any], fds: list[int] | None = None) -> None:
        data = json.dumps(message, separators=(",", ":")).encode("utf-8")
        while True:
            try:
                socket.send_fds(self._control, [data], fds or [])
                return
            except BlockingIOError:
                await asyncio.sleep(0.001)

    async def _receive(self) -> dict[str, Any]:
        data = await asyncio.get_running_loop().sock_recv(self._control, MAX_PACKET_BYTES)
        if not data:
            raise ConnectionError("the fork server closed its channel")
        message = json.loads(data)
        if not isinstance(message, dict):
            raise ValueError("not a JSON object")
        return message

    async def _read(self) -> None:
        """Forks and exits, as the server reports them. When it goes, so do its forks:
        nobody would report their ends."""
        try:
            while True:
                message = await self._receive()
                if message.get("type") == "forked":
                    forked = ForkedProcess(int(message["pid"]))
                    self._children[forked.pid] = forked
                    self._forked.put_nowait(forked)
                elif message.get("type") == "exited":
                    child = self._children.pop(int(message["pid"]), None)
                    if child is not None:
                        child.exited(int(message["code"]))
        except (ConnectionError, OSError, ValueError):
            pass
        finally:
            for child in self._children.values():
                child.kill()
                child.exited(KILLED)
            self._children.clear()
            self._forked.put_nowait(None)

    def retire(self) -> None:
        """Fork no more: the server exits once its forks have (their ends are still
        reported)."""
        self._retired = True
        with contextlib.suppress(OSError):
            self._control.shutdown(socket.SHUT_WR)

    def kill(self) -> None:
        """End it and its forks now."""
        for child in self._children.values():
            child.kill()
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()

    async def stop(self) -> None:
        """Retire it and wait until it has exited; its forks must be stopping too."""
        self.retire()
        try:
            async with asyncio.timeout(5):
                await self.process.wait()
        except TimeoutError:
            self.kill()
            await self.process.wait()
        if self._reader is not None:
            await self._reader
        self._control.close()


class ForkServers:
    """The stage's fork servers, each shared by every function whose libraries import the
    same: the same ``fork_server_key``, and the same value of each variable the server's
    preload read (``ForkServer.serves``); a function that differs gets a server of its
    own. A server lives while a worker it forked does (the idle worker a pool keeps warm
    is a fork): one with no fork left that has not forked within the idle limit is
    stopped (``reap``)."""

    def __init__(self) -> None:
        self._modules: dict[tuple[str, ...], list[tuple[str, str]]] = {}
        self._servers: list[ForkServer] = []
        self._keys: dict[ForkServer, tuple[str, ...]] = {}
        self._shadowed: dict[
            tuple[tuple[str, ...], tuple[Path, ...]], tuple[tuple[int, ...], str | None]
        ] = {}
        self._starting = asyncio.Lock()
        self._closed = False

    def __iter__(self) -> Iterator[ForkServer]:
        return iter(list(self._servers))

    def learn(
        self, launch: WorkerLaunch, modules: list[tuple[str, str]], code_dirs: Iterable[Path]
    ) -> None:
        """What a first worker's init imported (name, file): its ``preloadable`` modules
        are what every server of its key imports ahead. The first worker to say is kept."""
        key = fork_server_key(launch)
        if key not in self._modules:
            chosen = set(preloadable(modules, code_dirs))
            self._modules[key] = [
                (name, os.path.realpath(file)) for name, file in modules if name in chosen
            ]  # resolved once: every fork checks them against its function's folders

    def knows(self, launch: WorkerLaunch) -> bool:
        """A worker of ``launch``'s key has shown which libraries to preload."""
        return fork_server_key(launch) in self._modules

    async def server_for(
        self,
        launch: WorkerLaunch,
        code_dirs: Iterable[Path],
        log_stream: IO[str] | None,
        timeout: float,
    ) -> ForkServer:
        """A server that may fork a worker of ``launch`` (a function's environment): a
        running one of its key that ``serves`` it, else a new one started in its
        environment. Raises ForkServerError when it cannot start, when the stage is
        stopping, or when a library of its key's preload is in ``code_dirs`` (that
        function's code is never imported ahead) or is shadowed by a module of the same
        name there (``shadowed``)."""
        key = fork_server_key(launch)
        modules = self._modules[key]
        code_dirs = tuple(code_dirs)
        roots = _roots(code_dirs)
        clash = [name for name, resolved in modules if resolved.startswith(roots)]
        if clash:
            raise ForkServerError(f"the fork server would import this function's {clash[0]}")
        own = self._shadowing(key, code_dirs)
        if own is not None:
            raise ForkServerError(
                f"the fork server imports {own}, which this function has its own of"
            )
        async with self._starting:
            running = self.running_for(launch)
            if running is not None:
                running.used = time.monotonic()
                return running
            if self._closed:
                raise ForkServerError("the stage is stopping")
            server = await ForkServer.start(
                launch.command, launch.environment, [n for n, _ in modules], log_stream, timeout
            )
            if self._closed:  # stopped while it started: it forks nothing
                await server.stop()
                raise ForkServerError("the stage is stopping")
            self._servers.append(server)
            self._keys[server] = key
            return server

    def _shadowing(self, key: tuple[str, ...], code_dirs: tuple[Path, ...]) -> str | None:
        """``shadowed`` for a function's folders, looked up once while they are unchanged
        (a module added at their top, or a rebuild that replaces them, changes their
        mtime), not for every fork."""
        try:
            mtimes = tuple(folder.stat().st_mtime_ns for folder in code_dirs)
        except OSError:
            mtimes = ()
        seen = self._shadowed.get((key, code_dirs))
        if seen is None or seen[0] != mtimes:
            names = (name for name, _ in self._modules[key])
            seen = self._shadowed[key, code_dirs] = (mtimes, shadowed(names, code_dirs))
        return seen[1]

    def running_for(self, launch: WorkerLaunch) -> ForkServer | None:
        """A running server that may fork a worker of ``launch``, if there is one."""
        key = fork_server_key(launch)
        return next(
            (
                server
                for server in self._servers
                if self._keys[server] == key and server.alive and server.serves(launch.environment)
            ),
            None,
        )

    async def reap(self, now: float, idle_s: float) -> None:
        """Stop the servers that exited, and those with no fork left that have not
        forked within ``idle_s``."""
        for server in list(self._servers):
            if not server.alive or (not server.forks and now - server.used > idle_s):
                self._forget(server)
                await server.stop()

    async def close(self) -> None:
        """Stop them all (their forks must be stopping too)."""
        self._closed = True
        async with self._starting:
            servers = list(self._servers)
            for server in servers:
                self._forget(server)
        await asyncio.gather(*(server.stop() for server in servers))

    def kill(self) -> None:
        """End them and their forks now."""
        self._closed = True
        for server in self._servers:
            server.kill()

    def _forget(self, server: ForkServer) -> None:
        self._servers.remove(server)
        self._keys.pop(server, None)
