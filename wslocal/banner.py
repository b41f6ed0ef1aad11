"""What ``wslocal start`` prints once the stage serves: every API with its local URL,
the engines, the event sources, what reloads, the routes, the debugger ports, which
Python or Node each function runs on, and what is not emulated. Read from the started stage; it
changes nothing."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Collection, Mapping, Sequence

from wslocal import __version__
from wslocal.engines.provisioning import Engines
from wslocal.engines.ttl import SWEEP_SHARE
from wslocal.event_loop import uvloop_installed
from wslocal.eventsources.sqs_queues import concurrency_of
from wslocal.runtime.builds import FunctionRuntime
from wslocal.runtime.languages import Debugging
from wslocal.runtime.pools import language_of
from wslocal.runtime.settings import PreparedRuntime
from wslocal.server import LocalStage
from wslocal.server.watcher import watched_folders
from wslocal.template import DynamoDBStreamSourceModel, SqsSourceModel, StageModel


def banner(
    stage: LocalStage, engines: Engines, made: Sequence[str], loop: asyncio.AbstractEventLoop
) -> str:
    """The whole banner, lines ending in newlines; ``made``: the tables just created;
    ``loop``: the one the stage runs on."""
    model = stage.model
    engine = engines.dynamodb
    lines = [f"wslocal {__version__}: every API of the template, one port each"]
    lines += _api_lines(stage)
    if stage.page_url:
        lines.append(f"  Page          {stage.page_url}")
    tables = ", ".join(t.create_table["TableName"] for t in model.tables) or "none"
    lines.append(f"  DynamoDB      {engine.description} at {engine.endpoint}; tables: {tables}"
                 + (f" (created {len(made)})" if made else ""))  # fmt: skip
    if engines.sqs is not None:
        queues = ", ".join(sorted(engines.queue_urls))
        lines.append(f"  SQS           {engines.sqs.description} at {engines.sqs.endpoint}; "
                     f"queues: {queues}")  # fmt: skip
    lines += _event_source_lines(stage)
    if stage.config.watch:
        folders = len(watched_folders(model))
        lines.append(f"  Reload        a function's workers when its code or layers change "
                     f"({folders} folders watched); routes, functions, tables and event "
                     f"sources when the template changes; --no-watch to stop")  # fmt: skip
    lines.append(loop_line(loop))
    if stage.config.faults is not None and stage.config.faults.active:
        lines.append(f"  Faults        injected: {stage.config.faults.describe()}")
    lines += _route_lines(stage)
    reserved = [
        f"{name} {function.reserved_concurrency}"
        for name, function in sorted(model.functions.items())
        if function.reserved_concurrency is not None
    ]
    if reserved:
        lines.append(f"  Reserved      {', '.join(reserved)}: calls beyond are throttled, "
                     "as Lambda does")  # fmt: skip
    lines += debug_lines(model, stage.config.debug)
    lines += runtime_lines(stage.model.functions, stage.runtimes)
    lines += [f"  Not emulated: {line}" for line in model.not_emulated]
    built = any(isinstance(r, FunctionRuntime) for r in stage.runtimes.values())
    runtime_warnings = [] if built else runtime_warnings_of(model)
    lines += [f"  Warning: {line}" for line in (*model.warnings, *runtime_warnings)]
    lines.append("Press Ctrl-C to stop.")
    return "\n".join(lines) + "\n"


def loop_line(loop: asyncio.AbstractEventLoop) -> str:
    """Which event loop the stage runs on: ``--loop auto`` picks uvloop only where it
    imports, and a profile or a debugger reads differently on each."""
    if type(loop).__module__.split(".")[0] == "uvloop":
        from importlib.metadata import version

        return f"  Event loop    uvloop {version('uvloop')}; --loop asyncio for asyncio's"
    if uvloop_installed():
        return "  Event loop    asyncio's (--loop); uvloop's takes less CPU a post"
    return "  Event loop    asyncio's; uvloop is not installed"


def debug_lines(model: StageModel, debug: Mapping[str, Debugging]) -> list[str]:
    """One line per function run under a debugger: where to attach, and what changes
    for it (one worker, no Timeout)."""
    lines = []
    for name, debugging in sorted(debug.items()):
        language = language_of(model.functions[name])
        waits = "; its first call waits for a client" if debugging.wait else ""
        lines.append(
            f"  Debug         {name}: {language.debugger} listens on {debugging.address}"
            f"{waits}; one worker, its Timeout suspended while debugging"
        )
    return lines


def runtime_warnings_of(model: StageModel) -> list[str]:
    """Functions declaring another Python than the one they run on (``--skip-build``)."""
    running = f"python{sys.version_info.major}.{sys.version_info.minor}"
    declared = sorted(
        {
            f.runtime
            for f in model.functions.values()
            if f.runtime.startswith("python") and f.runtime != running
        }
    )
    if not declared:
        return []
    return [f"functions declare {', '.join(declared)}; handlers run on this interpreter, {running}"]


def _api_lines(stage: LocalStage) -> list[str]:
    """One line per API, by logical id, with its local invoke URL (as the stack's output
    would give it: the stage in the path for REST, none for an HTTP API's $default)."""
    model = stage.model
    lines = []
    if model.api_logical_id is not None:
        url = f"{stage.websocket_url}/{stage.stage_name}"
        lines.append(
            f"  WebSocket API {model.api_logical_id:<18} {url}  (also {stage.websocket_url})"
        )
        lines.append(f"  @connections  {'':<18} {stage.connections_url}")
    for api in model.proxy_apis:
        kind = "REST API " if api.kind == "REST" else "HTTP API "
        lines.append(f"  {kind}     {api.logical_id:<18} {stage.proxy_url(api.logical_id)}")
    return lines or ["  No API: the stage runs the template's event sources"]


def _route_lines(stage: LocalStage) -> list[str]:
    model = stage.model
    lines = []
    if model.routes:
        lines.append(f"  Routes of {model.api_logical_id}")
    for key, route in sorted(model.routes.items()):
        extra = " (two-way)" if route.two_way else ""
        extra += f" (authorizer {route.authorizer.function})" if route.authorizer else ""
        lines.append(f"    {key:<22} -> {route.target}{extra}")
    for api in model.proxy_apis:
        lines.append(f"  Routes of {api.logical_id}")
        for proxy_route in sorted(api.routes, key=lambda r: (r.path, r.method)):
            integration = proxy_route.integration
            target = proxy_route.function or (
                f"{integration.kind} {integration.function or integration.uri}"
                if integration is not None
                else "answered by the API (MOCK)"
            )
            lines.append(f"    {proxy_route.route_key:<22} -> {target}")
    return lines


def runtime_lines(functions: Collection[str], runtimes: Mapping[str, PreparedRuntime]) -> list[str]:
    """Which Python or Node each function runs on, with what, and what was built: each
    runtime says its language and packages (no language is named here)."""
    lines = []
    unbuilt = [name for name in sorted(functions) if name not in runtimes]
    if unbuilt:
        lines.append("  Python        every Python function on this interpreter with wslocal's "
                     "packages (--skip-build)")  # fmt: skip
    by_interpreter: dict[tuple[str, str], list[str]] = {}
    for name, runtime in sorted(runtimes.items()):
        by_interpreter.setdefault((runtime.language, runtime.label), []).append(name)
    lines += [
        f"  {language:<13} {where}: {', '.join(names)}"
        for (language, where), names in by_interpreter.items()
    ]
    packages = dict.fromkeys((r.language, r.packages) for _, r in sorted(runtimes.items()))
    lines += [f"  {'Packages':<13} {language}: {what}" for language, what in packages]
    lines += [
        f"  Note: {name} {note}"
        for name, runtime in sorted(runtimes.items())
        for note in runtime.notes
    ]
    return lines


def _event_source_lines(stage: LocalStage) -> list[str]:
    model = stage.model
    lines = []
    if model.stream_sources or model.queue_sources:
        lines.append("  Event sources")
        lines += [
            f"    {describe_stream_source(source, model.table(source.table).table_name)}"
            for source in model.stream_sources
        ]
        lines += [
            f"    {describe_queue_source(source, model, stage.config.max_workers)}"
            for source in model.queue_sources
        ]
    sweeper = stage.ttl_sweeper
    if sweeper is not None:
        names = ", ".join(f"{t.table_name} ({t.ttl_attribute})" for t in sweeper.tables)
        lines.append(
            f"  TTL           expired items of {names} are deleted by the stage every "
            f"{sweeper.interval_s:g} s, a large table less often (its scans take "
            f"{SWEEP_SHARE:.0%} of the time at most)"
        )
    return lines


def _filters(patterns: tuple[str, ...]) -> str:
    return f"{len(patterns)} filter{'s' if len(patterns) > 1 else ''}"


def _mapping_notes(source: SqsSourceModel | DynamoDBStreamSourceModel) -> list[str]:
    """What every event source mapping's line ends with: its filters, whether it is
    off, what the stage does not emulate of it."""
    notes = [_filters(source.filters)] if source.filters else []
    if not source.enabled:
        notes.append("DISABLED")
    if source.not_emulated:
        notes.append(f"not emulated: {', '.join(source.not_emulated)}")
    return notes


def describe_queue_source(source: SqsSourceModel, model: StageModel, pool_size: int) -> str:
    """One banner line for a queue source."""
    queue = model.queue(source.queue)
    parts = [
        f"batch {source.batch_size}",
        f"window {source.batching_window_s:g} s",
        f"concurrency {concurrency_of(source, pool_size)}",
        f"visibility {queue.visibility_timeout_s} s",
    ]
    if source.report_item_failures:
        parts.append("item failures")
    if queue.dead_letter_queue:
        parts.append(f"DLQ {queue.dead_letter_queue} after {queue.max_receive_count} receives")
    parts += _mapping_notes(source)
    return f"{source.queue} queue -> {source.function} ({', '.join(parts)})"


def describe_stream_source(source: DynamoDBStreamSourceModel, table_name: str) -> str:
    """One banner line: what is read, by whom, with which settings."""
    parts = [
        f"batch {source.batch_size}",
        f"window {source.batching_window_s:g} s",
        source.starting_position,
        "retries " + ("unlimited" if source.maximum_retry_attempts < 0 else
                      str(source.maximum_retry_attempts)),
    ]  # fmt: skip
    if source.maximum_record_age_s >= 0:
        parts.append(f"max age {source.maximum_record_age_s} s")
    if source.bisect_on_error:
        parts.append("bisect")
    if source.report_item_failures:
        parts.append("item failures")
    if source.on_failure:
        parts.append(f"on failure {source.on_failure.kind} {source.on_failure.arn.split(':')[-1]}")
    parts += _mapping_notes(source)
    return f"{table_name} stream -> {source.function} ({', '.join(parts)})"
