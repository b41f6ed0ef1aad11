"""Lambda execution environments as long-lived worker processes, in any language: the
language's part (building the code, the command and environment, the debugger, a fork
server or none) is a ``WorkerLanguage`` (``wslocal.runtime.languages``), the rest is here.

One ``WorkerPool`` per function: it starts workers ahead of the first call (prewarm),
reuses warm ones (the most recently used first), grows with concurrent calls as its
growth policy decides (``wslocal.runtime.growth``: by default a call waits for a warm
environment when one will be free before a new one could start) up to ``max_workers``,
and then queues callers, served in the order they came; as Lambda reclaims idle
execution environments, workers idle longer than ``idle_worker_s`` are stopped, down to
one warm worker. A worker that crashes or overruns the function's Timeout is killed and
replaced; its caller gets an InvocationError. Requests and results cross a socketpair as
frames (``wslocal.runtime.framing``); the worker's stdout and stderr are its logs.

The first worker of the first function starts as a process of its own; the ones after
it are forked from a fork server shared by the functions whose libraries import the same
(``wslocal.runtime.forking``), which has the libraries that first worker imported already
loaded: a worker added in a burst, after an edit, or for another function then costs its
handler's init, not a new interpreter and boto3 again, and shares the libraries' memory.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wslocal.exceptions import (
    HandlerError,
    InvocationTimeoutError,
    PoolRetiredError,
    ThrottledError,
    WorkerCrashedError,
)
from wslocal.runtime import growth
from wslocal.runtime import worker as environment
from wslocal.runtime.forking import (
    ForkedProcess,
    ForkServer,
    ForkServerError,
    ForkServers,
)
from wslocal.runtime.growth import PoolState, Start, Timings
from wslocal.runtime.languages import Debugging, WorkerLanguage
from wslocal.runtime.languages.python import PYTHON
from wslocal.runtime.settings import RuntimeSettings
from wslocal.runtime.worker import Worker
from wslocal.template import FunctionModel


class WorkerPool:
    """The execution environments of one function, in any language: ``language`` says
    how a worker starts, the pool does the rest. Under ``debug`` the pool has one worker,
    started on its own (never forked: the debugger attaches to that process), and its
    calls have no time limit (a paused handler would otherwise be killed). Its workers
    are forked by ``fork_servers``, the stage's (shared with the other functions), or
    servers of its own when None."""

    def __init__(
        self,
        function: FunctionModel,
        settings: RuntimeSettings,
        language: WorkerLanguage = PYTHON,
        debug: Debugging | None = None,
        fork_servers: ForkServers | None = None,
    ) -> None:
        self.function = function
        self.language = language
        self.debug = debug
        self._settings = settings
        self._max_workers = 1 if debug is not None else settings.max_workers
        self._idle: list[Worker] = []
        self._busy: dict[Worker, float] = {}
        """Each worker in a call, and when the call began (``time.monotonic``)."""
        self._starting: list[float] = []
        """When each worker being started began starting."""
        self._lock = asyncio.Lock()
        self._waiting: list[asyncio.Condition] = []
        """A ticket for each call waiting for a worker, the longest waiting first: a
        worker freed wakes the call whose turn it is (``_wake``), not whichever waited
        on it last (a held call's wait ends on its timer, and it waits again)."""
        self._held = 0
        """Of those, the ones the growth policy keeps waiting (each would have its own
        environment on Lambda: they count towards reserved concurrency)."""
        self._growth = growth.POLICIES[settings.pool_growth](growth.available_cores())
        self.timings = Timings()
        self._size = 0
        self._ended = asyncio.Condition(self._lock)
        self._closed = False
        self._generation = 0
        self.cold_starts = 0
        self.forks = 0
        """Cold starts forked from the fork server."""
        self._fork_servers = fork_servers if fork_servers is not None else ForkServers()
        self._own_fork_servers = fork_servers is None
        self._fork_server: ForkServer | None = None
        self._forking_off = debug is not None or not settings.fork_workers
        self._predecessor: WorkerPool | None = None
        self._stopping: set[Worker] = set()

    def follow(self, predecessor: WorkerPool) -> None:
        """Under a debugger, the pool this one replaced after an edit: its worker may be
        paused in the debugger, holding the debug port; this pool's first worker starts
        once that one has ended, so the new code runs under the debugger too (and a
        client that reconnects, VS Code's ``"restart": true``, finds it)."""
        self._predecessor = predecessor

    async def ended(self) -> None:
        """Return once the pool is retired or closed and its last busy call has returned
        (its worker stopped)."""
        async with self._lock:
            await self._ended.wait_for(
                lambda: self._closed and not self._busy and not self._stopping
            )

    @property
    def size(self) -> int:
        """Worker processes alive or starting."""
        return self._size

    @property
    def busy(self) -> int:
        """Calls in flight."""
        return len(self._busy)

    @property
    def fork_server(self) -> ForkServer | None:
        """The fork server its last fork came from, while it forks."""
        server = self._fork_server
        return server if server is not None and server.alive else None

    @property
    def _call_timeout(self) -> float | None:
        """The function's Timeout; none while a debugger may hold the call."""
        return None if self.debug is not None else self.function.timeout

    def idle_pids(self) -> list[int]:
        """Process ids of the warm workers waiting for a call."""
        return [worker.process.pid for worker in self._idle]

    async def prewarm(self) -> None:
        """Start one worker now, so the first call finds a warm environment; none when
        the pool has one already (a call came first), or while the pool it follows still
        holds the debug port (its first call starts it)."""
        if self._predecessor is not None and self._predecessor.busy:
            return
        async with self._lock:
            if self._size:
                return
            self._size += 1
        worker = await self._start()
        await self._release(worker)

    async def invoke(self, event: Mapping[str, Any], request_id: str, label: str = "") -> Any:
        """Run the handler once; return its result or raise an InvocationError."""
        worker = await self._acquire()
        began = time.monotonic()
        self._busy[worker] = began
        deadline = time.time() + self.function.timeout
        request = {
            "type": "invoke",
            "requestId": request_id,
            "event": event,
            "deadlineMs": int(deadline * 1000),
            "label": label,
        }
        kill = self._injected_kill(worker, request_id)
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancellation that
            # arrives as the call completes (CPython gh-86296), and the caller never stops.
            async with asyncio.timeout(self._call_timeout):
                reply = await worker.invoke(request)
            if kill is not None:  # the call ended first: it crashes now, its work done
                kill.cancel()
                if kill.when() > asyncio.get_running_loop().time():
                    self._log(f"{request_id} fault injected: worker killed as the call returned")
                worker.kill()
                raise WorkerCrashedError("the worker process was killed (an injected fault)")
        except TimeoutError:
            self._busy.pop(worker, None)
            self._log(f"{request_id} Task timed out after {self.function.timeout:.2f} seconds")
            await self._discard(worker)
            raise InvocationTimeoutError(
                f"{self.function.logical_id} timed out after {self.function.timeout} s"
            ) from None
        except BaseException:
            self._busy.pop(worker, None)
            await self._discard(worker)
            raise
        finally:
            if kill is not None:
                kill.cancel()
        self._busy.pop(worker, None)
        self.timings.returned(time.monotonic() - began)
        await self._release(worker)
        if not reply.get("ok"):
            raise HandlerError(reply.get("error") or {})
        return reply.get("result")

    def _injected_kill(self, worker: Worker, request_id: str) -> asyncio.TimerHandle | None:
        """Arm the kill ``--inject-faults`` asks for, if any, for this call."""
        faults = self._settings.faults
        after = faults.kill_after_s() if faults is not None else None
        if after is None:
            return None

        def kill() -> None:
            self._log(f"{request_id} fault injected: worker killed after {after * 1000:.0f} ms")
            worker.kill()

        return asyncio.get_running_loop().call_later(after, kill)

    async def reload(self) -> int:
        """New code: idle workers are stopped now, busy ones when their call returns;
        the next call starts a worker that imports the handler again. Return how many
        idle workers were stopped."""
        async with self._lock:
            self._generation += 1
            stale, self._idle = self._idle, []
            self._size -= len(stale)
            self._wake()
        await asyncio.gather(*(worker.stop() for worker in stale))
        return len(stale)

    async def reap(self, now: float) -> int:
        """Stop the workers idle for longer than ``idle_worker_s``, keeping one warm: the
        most recently used fork if there is one (it shares the libraries' memory with the
        other functions' forks), else the most recently used; a kept worker started on
        its own, idle that long, is then replaced by a fork when one can be made. Return
        how many were stopped."""
        limit = self._settings.idle_worker_s
        if limit <= 0:
            return 0
        async with self._lock:
            forks = [w for w in self._idle if isinstance(w.process, ForkedProcess)]
            keep = (forks or self._idle)[-1:]
            stale = [w for w in self._idle if w not in keep and now - w.idle_since > limit]
            self._idle = [w for w in self._idle if w not in stale]
            self._size -= len(stale)
            self._wake()
        await asyncio.gather(*(worker.stop() for worker in stale))
        if keep and now - keep[0].idle_since > limit:
            await self._replace_with_a_fork(keep[0])
        if self._own_fork_servers:
            await self._fork_servers.reap(now, limit)
        return len(stale)

    async def _replace_with_a_fork(self, own: Worker) -> None:
        """Fork a worker to keep warm in place of ``own``, one started on its own (the
        first, which showed the libraries to preload), as Lambda replaces an idle
        execution environment; ``own`` stops unless a call took it meanwhile. Only from
        a fork server running for other workers already: one started for this worker
        alone would hold more than it saves."""
        if isinstance(own.process, ForkedProcess):
            return
        launch = self.language.fork_server(self.function, self._settings)
        if self._forking_off or launch is None or not self._fork_servers.running_for(launch):
            return
        async with self._lock:  # the limit checked where a concurrent start counts
            if self._size >= self._max_workers:
                return
            self._size += 1
        try:
            fork = await self._start()
        except Exception as exc:  # the kept worker stays: nothing is lost
            self._log(f"no fork replaces the idle worker: {exc}")
            return
        await self._release(fork)
        async with self._lock:
            if own not in self._idle:
                return  # a call has it: the next pass stops it
            self._idle.remove(own)
            self._size -= 1
            self._wake()
        await own.stop()

    async def retire(self) -> None:
        """The function was replaced or removed: idle workers stop now, busy ones when
        their call returns."""
        self._closed = True
        async with self._lock:
            idle, self._idle = self._idle, []
            self._wake()
            self._ended.notify_all()
        await asyncio.gather(*(self._stop(worker) for worker in idle))
        async with self._lock:
            self._ended.notify_all()
        self._fork_server = None
        if self._own_fork_servers:
            await self._fork_servers.close()

    def kill(self) -> None:
        """Kill every worker, idle or busy, at once; calls in flight fail."""
        self._closed = True
        for worker in (*self._idle, *self._busy):
            worker.kill()
        if self._own_fork_servers:
            self._fork_servers.kill()

    async def close(self) -> None:
        """Stop every worker: idle ones, and busy ones (their calls fail), so nothing
        outlives the pool."""
        for worker in self._busy:
            worker.kill()
        await self.retire()

    async def _start(self) -> Worker:
        generation = self._generation
        began = time.monotonic()
        self._starting.append(began)
        try:
            await self._after_predecessor()
            fork_server = await self._ready_fork_server()
            try:
                worker = await Worker.start(
                    self.function,
                    self._settings,
                    self.language,
                    fork_server=fork_server,
                    debug=self.debug,
                )
            except ForkServerError:
                fork_server = None
                worker = await Worker.start(
                    self.function, self._settings, self.language, debug=self.debug
                )
        except BaseException:
            async with self._lock:
                self._size -= 1
                self._wake()
            raise
        finally:
            self._starting.remove(began)
        self.timings.started(time.monotonic() - began)
        self.cold_starts += 1
        self.forks += fork_server is not None
        worker.generation = generation
        launch = self.language.fork_server(self.function, self._settings)
        learns = self.debug is None and worker.init_error is None  # no debugger preloaded
        if launch is not None and learns and worker.modules:
            self._fork_servers.learn(launch, worker.modules, self._code_dirs)
        worker.modules = []
        return worker

    @property
    def _code_dirs(self) -> tuple[Path, ...]:
        """What the user edits: never imported by a fork server."""
        return (self.function.code_dir, *self.function.layer_dirs)

    async def _after_predecessor(self) -> None:
        predecessor, self._predecessor = self._predecessor, None
        if predecessor is None:
            return
        if predecessor.busy:
            self._log(
                "the edited code's worker starts once the call the debugger holds returns"
                " (it keeps the debug port until then)"
            )
        await predecessor.ended()

    async def _ready_fork_server(self) -> ForkServer | None:
        """A fork server for this function (shared, ``ForkServers``), started on the
        first need once a worker of its key has shown which libraries to load; None
        while nothing is known, or when forking is off or failed here (workers then
        start as processes of their own)."""
        if self._forking_off or self._closed:
            return None
        launch = self.language.fork_server(self.function, self._settings)
        if launch is None or not self._fork_servers.knows(launch):
            return None
        try:
            self._fork_server = await self._fork_servers.server_for(
                launch, self._code_dirs, self._settings.log_stream, environment.INIT_TIMEOUT_S
            )
        except ForkServerError as exc:
            self._forking_off = True
            self._log(f"workers start on their own from now on: {exc}")
            return None
        return None if self._closed else self._fork_server

    async def _acquire(self) -> Worker:
        """A warm worker, or a new one when the growth policy says so, while the pool is
        under its limit; else wait (the stage's own bound), or, at the function's reserved
        concurrency, throttle. A call the policy holds asks it again each time its timed
        wait runs out, with how long it has been held and whether calls returned meanwhile (the
        policy bounds the hold). A worker started for it is logged with its pid, the
        policy's reason and how long the call was held."""
        dead: list[Worker] = []
        warm: Worker | None = None
        started_for = ""
        held_since: float | None = None
        held_until: float | None = None
        held_behind = 0
        returned = 0
        ticket = asyncio.Condition(self._lock)
        async with self._lock:
            self._admit()
            self._waiting.append(ticket)
            try:
                while warm is None:
                    if self._closed:
                        raise PoolRetiredError(
                            f"{self.function.logical_id}'s workers were replaced"
                        )
                    turn = self._waiting.index(ticket)
                    if turn < len(self._idle):  # the calls ahead of it have theirs
                        candidate = self._idle.pop()
                        if candidate.process.returncode is None:
                            warm = candidate
                        else:  # died while idle (killed, crashed): replace it
                            dead.append(candidate)
                            self._size -= 1
                            self._wake()
                        continue
                    timeout: float | None = None
                    if self._size < self._max_workers:
                        now = time.monotonic()
                        if held_until is None or now >= held_until:
                            ahead = turn - len(self._idle)  # the free ones are theirs
                            decision = self._growth.decide(
                                self._state(now, ahead, held_since, returned, held_behind)
                            )
                            if isinstance(decision, Start):
                                started_for = decision.reason
                                if held_since is not None:
                                    started_for += f", held {now - held_since:.2f} s"
                                break
                            if held_since is None:
                                self._held += 1
                                held_since, held_behind = now, ahead
                            held_until = decision.until
                            returned = self.timings.returns
                        timeout = max(held_until - now, 0.0)
                    try:
                        async with asyncio.timeout(timeout):
                            await ticket.wait()
                    except TimeoutError:  # held long enough (a timer may fire a tick early)
                        held_until = None  # the policy is asked again
                if warm is None:
                    self._size += 1
            finally:
                self._waiting.remove(ticket)
                if warm is None and not started_for:  # leaving unserved: its turn passes on
                    self._wake(len(self._idle))
                if held_since is not None:
                    self._held -= 1
        for worker in dead:
            await worker.stop()
        if warm is not None:
            return warm
        worker = await self._start()
        self._log(f"worker {worker.process.pid} started for a call: {started_for}")
        return worker

    def _wake(self, count: int | None = None) -> None:
        """Wake the first ``count`` calls waiting for a worker, the lock held: a worker
        freed, or a call leaving the line unserved, wakes the calls the free workers are
        for (a call woken twice before it runs is woken once); room to start one or the
        pool closed wakes every call (None), and each looks again (``_acquire``): no call
        waits without a timer while the pool has room."""
        for ticket in self._waiting[:count]:
            ticket.notify()

    def _admit(self) -> None:
        """Throttle a call when the calls at work, the workers starting and the calls the
        growth policy keeps waiting (each would have its environment on Lambda) reach
        the function's reserved concurrency; a free worker counts as in use once a call
        ahead is about to take it (that call is held), and a pool a fork replacing an
        idle worker left one over the reserve lets no call take the extra one."""
        reserved = self.function.reserved_concurrency
        if reserved is None:
            return
        in_use = self._size - len(self._idle) + self._held  # busy, starting, held
        if in_use >= reserved:
            raise ThrottledError(
                f"{self.function.logical_id}: Rate Exceeded (reserved concurrency "
                f"{reserved} in use)"
            )

    def _state(
        self, now: float, ahead: int, held_since: float | None, returned: int, held_behind: int
    ) -> PoolState:
        """The pool as the policy sees it, for a call with ``ahead`` calls waiting before
        it beyond those the free workers are for (those count as busy from now), held
        since ``held_since`` (None: it has just arrived) behind ``held_behind`` calls,
        when the pool had returned ``returned`` calls."""
        return PoolState(
            now=now,
            busy_since=[*self._busy.values(), *[now] * len(self._idle)],  # theirs, now
            starting_since=list(self._starting),
            waiting=ahead,
            cold_start_s=self.timings.cold_start_s,
            call_s=self.timings.call_s,
            runnable=growth.runnable_tasks(),
            held_s=None if held_since is None else now - held_since,
            returned_while_held=held_since is not None and self.timings.returns > returned,
            ahead_when_held=None if held_since is None else held_behind,
        )

    async def _release(self, worker: Worker) -> None:
        if self._closed:  # retired: no more calls here; callers waiting go to the new pool
            await self._discard(worker)
            return
        if worker.generation != self._generation:
            await self._discard(worker)
            return
        worker.idle_since = time.monotonic()
        async with self._lock:
            self._idle.append(worker)
            self._wake(len(self._idle))

    async def _stop(self, worker: Worker) -> None:
        """Stop a worker, known as stopping until its process has ended (``ended``)."""
        self._stopping.add(worker)
        try:
            await worker.stop()
        finally:
            self._stopping.discard(worker)

    async def _discard(self, worker: Worker) -> None:
        await self._stop(worker)
        async with self._lock:
            self._size -= 1
            self._wake()
            if self._closed:
                self._ended.notify_all()

    def _log(self, line: str) -> None:
        stream = self._settings.log_stream or sys.stdout
        stream.write(f"[{self.function.logical_id}] {line}\n")
        stream.flush()
