"""One Lambda execution environment: a worker process of any language, started (on its
own or forked from its function's fork server), given calls as frames over a
socketpair (``wslocal.runtime.framing``), stopped. ``WorkerPool``
(``wslocal.runtime.workers``) decides when.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from typing import Any

from wslocal import lifeline
from wslocal.exceptions import InvocationTimeoutError, WorkerCrashedError
from wslocal.runtime.forking import ForkedProcess, ForkServer
from wslocal.runtime.framing import HEADER, decode_payload, encode_frame, frame_length
from wslocal.runtime.languages import Debugging, WorkerLanguage
from wslocal.runtime.languages.python import PYTHON
from wslocal.runtime.open_files import keep_lambda_limit
from wslocal.runtime.settings import RuntimeSettings
from wslocal.template import FunctionModel

CHANNEL_CLOSED_GRACE_S = 5.0
INIT_TIMEOUT_S = 10.0
"""Lambda gives a function's init (importing the handler) 10 seconds."""


class Worker:
    """One execution environment: a process and the channel to it."""

    def __init__(
        self,
        process: asyncio.subprocess.Process | ForkedProcess,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.process = process
        self._reader = reader
        self._writer = writer
        self.init_ms: float = 0.0
        self.init_error: dict[str, Any] | None = None
        self.idle_since = time.monotonic()
        self.generation = 0
        """The pool's code generation the worker imported; older ones are replaced."""
        self.modules: list[tuple[str, str]] = []
        """What its init imported (name, file), for the pool's fork server."""

    @classmethod
    async def start(
        cls,
        function: FunctionModel,
        settings: RuntimeSettings,
        language: WorkerLanguage = PYTHON,
        *,
        fork_server: ForkServer | None = None,
        debug: Debugging | None = None,
    ) -> Worker:
        """A new worker: forked by ``fork_server``, else a process of its own started as
        ``language`` says; under ``debug`` its init has no time limit (it may be paused
        at a breakpoint)."""
        parent, child = socket.socketpair()
        try:
            process: asyncio.subprocess.Process | ForkedProcess
            launch = await language.launch(function, settings, debug)
            if fork_server is not None:  # the same environment as on its own
                process = await fork_server.fork(child, launch.environment)
            else:
                # it watches the stage's lifeline itself: it ends when the stage does
                variable, fds = lifeline.inherited()
                process = await asyncio.create_subprocess_exec(
                    *launch.command,
                    str(child.fileno()),
                    env={**launch.environment, **variable},
                    pass_fds=(child.fileno(), *fds),
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=settings.log_stream,
                    stderr=settings.log_stream,
                    # Its own process group: a terminal's Ctrl-C reaches the stage alone,
                    # which runs $disconnect on live workers before it stops them.
                    start_new_session=True,
                )
                keep_lambda_limit(process.pid)
        except BaseException:
            parent.close()
            raise
        finally:
            child.close()
        reader, writer = await asyncio.open_connection(sock=parent)
        worker = cls(process, reader, writer)
        try:
            async with asyncio.timeout(None if debug is not None else INIT_TIMEOUT_S):
                ready = await worker._receive()
        except TimeoutError:
            await worker.stop()
            raise InvocationTimeoutError(
                f"{function.logical_id}: importing the handler did not finish within "
                f"{INIT_TIMEOUT_S:g} s (Lambda's limit for init); is an import waiting on "
                "something?"
            ) from None
        worker.init_ms = float(ready.get("initMs") or 0.0)
        worker.init_error = ready.get("error")
        worker.modules = [(str(name), str(file)) for name, file in ready.get("modules") or []]
        return worker

    async def _receive(self) -> dict[str, Any]:
        try:
            header = await self._reader.readexactly(HEADER.size)
            return decode_payload(await self._reader.readexactly(frame_length(header)))
        except (asyncio.IncompleteReadError, ConnectionError):
            try:  # its channel closed: it is exiting, or it is made to
                async with asyncio.timeout(CHANNEL_CLOSED_GRACE_S):
                    code = await self.process.wait()
            except TimeoutError:
                self.kill()
                code = await self.process.wait()
            raise WorkerCrashedError(f"the worker process exited with code {code}") from None

    async def invoke(self, request: dict[str, Any]) -> dict[str, Any]:
        self._writer.write(encode_frame(request))
        await self._writer.drain()
        return await self._receive()

    def kill(self) -> None:
        """End the process now (a second Ctrl-C)."""
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()

    async def stop(self) -> None:
        self._writer.close()
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()
