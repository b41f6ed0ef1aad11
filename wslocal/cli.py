"""``wslocal start`` serves a SAM template's APIs (WebSocket, REST, HTTP) and event
sources; ``wslocal invoke`` runs one function once with an event file (the Docker-less
``sam local invoke``); ``wslocal generate-event`` prints the sample events SAM's lacks;
``wslocal render-template`` prints what a mapping template sends for an event."""

from __future__ import annotations

import argparse
import asyncio
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
from typing import Any

from wslocal import __version__, render_template, samples
from wslocal.apigateway.events import api_gateway_id
from wslocal.apigateway.limits import Limits
from wslocal.banner import banner
from wslocal.engines.provisioning import EnginePlan, Engines, Provisioned, start_engines
from wslocal.engines.ttl import DEFAULT_SWEEP_INTERVAL_S
from wslocal.exceptions import HandlerError, InvocationError, WslocalError
from wslocal.faults import FaultPlan, parse_faults
from wslocal.runtime.languages import Debugging
from wslocal.runtime.pools import language_of
from wslocal.runtime.settings import DEFAULT_IDLE_WORKER_S
from wslocal.server import LocalStage, StageConfig
from wslocal.template import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_REGION,
    StageModel,
    build_stage_model,
    read_template,
)
from wslocal.template.functions import override_environment

CREDENTIAL_VARIABLES = (
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
    "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "HOME",
)  # fmt: skip


def _parameters(pairs: Sequence[str]) -> dict[str, str]:
    overrides = {}
    for pair in pairs:
        name, separator, value = pair.partition("=")
        if not separator:
            raise WslocalError(f"--parameter-overrides takes Name=Value, not {pair!r}")
        overrides[name.strip()] = value.strip().strip('"')
    return overrides


def _debug_request(text: str) -> tuple[str, int | None]:
    """``--debug FUNCTION[=PORT]``."""
    name, separator, port = text.partition("=")
    if not name:
        raise argparse.ArgumentTypeError(f"--debug takes FUNCTION[=PORT], not {text!r}")
    if not separator:
        return name, None
    return name, _port(port)


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (1-65535)")
    return int(text)


def debugged_functions(
    requests: Sequence[tuple[str, int | None]], model: StageModel, *, wait: bool
) -> dict[str, Debugging]:
    """The functions to run under a debugger and the port each listens on: the one
    asked for, else its language's usual one (debugpy's 5678, the Node inspector's
    9229), the next free one when taken."""
    for name, _ in requests:
        if name not in model.functions:
            raise WslocalError(
                f"--debug {name}: not a function of the template; it has {sorted(model.functions)}"
            )
    if wait and not requests:
        raise WslocalError("--debug-wait needs --debug FUNCTION")
    asked = [port for _, port in requests if port is not None]
    if len(set(asked)) != len(asked) or len({name for name, _ in requests}) != len(requests):
        raise WslocalError("--debug: each function once, each on a port of its own")
    taken = set(asked)
    debugged = {}
    for name, port in requests:
        if port is None:
            port = language_of(model.functions[name]).debug_port
            while port in taken:
                port += 1
            taken.add(port)
        debugged[name] = Debugging(port, wait=wait)
    return debugged


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--template", "-t", type=Path, default=Path("template.yaml"))
    parser.add_argument("--parameter-overrides", nargs="*", default=[], metavar="NAME=VALUE")
    parser.add_argument("--region", default=DEFAULT_REGION)
    parser.add_argument("--api", help="logical id of the WebSocket API, when there are several")
    parser.add_argument(
        "--dynamodb-endpoint", help="use this DynamoDB endpoint; tables are created if missing"
    )
    parser.add_argument("--db-path", type=Path, help="keep DynamoDB Local's data in this folder")
    parser.add_argument(
        "--dynamodb",
        choices=("auto", "local", "moto"),
        default="auto",
        help="engine when no endpoint is given (auto: DynamoDB Local, else moto)",
    )
    parser.add_argument(
        "--skip-build",
        action="store_true",
        help="run every Python function on this interpreter with wslocal's packages (faster "
        "start; no per-function Python or requirements.txt); Node functions are built always",
    )
    parser.add_argument(
        "--sqs-endpoint",
        help="use this SQS endpoint (ElasticMQ, LocalStack); default: moto's server",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wslocal", description=__doc__)
    parser.add_argument("--version", action="version", version=f"wslocal {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser(
        "start", help="serve the template's APIs (WebSocket, REST, HTTP) on localhost"
    )
    _common(start)
    start.add_argument("--host", default="127.0.0.1")
    start.add_argument("--port", type=int, default=3001)
    start.add_argument(
        "--stage",
        help="serve under this stage name (default: the template's StageName, else local)",
    )
    start.add_argument("--static", type=Path, help="serve this folder's files (the chat page)")
    start.add_argument(
        "--cognito-endpoint",
        default=os.environ.get("AWS_ENDPOINT_URL_COGNITO_IDP"),
        metavar="URL",
        help="fetch Cognito user pools' keys from URL/<poolId> (default: "
        "$AWS_ENDPOINT_URL_COGNITO_IDP, else Cognito itself)",
    )
    start.add_argument("--max-workers", type=int, default=8, help="worker processes per function")
    start.add_argument("--no-prewarm", action="store_true", help="start workers on first call")
    start.add_argument(
        "--fork",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="fork a function's workers after the first from a process with its libraries "
        "imported (default: on; --no-fork starts each one from scratch)",
    )
    start.add_argument(
        "--watch",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="replace a function's workers when its code or layers change (default: on)",
    )
    start.add_argument(
        "--worker-idle-timeout",
        type=float,
        default=DEFAULT_IDLE_WORKER_S,
        metavar="SECONDS",
        help="stop workers idle this long, keeping one warm per function; 0: never",
    )
    start.add_argument("--idle-timeout", type=float, default=Limits.idle_timeout, help="seconds")
    start.add_argument("--max-duration", type=float, default=Limits.max_duration, help="seconds")
    start.add_argument(
        "--inject-faults",
        type=_fault_plan,
        metavar="kill=SHARE,post-500=SHARE[,seed=N]",
        help="kill that share of workers mid-call and answer that share of @connections "
        "posts with 500, to see the app keep its promises (e.g. kill=0.01,post-500=0.01)",
    )
    start.add_argument(
        "--debug",
        type=_debug_request,
        action="append",
        default=[],
        metavar="FUNCTION[=PORT]",
        help="run FUNCTION's worker under a debugger listening on 127.0.0.1:PORT (debugpy, "
        "default 5678; the Node inspector, default 9229): one worker, no Timeout; repeatable",
    )
    start.add_argument(
        "--debug-wait",
        action="store_true",
        help="with --debug: each debugged function's first call waits for a client to attach",
    )
    start.add_argument(
        "--ttl-sweep",
        type=float,
        default=DEFAULT_SWEEP_INTERVAL_S,
        metavar="SECONDS",
        help="delete TTL-expired items this often (DynamoDB Local never does); 0: never",
    )
    invoke = commands.add_parser("invoke", help="run one function once with an event file")
    _common(invoke)
    invoke.add_argument("function", help="logical id of the function, e.g. SendMessageFunction")
    invoke.add_argument(
        "--event", "-e", metavar="FILE", help="event JSON file, or - for stdin (default: {})"
    )
    invoke.add_argument(
        "--debug-port",
        type=_port,
        metavar="PORT",
        help="run the function under a debugger on 127.0.0.1:PORT; the call waits for a "
        "client to attach (as sam local invoke --debug-port does)",
    )
    invoke.add_argument(
        "--env-vars", "-n", type=Path, metavar="FILE",
        help='SAM\'s format: {"Parameters": {...}, "<Function>": {"NAME": "value"}}',
    )  # fmt: skip
    _generate_event_parser(commands)
    _render_template_parser(commands)
    return parser


def _render_template_parser(commands: Any) -> None:
    render = commands.add_parser(
        "render-template",
        help="print what API Gateway would send: a mapping template rendered on an event",
    )
    source = render.add_mutually_exclusive_group()
    source.add_argument("--template-file", type=Path, metavar="FILE", help="a Velocity template")
    source.add_argument("--route", help="a route's request template: sendMessage, 'POST /pets'")
    render.add_argument(
        "--template", "-t", type=Path, default=Path("template.yaml"), help="the SAM template"
    )
    render.add_argument(
        "--integration", help="logical id of the integration (OpenAPI: 'Api METHOD /path')"
    )
    render.add_argument("--api", help="logical id of the API, when routes share a key")
    render.add_argument("--template-key", help="this key of RequestTemplates, not the chosen one")
    render.add_argument("--content-type", help="REST: choose by this, not the event's header")
    render.add_argument("--event", "-e", metavar="FILE", help="event JSON file, or - for stdin")
    render.add_argument("--stage-variable", action="append", default=[], metavar="NAME=VALUE")
    render.add_argument(
        "--context", action="append", default=[], metavar="NAME=VALUE",
        help="set $context.NAME (dotted: identity.sourceIp=203.0.113.9)",
    )  # fmt: skip
    render.add_argument("--region", default=DEFAULT_REGION)
    render.add_argument("--parameter-overrides", nargs="*", default=[], metavar="NAME=VALUE")


def _generate_event_parser(commands: Any) -> None:
    generate = commands.add_parser(
        "generate-event",
        help="print a sample event (WebSocket, REST or HTTP API, DynamoDB stream, SQS)",
    )
    services = generate.add_subparsers(dest="service", required=True)
    websocket = services.add_parser("websocket", help="an API Gateway WebSocket event")
    websocket.add_argument("kind", choices=samples.WEBSOCKET_ROUTES)
    websocket.add_argument("--route-key", help="message: the route (default $default)")
    websocket.add_argument("--body", default='{"action":"sendMessage","message":"hello"}')
    websocket.add_argument("--connection-id", default="L0SM9cOFvHcCIhw=")
    websocket.add_argument("--query", nargs="*", default=[], metavar="NAME=VALUE")
    websocket.add_argument("--api-id", default="abcdef1234")
    websocket.add_argument("--stage", default="dev")
    apigateway = services.add_parser(
        "apigateway", help="a REST (payload 1.0) or HTTP API (payload 2.0) request"
    )
    apigateway.add_argument("kind", choices=("rest", "http"))
    apigateway.add_argument("--method", default="GET")
    apigateway.add_argument(
        "--resource", help="the route's path, e.g. /items/{id} (default: --path)"
    )
    apigateway.add_argument(
        "--path", default="/hello", help="the request's path, without the stage"
    )
    apigateway.add_argument("--query", default="", help="the raw query string, e.g. a=1&a=2")
    apigateway.add_argument("--header", action="append", default=[], metavar="NAME=VALUE")
    apigateway.add_argument("--body", help="the request body (text)")
    apigateway.add_argument("--api-id", default="abcdef1234")
    apigateway.add_argument("--stage", help="default: Prod for rest, $default for http")
    apigateway.add_argument("--payload-format", choices=("1.0", "2.0"))
    sqs = services.add_parser("sqs", help="an SQS batch, as Lambda's poller delivers it")
    sqs.add_argument("--body", action="append", help="one per record (default: one)")
    sqs.add_argument("--queue", default="MyQueue")
    dynamodb = services.add_parser("dynamodb", help="a DynamoDB stream batch of one record")
    dynamodb.add_argument("--table", default="MyTable")
    dynamodb.add_argument("--event-name", choices=("INSERT", "MODIFY", "REMOVE"), default="INSERT")
    dynamodb.add_argument("--keys", default='{"id": {"S": "1"}}', help="typed JSON")
    dynamodb.add_argument("--new-image", help="typed JSON (default: the keys, unless REMOVE)")
    dynamodb.add_argument("--old-image", help="typed JSON (default: the keys, if REMOVE)")
    dynamodb.add_argument("--ttl", action="store_true", help="a removal by TTL")
    for parser in (websocket, apigateway, sqs, dynamodb):
        parser.add_argument("--region", default=DEFAULT_REGION)


def _json_option(text: str | None, name: str) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise WslocalError(f"{name} is not JSON: {exc}") from None


def _generate_event(args: argparse.Namespace) -> dict[str, Any]:
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
    template = args.template.resolve()
    return build_stage_model(
        read_template(template),
        template.parent,
        _parameters(args.parameter_overrides),
        region=args.region,
        api=args.api,
    )


def _engines(
    args: argparse.Namespace, model: StageModel, plan: EnginePlan | None = None
) -> tuple[Engines, Provisioned]:
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
) -> None:
    """Start the engines and the stage side by side (the workers start with the engines'
    planned endpoints while DynamoDB Local's JVM boots), serve until a signal, stop."""
    plan = EnginePlan(args.dynamodb_endpoint, args.sqs_endpoint)
    starting = asyncio.create_task(asyncio.to_thread(_engines, args, model, plan))

    async def engines_ready() -> Provisioned:
        template.engines, template.provisioned = await starting
        return template.provisioned

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
        await stage.start(engines=engines_ready())
        assert template.engines is not None and template.provisioned is not None
        sys.stdout.write(banner(stage, template.engines, template.provisioned.tables_made))
        sys.stdout.flush()
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
        await stage.stop()
        # Engines still starting are waited for, so none is left running.
        result = await asyncio.gather(starting, return_exceptions=True)
        if template.engines is None and isinstance(result[0], tuple):
            template.engines = result[0][0]


async def _watch_engines(engines: Engines, interval_s: float = 1.0) -> None:
    """Say once, loudly, when an engine dies under the stage: the stage keeps serving
    (handlers get the engine's connection errors, as they would from a dead service),
    but an engine it started is not brought back."""
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


def _fault_plan(text: str) -> FaultPlan:
    try:
        return parse_faults(text)
    except WslocalError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(message)s",
        stream=sys.stdout if args.command == "start" else sys.stderr,
    )
    logging.getLogger("websockets").setLevel(logging.WARNING)
    logging.getLogger("watchfiles").setLevel(logging.WARNING)  # "1 change detected": ours say which
    logging.getLogger("samtranslator").setLevel(logging.ERROR)  # its metrics, never published
    try:
        if args.command == "generate-event":
            print(json.dumps(_generate_event(args), indent=2))
            return 0
        if args.command == "render-template":
            return render_template.main(args, _parameters(args.parameter_overrides))
        model = _load(args)
        if args.command == "start":
            debug = debugged_functions(args.debug, model, wait=args.debug_wait)
            return _start(args, model, debug)
        model, event = _prepare_invoke(args, model)
        engines, _ = _engines(args, model)
    except WslocalError as exc:
        print(f"wslocal: {exc}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_invoke(args, model, engines, event))
    except (WslocalError, OSError) as exc:
        print(f"wslocal: {exc}", file=sys.stderr)
        return 2
    finally:
        _stop_engines(engines)


def _start(args: argparse.Namespace, model: StageModel, debug: Mapping[str, Debugging]) -> int:
    template = ProjectTemplate(args)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_serve(args, model, template, debug))
        return 0
    except (WslocalError, OSError) as exc:
        print(f"wslocal: {exc}", file=sys.stderr)
        return 2
    finally:
        if template.engines is not None:
            _stop_engines(template.engines)


def _stop_engines(engines: Engines) -> None:
    try:
        engines.stop()
    except KeyboardInterrupt:  # a Ctrl-C between two engines: stop the next at once
        print("Stopping now: engines killed.", flush=True)
        engines.stop()


if __name__ == "__main__":
    sys.exit(main())
