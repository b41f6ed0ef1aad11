"""LocalStage: the stage's lifecycle. It opens the port (the front door,
``wslocal.server.front_door``, serves it), starts a worker pool per function, the event
sources and the TTL sweeper, applies an edited template (read by
``wslocal.server.reload``) and stops it all in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from wslocal.apigateway import events
from wslocal.apigateway.connections import ConnectionRegistry
from wslocal.apigateway.gateway import WebSocketApi
from wslocal.apigateway.limits import GOING_AWAY, Limits
from wslocal.cache import cache_dir
from wslocal.engines.dynamodb import client as engine_client
from wslocal.engines.provisioning import Provisioned
from wslocal.engines.ttl import DEFAULT_SWEEP_INTERVAL_S, TtlDeletions, TtlSweeper, TtlTable
from wslocal.eventsources.mappings import EventSourceMappings
from wslocal.exceptions import WslocalError
from wslocal.faults import FaultPlan
from wslocal.runtime.languages import Debugging
from wslocal.runtime.pools import FunctionPools, pools_to_replace, prepare_runtimes
from wslocal.runtime.settings import (
    DEFAULT_IDLE_WORKER_S,
    DEFAULT_MAX_WORKERS,
    DEFAULT_POOL_GROWTH,
    PreparedRuntime,
    RuntimeSettings,
)
from wslocal.server.authorizing import Authorizing
from wslocal.server.front_door import FrontDoor
from wslocal.server.integrations import Integrations
from wslocal.server.proxy_api import ProxyApiDoor
from wslocal.server.reload import Reload, TemplateSource, read_edit
from wslocal.server.watcher import CodeWatcher, TemplateWatcher
from wslocal.supervision import supervised
from wslocal.template import ProxyApiModel, StageModel
from wslocal.template.changes import TemplateChanges

log = logging.getLogger("wslocal")

SHUTDOWN_GRACE_SECONDS = 10.0
STEP_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class StageConfig:
    host: str = "127.0.0.1"
    port: int = 3001
    """0 picks a free port (tests)."""
    stage: str | None = None
    """The stage name served (and in ``@connections`` paths); None: the template's
    ``StageName``, else ``local``."""
    static_dir: Path | None = None
    limits: Limits = field(default_factory=Limits)
    prewarm: bool = True
    fork_workers: bool = True
    """Fork workers after a function's first from its fork server (cheaper cold starts)."""
    build: bool = False
    """Give each function its declared Python and its own requirements (``sam build``'s
    way, cached); False: every function runs on the stage's interpreter and packages."""
    watch: bool = False
    """Replace a function's workers when a file of its code or layers changes."""
    event_sources: bool = True
    """Poll the template's event sources (``wslocal invoke`` runs one function only)."""
    ttl_sweep_s: float = DEFAULT_SWEEP_INTERVAL_S
    """Sweep each table for TTL-expired items this often, a large one less often
    (DynamoDB Local never deletes them); 0: never."""
    max_workers: int = DEFAULT_MAX_WORKERS
    pool_growth: str = DEFAULT_POOL_GROWTH
    """``warm-first``: a busy pool waits for a warm worker when one frees before a new one
    could start; ``lambda``: a new worker for every call that finds none free."""
    idle_worker_s: float = DEFAULT_IDLE_WORKER_S
    """Stop workers idle this long, one warm worker per function stays; 0: never."""
    endpoints: Mapping[str, str] = field(default_factory=dict)
    """boto3 endpoint variables for the handlers (AWS_ENDPOINT_URL_DYNAMODB, ...)."""
    queue_urls: Mapping[str, str] = field(default_factory=dict)
    """The template's queues in the SQS engine (``AWS_ENDPOINT_URL_SQS``), by name."""
    credentials: Mapping[str, str] | None = None
    """AWS credential variables for the handlers; None gives dummy ones."""
    log_stream: TextIO | None = None
    faults: FaultPlan | None = None
    """Faults to inject (``--inject-faults``): workers killed mid-call, posts answered 500."""
    cognito_endpoint: str | None = None
    """Where Cognito authorizers fetch their user pool's keys (``{endpoint}/{poolId}``,
    as ``AWS_ENDPOINT_URL_COGNITO_IDP`` names a local pool); None: Cognito itself."""
    debug: Mapping[str, Debugging] = field(default_factory=dict)
    """Functions run under a debugger (``--debug``), by logical id."""


async def _within(step: Awaitable[Any], what: str, seconds: float = STEP_TIMEOUT_S) -> None:
    """One step of stopping, bounded: a step that hangs is logged and left behind, so the
    stage always gets to ending its workers."""
    try:
        async with asyncio.timeout(seconds):
            await step
    except TimeoutError:
        log.warning("stopping: %s did not stop within %g s; going on", what, seconds)


class LocalStage:
    def __init__(
        self,
        model: StageModel,
        config: StageConfig,
        *,
        clock: Callable[[], float] = time.time,
        new_id: Callable[[], str] = events.api_gateway_id,
        template: TemplateSource | None = None,
    ) -> None:
        self.model = model
        self.config = config
        self.template = template
        """Watched with ``config.watch``: an edit reloads what it changed."""
        self.endpoints = dict(config.endpoints)
        self.queue_urls = dict(config.queue_urls)
        self.clock = clock
        self.new_id = new_id
        self.registry = ConnectionRegistry(clock)
        self.pools = FunctionPools(
            new_id=new_id,
            prewarm=config.prewarm,
            idle_worker_s=config.idle_worker_s,
            debug=config.debug,
        )
        self.port = config.port
        """The first door's port: the WebSocket API's, or else the first REST/HTTP API's."""
        self.api = self._websocket_api()
        self._ready = asyncio.Event()
        self.doors: list[FrontDoor] = []
        """One per port: the WebSocket API's (with @connections and the page), then one
        per REST or HTTP API, so each API's paths are exactly the deployed API's."""
        self.authorizing = Authorizing(
            self.invoke,
            region=lambda: self.model.region,
            cognito_endpoint=config.cognito_endpoint,
            clock=clock,
        )
        """REST and HTTP APIs' authorizers; their cached answers go with a reload."""
        self.proxy_door = ProxyApiDoor(self, self.authorizing)
        self.integrations = Integrations(
            self.invoke, lambda: self.endpoints, lambda: self.model.region
        )
        """What routes call: their functions by proxy, web servers, mocks, the engines."""
        self._background: list[asyncio.Task[None]] = []
        self.event_sources: EventSourceMappings | None = None
        self.runtimes: dict[str, PreparedRuntime] = {}
        self.ttl_sweeper: TtlSweeper | None = None
        self._sweeper_task: asyncio.Task[None] | None = None
        self._ttl_deletions = TtlDeletions()
        self._code_watcher: CodeWatcher | None = None
        self._reloading = asyncio.Lock()

    # --- addresses ------------------------------------------------------------------------
    @property
    def domain_name(self) -> str:
        return f"{self.config.host}:{self.port}"

    @property
    def websocket_url(self) -> str:
        return f"ws://{self.domain_name}"

    @property
    def stage_name(self) -> str:
        return self.config.stage or self.model.stage_name or "local"

    @property
    def static_dir(self) -> Path | None:
        return self.config.static_dir

    @property
    def faults(self) -> FaultPlan | None:
        return self.config.faults

    @property
    def account_id(self) -> str:
        return self.model.account_id

    @property
    def front_door(self) -> FrontDoor:
        """The WebSocket API's door (the first); the stage has one before it starts."""
        return self.doors[0]

    def proxy_api(self, logical_id: str) -> ProxyApiModel | None:
        return next((a for a in self.model.proxy_apis if a.logical_id == logical_id), None)

    def proxy_url(self, logical_id: str) -> str:
        """The API's invoke URL, as the stack's output would give it: the stage in the
        path for REST, none for an HTTP API's ``$default``."""
        api = self.proxy_api(logical_id)
        door = next(door for door in self.doors if door.proxy_api == logical_id)
        base = f"http://{self.config.host}:{door.port}"
        return f"{base}/{api.stage_name}" if api is not None and api.stage_in_path else base

    @property
    def connections_url(self) -> str:
        return f"http://{self.domain_name}/{self.stage_name}/@connections"

    @property
    def page_url(self) -> str | None:
        return f"http://{self.domain_name}/" if self.config.static_dir else None

    @property
    def limits(self) -> Limits:
        return self.config.limits

    def _websocket_api(self) -> WebSocketApi:
        """The API's rules on this stage; the domain name is known once the port is bound."""
        return WebSocketApi(
            routes=self.model.routes,
            route_selection_expression=self.model.route_selection_expression,
            stage=events.StageContext(self.model.api_id or "", self.stage_name, self.domain_name),
            region=self.model.region,
            account_id=self.model.account_id,
        )

    # --- lifecycle ------------------------------------------------------------------------
    async def start(
        self,
        engines: Awaitable[Provisioned] | None = None,
        after_serving: Callable[[], Coroutine[Any, Any, None]] | None = None,
    ) -> None:
        """Open the ports, then start the workers (they need the ports for their
        endpoint); connections accepted meanwhile wait until the stage can serve them.
        ``engines``: the engines still starting, at the endpoints the config names; the
        workers start meanwhile, the event sources once they are there.
        ``after_serving``: what the first handshake does not need (``wslocal start``'s
        SQS engine), started once the stage takes connections. Returns once it is done
        and every function has a warm worker."""
        await self._open_doors()
        self.port = self.doors[0].port
        self.api = self._websocket_api()
        self.runtimes = await asyncio.to_thread(
            prepare_runtimes, self.model, cache_dir(), self.config.build, list(self.config.debug)
        )
        first = self._functions_of_a_connect()
        await self.pools.start(self.model.functions, self._runtime_settings(), first)
        if self.config.idle_worker_s > 0:
            self._background.append(
                asyncio.create_task(supervised("the idle worker reaper", self.pools.reap_forever))
            )
        if self.config.watch:
            self._code_watcher = CodeWatcher(self)
            self._background.append(
                asyncio.create_task(supervised("the code watcher", self._code_watcher.run))
            )
            if self.template is not None:
                watcher = TemplateWatcher(self.template.path, self)
                self._background.append(
                    asyncio.create_task(supervised("the template watcher", watcher.run))
                )
        if engines is not None:
            provisioned = await engines
            self.queue_urls = dict(provisioned.queue_urls)
            if dict(provisioned.endpoints) != self.endpoints:
                raise WslocalError(
                    f"the engines answer at {dict(provisioned.endpoints)}, not at the "
                    f"endpoints the workers were given ({self.endpoints})"
                )
        if self.config.event_sources:
            self._start_ttl_sweeper()
            await self._start_event_sources()
        self._ready.set()
        later = asyncio.create_task(after_serving()) if after_serving is not None else None
        if first is not None:
            await self.pools.prewarm_rest(first)
        if later is not None:
            await later

    def _functions_of_a_connect(self) -> set[str] | None:
        """What a WebSocket client's handshake runs ($connect's function and authorizer):
        prewarmed before the stage takes connections, the other functions after, so
        their cold starts are not on the first handshake's path. None (all before) for
        a template without a $connect route."""
        route = self.model.routes.get("$connect") if self.model.api_logical_id else None
        if route is None:
            return None
        authorizer = route.authorizer.function if route.authorizer is not None else None
        return {name for name in (route.function, authorizer) if name is not None}

    async def _open_doors(self) -> None:
        """A door for the WebSocket API (also when the template has no API at all: it
        serves the page and @connections), then one per REST or HTTP API not open yet;
        with ``--port N`` they take N, N+1, ... in the template's order."""
        if not self.doors and (self.model.api_logical_id or not self.model.proxy_apis):
            await self._open(FrontDoor(self, self._ready))
        open_apis = {door.proxy_api for door in self.doors}
        for api in self.model.proxy_apis:
            if api.logical_id not in open_apis:
                first = not self.doors
                await self._open(
                    FrontDoor(self, self._ready, proxy_api=api.logical_id, serves_static=first)
                )

    async def _open(self, door: FrontDoor) -> None:
        port = self.config.port + len(self.doors) if self.config.port else 0
        await door.listen(self.config.host, port)
        self.doors.append(door)

    async def _close_gone_doors(self) -> None:
        """Doors of REST and HTTP APIs no longer in the template."""
        gone = [
            door
            for door in self.doors[1:]
            if door.proxy_api is not None and self.proxy_api(door.proxy_api) is None
        ]
        for door in gone:
            self.doors.remove(door)
            if door.server is not None:
                door.server.close()
            await door.drop_clients()

    def _runtime_settings(self) -> RuntimeSettings:
        management = f"http://{self.domain_name}/{self.stage_name}"
        return RuntimeSettings(
            region=self.model.region,
            account_id=self.model.account_id,
            endpoints={**self.endpoints, "AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI": management},
            redirect_hosts=(
                self.domain_name,
                f"{self.model.api_id}.execute-api.{self.model.region}.amazonaws.com",
            ),
            redirect_to=f"http://{self.domain_name}",
            runtimes=self.runtimes,
            max_workers=self.config.max_workers,
            pool_growth=self.config.pool_growth,
            idle_worker_s=self.config.idle_worker_s,
            fork_workers=self.config.fork_workers,
            log_stream=self.config.log_stream,
            faults=self.config.faults,
            **({"credentials": self.config.credentials} if self.config.credentials else {}),
        )

    def _engine_client(self, service: str = "dynamodb") -> Any:
        variable = "AWS_ENDPOINT_URL_SQS" if service == "sqs" else "AWS_ENDPOINT_URL_DYNAMODB"
        credentials: dict[str, str] | None = None if self.config.credentials is None else {}
        return engine_client(self.endpoints.get(variable), self.model.region, credentials, service)

    def _sqs_client(self) -> Any:
        return self._engine_client("sqs") if "AWS_ENDPOINT_URL_SQS" in self.endpoints else None

    def _start_ttl_sweeper(self) -> None:
        """Delete expired items of the tables with a TTL, as DynamoDB would."""
        ttl_tables = [
            TtlTable(
                table.table_name,
                table.ttl_attribute,
                tuple(key["AttributeName"] for key in table.create_table["KeySchema"]),
            )
            for table in self.model.tables
            if table.ttl_attribute
        ]
        if ttl_tables and self.config.ttl_sweep_s > 0:
            self.ttl_sweeper = TtlSweeper(
                self._engine_client(),
                ttl_tables,
                self._ttl_deletions,
                self.clock,
                self.config.ttl_sweep_s,
            )
            self._sweeper_task = asyncio.create_task(
                supervised("the TTL sweeper", self.ttl_sweeper.run)
            )

    async def _start_event_sources(self) -> None:
        """Poll the streams and queues, through the engines' own APIs."""
        if not (self.model.stream_sources or self.model.queue_sources):
            return
        self.event_sources = EventSourceMappings(
            self.model,
            self,
            dynamodb=self._engine_client(),
            streams=self._engine_client("dynamodbstreams"),
            sqs=self._sqs_client(),
            queue_urls=self.queue_urls,
            pool_size=self.config.max_workers,
            ttl=self._ttl_deletions,
            clock=self.clock,
            new_id=self.new_id,
        )
        await self.event_sources.start()

    async def reload_function(self, function: str) -> None:
        """New code for ``function``: its workers are replaced (calls in flight finish)."""
        await self.pools.reload(function)

    async def reload_template(self) -> TemplateChanges | None:
        """The template was edited: read it again and replace only what changed. A
        template that cannot be read or provisioned changes nothing (None)."""
        assert self.template is not None
        async with self._reloading:
            edit = await read_edit(
                self.template, self.model, build=self.config.build, debugged=list(self.config.debug)
            )
            if not isinstance(edit, Reload):
                return edit
            await self._apply(edit)
            return edit.changes

    async def _apply(self, edit: Reload) -> None:
        """Swap in the new model: connections stay unless their API is gone; functions
        whose definition, build or environment changed get new workers, in one swap of
        the pools (calls in flight finish on the old, new calls go to the new); an event
        source restarts only if it changed, a stream source from where it was."""
        model, changes, provisioned = edit.model, edit.changes, edit.provisioned
        if changes.api_replaced:
            self.front_door.close_sessions(
                GOING_AWAY, "Going away: the API is no longer in the template"
            )
            await self.front_door.wait_for_sessions(STEP_TIMEOUT_S)
        endpoints_changed = dict(provisioned.endpoints) != self.endpoints
        self.endpoints = dict(provisioned.endpoints)
        self.queue_urls = dict(provisioned.queue_urls)
        replaced = pools_to_replace(
            changes,
            self.pools,
            builds_changed=[
                name
                for name in model.functions
                if edit.runtimes.get(name) != self.runtimes.get(name)
            ],
            endpoints_changed=endpoints_changed,
        )
        self.model = model
        self.api = self._websocket_api()
        self.authorizing.forget()
        self.runtimes = dict(edit.runtimes)
        await self.pools.swap(model.functions, self._runtime_settings(), replaced)
        await self._close_gone_doors()
        await self._open_doors()
        if self._code_watcher is not None:
            self._code_watcher.refresh()
        if not self.config.event_sources:
            return
        if changes.tables and self._sweeper_task is not None:
            self._sweeper_task.cancel()
            self._sweeper_task = None
        if changes.tables:
            self._start_ttl_sweeper()
        try:
            if self.event_sources is None:
                await self._start_event_sources()
            elif changes.event_sources:
                await self.event_sources.update(
                    model,
                    {*changes.event_sources.added, *changes.event_sources.gone_or_changed},
                    sqs=self._sqs_client(),
                    queue_urls=self.queue_urls,
                )
        except (WslocalError, TimeoutError) as exc:
            log.error("event sources not started: %s", exc)

    async def stop(self) -> None:
        """Stop the event sources, close every connection with 1001 (their $disconnect
        runs), then end the workers."""
        if self.event_sources is not None:
            await _within(self.event_sources.stop(), "the event sources")
        for task in (*self._background, self._sweeper_task):
            if task is not None:
                task.cancel()
        background = [t for t in (*self._background, self._sweeper_task) if t is not None]
        await _within(asyncio.gather(*background, return_exceptions=True), "background")
        for door in self.doors:
            if door.server is not None:
                door.server.close()
        for door in self.doors:
            door.close_sessions(GOING_AWAY, "Going away: the stage is stopping")
        for door in self.doors:
            await door.wait_for_sessions(SHUTDOWN_GRACE_SECONDS)
        await _within(self.proxy_door.drain(STEP_TIMEOUT_S), "calls past their API's timeout")
        await _within(self.integrations.close(), "the integrations' HTTP client")
        for door in self.doors:
            await door.drop_clients()
        await self.pools.close()
        for door in self.doors:
            if door.server is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(door.server.wait_closed(), 1)

    def abort(self) -> None:
        """Stop now (a second Ctrl-C): kill every worker and drop every connection; no
        more $disconnects run."""
        self.pools.kill()
        for door in self.doors:
            door.abort()

    def debugged(self, function: str) -> bool:
        """``function`` runs under a debugger (``--debug``)."""
        return function in self.config.debug

    async def invoke(self, function: str, event: Mapping[str, Any], label: str = "") -> Any:
        """Run a function of the template once, in its warm pool."""
        return await self.pools.invoke(function, event, label)
