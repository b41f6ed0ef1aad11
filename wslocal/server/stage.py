"""LocalStage: the WebSocket API, ``@connections`` and the static page on one port.

It binds the port, starts a worker pool per function, and hands each TCP connection to a
WebSocketSession (an upgrade) or answers HTTP itself (``@connections``, static files).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from wslocal.apigateway import events, management_api
from wslocal.apigateway.connections import ConnectionRegistry
from wslocal.apigateway.gateway import WebSocketApi
from wslocal.apigateway.http import HttpError, HttpRequest, parse_request_head, response_bytes
from wslocal.apigateway.limits import GOING_AWAY, Limits
from wslocal.cache import cache_dir
from wslocal.engines.dynamodb import client as engine_client
from wslocal.engines.ttl import DEFAULT_SWEEP_INTERVAL_S, TtlDeletions, TtlSweeper, TtlTable
from wslocal.eventsources.mappings import EventSourceMappings
from wslocal.runtime import builds
from wslocal.runtime.workers import (
    DEFAULT_IDLE_WORKER_S,
    DEFAULT_MAX_WORKERS,
    RuntimeSettings,
    WorkerPool,
)
from wslocal.server import static
from wslocal.server.session import WebSocketSession
from wslocal.server.watcher import CodeWatcher
from wslocal.template import StageModel

log = logging.getLogger("wslocal")

SHUTDOWN_GRACE_SECONDS = 10.0
STEP_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class StageConfig:
    host: str = "127.0.0.1"
    port: int = 3001
    """0 picks a free port (tests)."""
    stage: str = "local"
    static_dir: Path | None = None
    limits: Limits = field(default_factory=Limits)
    prewarm: bool = True
    build: bool = False
    """Give each function its declared Python and its own requirements (``sam build``'s
    way, cached); False: every function runs on the stage's interpreter and packages."""
    watch: bool = False
    """Replace a function's workers when a file of its code or layers changes."""
    event_sources: bool = True
    """Poll the template's event sources (``wslocal invoke`` runs one function only)."""
    ttl_sweep_s: float = DEFAULT_SWEEP_INTERVAL_S
    """Delete TTL-expired items this often (DynamoDB Local never does); 0: never."""
    max_workers: int = DEFAULT_MAX_WORKERS
    idle_worker_s: float = DEFAULT_IDLE_WORKER_S
    """Stop workers idle this long, one warm worker per function stays; 0: never."""
    endpoints: Mapping[str, str] = field(default_factory=dict)
    """boto3 endpoint variables for the handlers (AWS_ENDPOINT_URL_DYNAMODB, ...)."""
    queue_urls: Mapping[str, str] = field(default_factory=dict)
    """The template's queues in the SQS engine (``AWS_ENDPOINT_URL_SQS``), by name."""
    credentials: Mapping[str, str] | None = None
    """AWS credential variables for the handlers; None gives dummy ones."""
    log_stream: TextIO | None = None


async def _within(step: Awaitable[Any], what: str, seconds: float = STEP_TIMEOUT_S) -> None:
    """One step of stopping, bounded: a step that hangs is logged and left behind, so the
    stage always gets to ending its workers."""
    try:
        await asyncio.wait_for(step, seconds)
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
    ) -> None:
        self.model = model
        self.config = config
        self.clock = clock
        self.new_id = new_id
        self.registry = ConnectionRegistry(clock)
        self.pools: dict[str, WorkerPool] = {}
        self.port = config.port
        self.api = self._websocket_api()
        self._server: asyncio.Server | None = None
        self._clients: dict[asyncio.Task[None], asyncio.StreamWriter] = {}
        self._sessions: set[WebSocketSession] = set()
        self._background: list[asyncio.Task[None]] = []
        self.event_sources: EventSourceMappings | None = None
        self.runtimes: dict[str, builds.FunctionRuntime] = {}
        self.ttl_sweeper: TtlSweeper | None = None

    # --- addresses ------------------------------------------------------------------------
    @property
    def domain_name(self) -> str:
        return f"{self.config.host}:{self.port}"

    @property
    def websocket_url(self) -> str:
        return f"ws://{self.domain_name}"

    @property
    def connections_url(self) -> str:
        return f"http://{self.domain_name}/{self.config.stage}/@connections"

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
            stage=events.StageContext(self.model.api_id, self.config.stage, self.domain_name),
            region=self.model.region,
            account_id=self.model.account_id,
        )

    # --- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        """Bind the port, then start the workers (they need the port for their endpoint)."""
        self._server = await asyncio.start_server(
            self._on_client, self.config.host, self.config.port, limit=2 * 1024 * 1024
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self.api = self._websocket_api()
        management = f"http://{self.domain_name}/{self.config.stage}"
        if self.config.build:
            self.runtimes = await asyncio.to_thread(builds.prepare, self.model, cache_dir())
        settings = RuntimeSettings(
            region=self.model.region,
            account_id=self.model.account_id,
            endpoints={
                **self.config.endpoints,
                "AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI": management,
            },
            redirect_hosts=(
                self.domain_name,
                f"{self.model.api_id}.execute-api.{self.model.region}.amazonaws.com",
            ),
            redirect_to=f"http://{self.domain_name}",
            runtimes=self.runtimes,
            max_workers=self.config.max_workers,
            idle_worker_s=self.config.idle_worker_s,
            log_stream=self.config.log_stream,
            **({"credentials": self.config.credentials} if self.config.credentials else {}),
        )
        self.pools = {
            logical_id: WorkerPool(function, settings)
            for logical_id, function in self.model.functions.items()
        }
        if self.config.prewarm:
            await asyncio.gather(*(pool.prewarm() for pool in self.pools.values()))
        if self.config.idle_worker_s > 0:
            self._background.append(asyncio.create_task(self._reap_idle_workers()))
        if self.config.watch:
            self._background.append(asyncio.create_task(CodeWatcher(self.model, self).run()))
        if self.config.event_sources:
            await self._start_event_sources()

    async def _start_event_sources(self) -> None:
        """Poll the streams and queues and sweep expired items, through the engines' own
        APIs."""
        endpoint = self.config.endpoints.get("AWS_ENDPOINT_URL_DYNAMODB")
        sqs_endpoint = self.config.endpoints.get("AWS_ENDPOINT_URL_SQS")
        credentials: dict[str, str] | None = None if self.config.credentials is None else {}
        dynamodb = engine_client(endpoint, self.model.region, credentials)
        deletions = TtlDeletions()
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
                dynamodb, ttl_tables, deletions, self.clock, self.config.ttl_sweep_s
            )
            self._background.append(asyncio.create_task(self.ttl_sweeper.run()))
        if self.model.stream_sources or self.model.queue_sources:
            self.event_sources = EventSourceMappings(
                self.model,
                self,
                dynamodb=dynamodb,
                streams=engine_client(endpoint, self.model.region, credentials, "dynamodbstreams"),
                sqs=(
                    engine_client(sqs_endpoint, self.model.region, credentials, "sqs")
                    if sqs_endpoint
                    else None
                ),
                queue_urls=self.config.queue_urls,
                pool_size=self.config.max_workers,
                ttl=deletions,
                clock=self.clock,
                new_id=self.new_id,
            )
            await self.event_sources.start()

    async def reload_function(self, function: str) -> None:
        """New code for ``function``: its workers are replaced (calls in flight finish)."""
        await self.pools[function].reload()

    async def _reap_idle_workers(self) -> None:
        """Give idle workers' memory back, as Lambda reclaims idle environments."""
        while True:
            await asyncio.sleep(min(self.config.idle_worker_s / 4, 5.0))
            now = time.monotonic()
            for pool in self.pools.values():
                await pool.reap(now)

    async def stop(self) -> None:
        """Stop the event sources, close every connection with 1001 (their $disconnect
        runs), then end the workers."""
        if self.event_sources is not None:
            await _within(self.event_sources.stop(), "the event sources")
        for task in self._background:
            task.cancel()
        await _within(asyncio.gather(*self._background, return_exceptions=True), "background")
        if self._server is not None:
            self._server.close()
        for session in list(self._sessions):
            session.close(GOING_AWAY, "Going away: the stage is stopping")
        sessions = [s.task for s in self._sessions]
        if sessions:
            await asyncio.wait(sessions, timeout=SHUTDOWN_GRACE_SECONDS)
        for writer in self._clients.values():  # idle keep-alive HTTP connections
            writer.transport.abort()
        if self._clients:
            await asyncio.wait(list(self._clients), timeout=1)
        await asyncio.gather(*(pool.close() for pool in self.pools.values()))
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1)

    def abort(self) -> None:
        """Stop now (a second Ctrl-C): kill every worker and drop every connection; no
        more $disconnects run."""
        for pool in self.pools.values():
            pool.kill()
        for writer in [*self._clients.values()]:
            writer.transport.abort()

    async def invoke(self, function: str, event: Mapping[str, Any], label: str = "") -> Any:
        """Run a function of the template once, in its warm pool."""
        return await self.pools[function].invoke(event, self.new_id(), label)

    # --- connections ----------------------------------------------------------------------
    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._clients[task] = writer
        try:
            await self._serve_client(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except Exception:
            log.exception("error while serving a client")
        finally:
            del self._clients[task]
            writer.close()

    async def _serve_client(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        current = asyncio.current_task()
        assert current is not None
        first = True
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                return
            try:
                request = parse_request_head(head)
                if first and request.is_websocket_upgrade:
                    session = WebSocketSession(self, reader, writer, head, request, task=current)
                    self._sessions.add(session)
                    try:
                        await session.run()
                    finally:
                        self._sessions.discard(session)
                    return
                first = False
                body = await reader.readexactly(request.content_length)
            except HttpError as exc:
                writer.write(response_bytes(exc.status, f"{exc}\n".encode(), keep_alive=False))
                return
            writer.write(self._respond(request, body))
            await writer.drain()
            if not request.keep_alive:
                return

    def _respond(self, request: HttpRequest, body: bytes) -> bytes:
        keep_alive = request.keep_alive
        if management_api.is_management_path(request.path):
            answer = management_api.handle_management_request(
                self.registry,
                method=request.method,
                path=request.path,
                body=body,
                stage=self.config.stage,
                max_post_bytes=self.config.limits.max_post_bytes,
            )
            return response_bytes(answer.status, answer.body, answer.headers, keep_alive=keep_alive)
        if self.config.static_dir is not None and request.method in ("GET", "HEAD"):
            path = static.resolve_static(self.config.static_dir, request.path)
            if path is not None:
                return response_bytes(
                    200,
                    path.read_bytes(),
                    {"Content-Type": static.content_type(path), **static.SECURITY_HEADERS},
                    keep_alive=keep_alive,
                    head_only=request.method == "HEAD",
                )
        if request.method == "GET" and self.api.serves_path(request.path):
            return response_bytes(
                426,
                b"This is a WebSocket API: connect with a WebSocket client.\n",
                {"Upgrade": "websocket", "Content-Type": "text/plain; charset=utf-8"},
                keep_alive=keep_alive,
            )
        return response_bytes(
            404, b"Not Found\n", {"Content-Type": "text/plain"}, keep_alive=keep_alive
        )
