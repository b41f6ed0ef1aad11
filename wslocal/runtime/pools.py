"""The worker pools of every function a stage serves: invoke, prewarm, idle reaping,
and the swap of pools when an edited template redefines functions.

The stage holds one ``FunctionPools``; it knows nothing of processes. Each function's
pool is made by a factory (``WorkerPool`` with the function's language, by default), so
the tests here run on fake pools, and a second language is a second ``WorkerLanguage``,
not a branch in this module.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

from wslocal.exceptions import InvocationError, PoolRetiredError, WslocalError
from wslocal.runtime.forking import ForkServers
from wslocal.runtime.languages import Debugging, WorkerLanguage
from wslocal.runtime.languages.node import NODE
from wslocal.runtime.languages.python import PYTHON
from wslocal.runtime.settings import PreparedRuntime, RuntimeSettings
from wslocal.runtime.workers import WorkerPool
from wslocal.template import FunctionModel, StageModel
from wslocal.template.changes import TemplateChanges

log = logging.getLogger("wslocal")

MAX_REAP_INTERVAL_S = 5.0


class Pool(Protocol):
    """What the stage needs of one function's pool (``WorkerPool``)."""

    @property
    def busy(self) -> int: ...

    def idle_pids(self) -> list[int]: ...

    async def prewarm(self) -> None: ...

    async def invoke(self, event: Mapping[str, Any], request_id: str, label: str = "") -> Any: ...

    async def reload(self) -> int: ...

    async def reap(self, now: float) -> int: ...

    async def retire(self) -> None: ...

    def kill(self) -> None: ...

    async def close(self) -> None: ...


PoolFactory = Callable[[FunctionModel, RuntimeSettings, Debugging | None], Pool]

LANGUAGES: Mapping[str, WorkerLanguage] = {"python": PYTHON, "nodejs": NODE}
"""A function's language by its runtime's prefix (``python3.13`` -> ``python``,
``nodejs20.x`` -> ``nodejs``): the one place a runtime picks its workers."""


def language_of(function: FunctionModel) -> WorkerLanguage:
    """The language whose workers run ``function``, from its ``Runtime``."""
    for prefix, language in LANGUAGES.items():
        if function.runtime.startswith(prefix):
            return language
    raise WslocalError(f"{function.logical_id}: no worker runs the runtime {function.runtime!r}")


def prepare_runtimes(
    model: StageModel, cache: Path, build: bool, debugged: Collection[str] = ()
) -> dict[str, PreparedRuntime]:
    """Each function's runtime, as its language prepares it (``WorkerLanguage.prepare``).
    Raises BuildError."""
    prepared: dict[str, PreparedRuntime] = {}
    for language in LANGUAGES.values():
        prepared.update(language.prepare(model, cache, build, debugged))
    return prepared


def worker_pool(
    function: FunctionModel,
    settings: RuntimeSettings,
    debug: Debugging | None,
    fork_servers: ForkServers | None = None,
) -> WorkerPool:
    """The pool of real worker processes, in the function's language, forked by
    ``fork_servers`` (shared with the other functions' pools)."""
    return WorkerPool(function, settings, language_of(function), debug, fork_servers)


def pools_to_replace(
    changes: TemplateChanges,
    running: Iterable[str],
    *,
    builds_changed: Iterable[str] = (),
    endpoints_changed: bool = False,
) -> set[str]:
    """The running functions whose workers must be replaced after an edit: those gone or
    redefined, those built differently, and all of them when the engines' endpoints or
    the API (the address the workers post to) changed. The others keep their warm workers."""
    running = set(running)
    if endpoints_changed or changes.api_replaced:
        return running
    return (set(changes.functions.gone_or_changed) | set(builds_changed)) & running


class FunctionPools:
    """One pool per function, by logical id. ``debug`` names the functions run under a
    debugger (their pool has one worker, listening on the port given). The pools of real
    workers (the default factory) share ``fork_servers``: one fork server for every
    function whose libraries import the same."""

    def __init__(
        self,
        *,
        new_id: Callable[[], str],
        prewarm: bool = True,
        idle_worker_s: float = 0.0,
        debug: Mapping[str, Debugging] | None = None,
        pool_factory: PoolFactory | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._new_id = new_id
        self._prewarm_pools = prewarm
        self._idle_worker_s = idle_worker_s
        self.debug = dict(debug or {})
        self.fork_servers = ForkServers()
        self._pool_factory = pool_factory or functools.partial(
            worker_pool, fork_servers=self.fork_servers
        )
        self._clock = clock
        self._pools: dict[str, Pool] = {}
        self._retired: list[Pool] = []
        """Replaced pools still finishing calls; closed with the rest when the stage stops."""
        self._warming: dict[str, asyncio.Future[None]] = {}
        """The prewarms in flight, by function: a call to one waits for its worker."""

    def __getitem__(self, function: str) -> Pool:
        return self._pools[function]

    def __contains__(self, function: object) -> bool:
        return function in self._pools

    def __iter__(self) -> Iterator[str]:
        return iter(self._pools)

    def __len__(self) -> int:
        return len(self._pools)

    @property
    def retired(self) -> int:
        """Replaced pools whose calls have not all returned yet."""
        return len(self._retired)

    async def start(
        self,
        functions: Mapping[str, FunctionModel],
        settings: RuntimeSettings,
        prewarm: Collection[str] | None = None,
    ) -> None:
        """A pool for each function, one worker of each of ``prewarm`` (all when None)
        started ahead (with ``prewarm`` on); the others with ``prewarm_rest``. With all
        of them ahead, the first starts alone: it shows the libraries to preload, and
        the others are forked with them (less CPU than as many interpreters at once, and
        their memory shared)."""
        self._pools = {
            name: self._new_pool(function, settings) for name, function in functions.items()
        }
        names = [name for name in self._pools if prewarm is None or name in prewarm]
        if prewarm is None:
            await self._prewarm(names[:1])
            names = names[1:]
        await self._prewarm(names)

    async def prewarm_rest(self, started: Collection[str]) -> None:
        """One worker of each function not in ``started`` (those ``start`` prewarmed),
        unless a call has started one meanwhile."""
        await self._prewarm([name for name in self._pools if name not in started])

    async def invoke(self, function: str, event: Mapping[str, Any], label: str = "") -> Any:
        """Run a function once, in its warm pool; a call that was waiting for a worker
        when a swap replaced the pool runs on the new one. A call that comes while the
        function's first worker is starting ahead (``prewarm_rest``, after a swap) waits
        for that worker rather than start a second cold one beside it."""
        warming = self._warming.get(function)
        if warming is not None:
            await asyncio.wait([warming])  # however it ends, the prewarm logs it
        while True:
            pool = self._pools.get(function)
            if pool is None:
                raise InvocationError(f"{function} is not a function of the template now")
            try:
                return await pool.invoke(event, self._new_id(), label)
            except PoolRetiredError:
                if self._pools.get(function) is pool:  # closed, not replaced: stopping
                    raise InvocationError(f"{function}: the stage is stopping") from None

    async def reload(self, function: str) -> None:
        """New code for ``function``: its workers are replaced (calls in flight finish)."""
        await self._pools[function].reload()

    async def swap(
        self,
        functions: Mapping[str, FunctionModel],
        settings: RuntimeSettings,
        replaced: Iterable[str],
    ) -> list[str]:
        """After an edit: the pools of ``replaced`` functions and of functions gone are
        retired, new pools are made for those and for new functions, all in one swap
        (calls in flight finish on the old workers, new calls go to the new); the others
        keep their warm workers. Return the functions given new pools (prewarmed)."""
        replaced = set(replaced)
        kept = {
            name: pool
            for name, pool in self._pools.items()
            if name not in replaced and name in functions
        }
        added = sorted(set(functions) - set(kept))
        retiring = [pool for name, pool in self._pools.items() if name not in kept]
        fresh = {name: self._new_pool(functions[name], settings) for name in added}
        for name, pool in fresh.items():
            old = self._pools.get(name)
            if name in self.debug and isinstance(pool, WorkerPool) and isinstance(old, WorkerPool):
                pool.follow(old)
        self._pools = {**kept, **fresh}
        await asyncio.gather(*(pool.retire() for pool in retiring))
        self._retired = [pool for pool in (*self._retired, *retiring) if pool.busy]
        await self._prewarm(added)
        return added

    async def reap_idle(self) -> None:
        """One pass: stop the workers idle too long, in every pool, then the fork servers
        no worker came from in that time."""
        now = self._clock()
        for pool in list(self._pools.values()):
            await pool.reap(now)
        await self.fork_servers.reap(now, self._idle_worker_s)

    async def reap_forever(self) -> None:
        """Give idle workers' memory back, as Lambda reclaims idle environments (a
        background task of the stage; nothing to do when ``idle_worker_s`` is 0)."""
        if self._idle_worker_s <= 0:
            return
        while True:
            await asyncio.sleep(min(self._idle_worker_s / 4, MAX_REAP_INTERVAL_S))
            await self.reap_idle()

    async def close(self) -> None:
        """Stop every worker of every pool, the retired ones' too."""
        await asyncio.gather(*(pool.close() for pool in (*self._pools.values(), *self._retired)))
        await self.fork_servers.close()

    def kill(self) -> None:
        """Kill every worker now (a second Ctrl-C)."""
        for pool in (*self._pools.values(), *self._retired):
            pool.kill()
        self.fork_servers.kill()

    def _new_pool(self, function: FunctionModel, settings: RuntimeSettings) -> Pool:
        return self._pool_factory(function, settings, self.debug.get(function.logical_id))

    async def _prewarm(self, functions: list[str]) -> None:
        """Start one worker of each; one that cannot start (its import hangs past init's
        10 s) is said, not fatal: the stage serves the rest, and its first call tries
        again."""
        if not self._prewarm_pools:
            return
        warming = {name: asyncio.ensure_future(self._pools[name].prewarm()) for name in functions}
        self._warming.update(warming)
        try:
            results = await asyncio.gather(*warming.values(), return_exceptions=True)
        finally:
            for name, started in warming.items():
                if self._warming.get(name) is started:
                    del self._warming[name]
        for name, result in zip(functions, results, strict=True):
            if isinstance(result, Exception):
                log.error("%s did not start: %s", name, result)
