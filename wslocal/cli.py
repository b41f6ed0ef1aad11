"""``wslocal``'s commands, run as ``wslocal.arguments`` parsed them: ``start`` serves a SAM
template's APIs and event sources (the engines and the stage side by side, until a
signal), ``invoke`` runs one function once with an event (the Docker-less ``sam local
invoke``), ``generate-event`` prints a sample event, ``render-template`` what a mapping
template sends."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wslocal.arguments import build_parser, debugged_functions, parameters
from wslocal.defaults import DEFAULT_ACCOUNT_ID
from wslocal.exceptions import HandlerError, InvocationError, WslocalError

if TYPE_CHECKING:
    from wslocal.engines.dynamodb import DynamoDBEngine
    from wslocal.engines.provisioning import EnginePlan, Engines, Provisioned
    from wslocal.runtime.languages import Debugging
    from wslocal.template import StageModel

# The stage's modules (boto3, aiohttp, the template's machinery: most of a second of CPU)
# are imported where they are used: ``wslocal start`` launches DynamoDB Local's JVM first,
# so the JVM and those imports run side by side.

CREDENTIAL_VARIABLES = (
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
    "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "HOME",
)  # fmt: skip


def _json_option(text: str | None, name: str) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise WslocalError(f"{name} is not JSON: {exc}") from None


def _generate_event(args: argparse.Namespace) -> dict[str, Any]:
    from wslocal import render_template, samples
    from wslocal.apigateway.events import api_gateway_id

    now_ms = int(time.time() * 1000)
    if args.service == "websocket":
        return samples.websocket_event(
            args.kind, api_id=args.api_id, stage=args.stage, region=args.region,
            connection_id=args.connection_id, route_key=args.route_key, body=args.body,
            query=render_template.pairs(args.query, "--query"), request_id=api_gateway_id(),
            message_id=api_gateway_id(), now_ms=now_ms,
        )  # fmt: skip
    if args.service == "apigateway":
        return samples.api_request_event(
            args.kind, method=args.method, resource=args.resource or args.path,
            path=args.path, query=args.query,
            headers=render_template.pairs(args.header, "--header"), body=args.body,
            api_id=args.api_id, stage=args.stage or ("Prod" if args.kind == "rest" else "$default"),
            region=args.region, account_id=DEFAULT_ACCOUNT_ID,
            request_id=str(uuid.uuid4()) if args.kind == "rest" else api_gateway_id(),
            extended_request_id=api_gateway_id(), now_ms=now_ms,
            payload_format=args.payload_format,
        )  # fmt: skip
    if args.service == "sqs":
        bodies = args.body or ['{"hello": "world"}']
        return samples.sqs_event(
            bodies, queue=args.queue, region=args.region, account_id=DEFAULT_ACCOUNT_ID,
            ids=[str(uuid.uuid4()) for _ in bodies], now_ms=now_ms,
        )  # fmt: skip
    keys = _json_option(args.keys, "--keys")
    removal = args.event_name == "REMOVE"
    new_image = _json_option(args.new_image, "--new-image") or (None if removal else keys)
    old_image = _json_option(args.old_image, "--old-image") or (keys if removal else None)
    return samples.dynamodb_event(
        table=args.table, event_name=args.event_name, keys=keys, new_image=new_image,
        old_image=old_image, region=args.region, account_id=DEFAULT_ACCOUNT_ID,
        event_id=uuid.uuid4().hex, sequence_number=str(now_ms * 1000), now_ms=now_ms,
        by_ttl=args.ttl,
    )  # fmt: skip


def _read_event(source: str | None) -> Any:
    """The event of ``wslocal invoke``: a file, stdin (``-``), or ``{}``."""
    if source is None:
        return {}
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise WslocalError(f"cannot read the event {source}: {exc.strerror}") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise WslocalError(f"the event is not JSON: {exc}") from None


def _load(args: argparse.Namespace) -> StageModel:
    from wslocal.template import build_stage_model, read_template

    template = args.template.resolve()
    return build_stage_model(
        read_template(template),
        template.parent,
        parameters(args.parameter_overrides),
        region=args.region,
        api=args.api,
    )


def _engines(
    args: argparse.Namespace, model: StageModel, plan: EnginePlan | None = None
) -> tuple[Engines, Provisioned]:
    from wslocal.engines.provisioning import start_engines

    return start_engines(
        model,
        search_from=args.template.resolve().parent,
        dynamodb_endpoint=args.dynamodb_endpoint,
        db_path=args.db_path,
        engine=args.dynamodb,
        sqs_endpoint=args.sqs_endpoint,
        plan=plan,
    )


@dataclass
class ProjectTemplate:
    """The template ``wslocal start`` serves, read again when it is edited, its new
    tables and queues put in the running engines (there once they have started)."""

    args: argparse.Namespace
    engines: Engines | None = None
    provisioned: Provisioned | None = None

    @property
    def path(self) -> Path:
        return Path(self.args.template).resolve()

    def load(self) -> StageModel:
        return _load(self.args)

    def provision(self, model: StageModel) -> Provisioned:
        if self.engines is None:
            raise WslocalError("the engines have not started yet")
        return self.engines.provision(model)


def _handler_credentials(args: argparse.Namespace) -> dict[str, str] | None:
    """With a real endpoint, handlers use the user's own credentials; else dummy ones."""
    if not args.dynamodb_endpoint:
        return None
    return {name: os.environ[name] for name in CREDENTIAL_VARIABLES if name in os.environ}


async def _serve(
    args: argparse.Namespace,
    model: StageModel,
    template: ProjectTemplate,
    debug: Mapping[str, Debugging],
    launched: DynamoDBEngine | None,
) -> None:
    """Start the engines and the stage side by side (the workers start with the engines'
    planned endpoints while DynamoDB Local's JVM, ``launched`` already, boots), then SQS
    once the stage serves (the first handshake does not need it), serve until a signal,
    stop."""
    import asyncio

    from wslocal.apigateway.limits import Limits
    from wslocal.banner import banner
    from wslocal.engines.provisioning import EnginePlan, start_queues
    from wslocal.server import LocalStage, StageConfig

    plan = EnginePlan.ahead(
        model,
        dynamodb_endpoint=args.dynamodb_endpoint,
        sqs_endpoint=args.sqs_endpoint,
        launched=launched,
    )
    starting = asyncio.create_task(asyncio.to_thread(_engines, args, model, plan))

    async def engines_ready() -> Provisioned:
        template.engines, template.provisioned = await starting
        return template.provisioned

    async def queues() -> None:
        """moto's SQS with the template's queues, on the socket the plan bound: a
        handler's call made before it serves waits in that socket's backlog."""
        assert template.engines is not None and template.provisioned is not None
        await asyncio.to_thread(
            start_queues, template.engines, model, template.provisioned.queue_urls
        )

    config = StageConfig(
        host=args.host,
        port=args.port,
        stage=args.stage,
        static_dir=args.static.resolve() if args.static else None,
        limits=Limits(idle_timeout=args.idle_timeout, max_duration=args.max_duration),
        prewarm=not args.no_prewarm,
        fork_workers=args.fork,
        build=not args.skip_build,
        watch=args.watch,
        max_workers=args.max_workers,
        pool_growth=args.pool_growth,
        idle_worker_s=args.worker_idle_timeout,
        endpoints=plan.endpoints(model),
        credentials=_handler_credentials(args),
        cognito_endpoint=args.cognito_endpoint,
        faults=args.inject_faults,
        debug=debug,
        # Items of an endpoint the user named are theirs: the stage deletes none of them.
        ttl_sweep_s=0 if args.dynamodb_endpoint else args.ttl_sweep,
    )
    stage = LocalStage(model, config, template=template)
    stopping = asyncio.Event()

    def on_signal() -> None:
        """The first Ctrl-C stops gracefully ($disconnects run against live workers and
        engines); a second one stops at once."""
        if stopping.is_set():
            print("Stopping now: workers killed, connections dropped.", flush=True)
            stage.abort()
        stopping.set()

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal)
    watchdog: asyncio.Task[None] | None = None
    try:
        await stage.start(
            engines=engines_ready(),
            after_serving=queues if plan.sqs_listener is not None else None,
        )
        assert template.engines is not None and template.provisioned is not None
        sys.stdout.write(banner(stage, template.engines, template.provisioned.tables_made, loop))
        sys.stdout.flush()
        template.engines.dynamodb.write_class_archive(model.region)
        watchdog = asyncio.create_task(_watch_engines(template.engines))
        await stopping.wait()
    finally:
        if watchdog is not None:
            watchdog.cancel()
        print(
            "Stopping: closing connections ($disconnect runs), ending workers "
            "(Ctrl-C again to stop at once).",
            flush=True,
        )
        try:
            await stage.stop()
            # Engines still starting are waited for, so none is left running.
            result = await asyncio.gather(starting, return_exceptions=True)
            if template.engines is None and isinstance(result[0], tuple):
                template.engines = result[0][0]
        finally:
            # Ctrl-C interrupts again (the engines' stop below): uvloop, unlike asyncio's
            # loop, leaves its closed loop's handler on the signals.
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)


async def _watch_engines(engines: Engines, interval_s: float = 1.0) -> None:
    """Say once, loudly, when an engine dies under the stage: the stage keeps serving
    (handlers get the engine's connection errors, as they would from a dead service),
    but an engine it started is not brought back."""
    import asyncio

    said: set[str] = set()
    while True:
        await asyncio.sleep(interval_s)
        for report in engines.exit_reports():
            if report not in said:
                said.add(report)
                logging.getLogger("wslocal").error(
                    "%s. Handlers' calls to it fail from now on (an in-memory engine's data "
                    "is gone); stop wslocal and start it again.",
                    report,
                )


async def _invoke(args: argparse.Namespace, model: StageModel, engines: Engines, event: Any) -> int:
    from wslocal.server import LocalStage, StageConfig

    config = StageConfig(
        port=0,
        prewarm=False,
        build=not args.skip_build,
        event_sources=False,
        endpoints=engines.endpoints(),
        queue_urls=engines.queue_urls,
        credentials=_handler_credentials(args),
        log_stream=sys.stderr,
        debug=(
            {}
            if args.debug_port is None
            else debugged_functions([(args.function, args.debug_port)], model, wait=True)
        ),
    )
    stage = LocalStage(model, config)
    await stage.start()
    try:
        result = await stage.invoke(args.function, event, "invoke")
    except HandlerError as exc:
        print(json.dumps(exc.error, indent=2), file=sys.stderr)
        return 1
    except InvocationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        await stage.stop()
    print(json.dumps(result))
    return 0


def _prepare_invoke(args: argparse.Namespace, model: StageModel) -> tuple[StageModel, Any]:
    """Check the function, read the event and the environment overrides before any
    engine starts, so a typo fails fast."""
    if args.function not in model.functions:
        raise WslocalError(
            f"{args.function} is not a function of the template; it has {sorted(model.functions)}"
        )
    from wslocal.template.functions import override_environment

    event = _read_event(args.event)
    if args.env_vars is not None:
        try:
            overrides = json.loads(args.env_vars.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise WslocalError(f"--env-vars {args.env_vars}: {exc}") from None
        model, warnings = override_environment(model, overrides)
        for warning in warnings:
            print(f"wslocal: warning: {warning}", file=sys.stderr)
    return model, event


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "start":
        return _start(args)
    _configure_logging(args)
    try:
        if args.command == "generate-event":
            print(json.dumps(_generate_event(args), indent=2))
            return 0
        if args.command == "render-template":
            from wslocal import render_template

            return render_template.main(args, parameters(args.parameter_overrides))
        model, event = _prepare_invoke(args, _load(args))
        engines, _ = _engines(args, model)
    except WslocalError as exc:
        print(f"wslocal: {exc}", file=sys.stderr)
        return 2
    import asyncio

    try:
        return asyncio.run(_invoke(args, model, engines, event))
    except (WslocalError, OSError) as exc:
        print(f"wslocal: {exc}", file=sys.stderr)
        return 2
    finally:
        _stop_engines(engines)


def _configure_logging(args: argparse.Namespace) -> None:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(message)s",
        stream=sys.stdout if args.command == "start" else sys.stderr,
    )
    logging.getLogger("websockets").setLevel(logging.WARNING)
    logging.getLogger("watchfiles").setLevel(logging.WARNING)  # "1 change detected": ours say which
    logging.getLogger("samtranslator").setLevel(logging.ERROR)  # its metrics, never published


def _launch_early(args: argparse.Namespace) -> DynamoDBEngine | None:
    """DynamoDB Local's JVM, launched before anything else is loaded (its start is the
    longest part of the stage's); None when another engine serves, or it must be fetched."""
    from wslocal.engines.dynamodb import launch_early

    if not args.template.is_file():
        return None
    return launch_early(
        search_from=args.template.resolve().parent,
        endpoint=args.dynamodb_endpoint,
        db_path=args.db_path,
        engine=args.dynamodb,
    )


def _start(args: argparse.Namespace) -> int:
    template = ProjectTemplate(args)
    launched = None
    try:
        _configure_logging(args)  # first: the early launch's warnings are log lines too
        launched = _launch_early(args)
        import asyncio

        from wslocal.event_loop import new_event_loop
        from wslocal.runtime.open_files import raise_open_files_limit

        raise_open_files_limit()  # a descriptor per client: a room of thousands needs them
        model = _load(args)
        debug = debugged_functions(args.debug, model, wait=args.debug_wait)
        runner = asyncio.Runner(loop_factory=lambda: new_event_loop(args.loop))
        with contextlib.suppress(KeyboardInterrupt), runner:
            runner.run(_serve(args, model, template, debug, launched))
        return 0
    except (WslocalError, OSError) as exc:
        print(f"wslocal: {exc}", file=sys.stderr)
        return 2
    finally:
        if template.engines is not None:
            _stop_engines(template.engines)
        elif launched is not None:  # the stage stopped before the engines were its own
            launched.stop()


def _stop_engines(engines: Engines) -> None:
    try:
        engines.stop()
    except KeyboardInterrupt:  # a Ctrl-C between two engines: stop the next at once
        print("Stopping now: engines killed.", flush=True)
        engines.stop()


if __name__ == "__main__":
    sys.exit(main())
