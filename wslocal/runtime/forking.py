"""The stage's side of a function's fork server (``wslocal.runtime.forkserver``).

A pool learns from its first worker which library modules the handler's init imports
(``preloadable``); when it needs more workers, one fork server per function imports those
once and forks each new worker from them, so a burst of calls pays one library import
instead of one per worker. The forks are the fork server's children: it reports each
one's exit, and the stage waits on that (``ForkedProcess``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from wslocal import lifeline
from wslocal.exceptions import WslocalError
from wslocal.runtime.forkserver import MAX_PACKET_BYTES
from wslocal.runtime.open_files import keep_lambda_limit

KILLED = -signal.SIGKILL


class ForkServerError(WslocalError):
    """The fork server could not start, or cannot fork (the pool starts workers itself)."""


def preloadable(modules: Iterable[tuple[str, str]], code_dirs: Iterable[Path]) -> list[str]:
    """The modules a fork server may import ahead, in import order: every one whose file
    is outside the function's code and layer folders (those change as the user edits and
    are imported by each worker), and not wslocal's own."""
    roots = [str(path.resolve()) + os.sep for path in code_dirs]
    chosen = []
    for name, file in modules:
        if name.split(".")[0] == "wslocal":
            continue
        resolved = os.path.realpath(file)
        if any(resolved.startswith(root) or file.startswith(root) for root in roots):
            continue
        chosen.append(name)
    return chosen


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
    """One function's fork server process and its control channel."""

    def __init__(self, process: asyncio.subprocess.Process, control: socket.socket) -> None:
        self.process = process
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
        server = cls(process, parent)
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
        server._reader = asyncio.create_task(server._read())
        return server

    @property
    def alive(self) -> bool:
        """It can fork: running, its channel open, not retired."""
        reading = self._reader is not None and not self._reader.done()
        return self.process.returncode is None and reading and not self._retired

    async def fork(self, channel: socket.socket) -> ForkedProcess:
        """A new worker whose end of the channel is ``channel``."""
        async with self._forking:
            if not self.alive:
                raise ForkServerError("the fork server has exited")
            await self._send({"type": "fork"}, fds=[channel.fileno()])
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
