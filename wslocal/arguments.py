"""The ``wslocal`` command line: its commands, options and their rules (a port, a
``FUNCTION[=PORT]``, a ``Name=Value``, a fault plan), parsed into what ``wslocal.cli``
runs. No engine, no stage: everything here is checked before anything starts."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wslocal import __version__
from wslocal.apigateway.limits import Limits
from wslocal.defaults import (
    DEFAULT_REGION,
    DEFAULT_SWEEP_INTERVAL_S,
    LOOP_KINDS,
    WEBSOCKET_ROUTES,
)
from wslocal.exceptions import WslocalError
from wslocal.faults import FaultPlan, parse_faults
from wslocal.runtime.growth import POLICIES
from wslocal.runtime.settings import DEFAULT_IDLE_WORKER_S, DEFAULT_POOL_GROWTH

if TYPE_CHECKING:
    from wslocal.runtime.languages import Debugging
    from wslocal.template import StageModel

DESCRIPTION = (
    "wslocal start serves a SAM template's APIs (WebSocket, REST, HTTP) and event sources; "
    "wslocal invoke runs one function once with an event file (the Docker-less sam local "
    "invoke); wslocal generate-event prints the sample events SAM's lacks; wslocal "
    "render-template prints what a mapping template sends for an event."
)


def parameters(pairs: Sequence[str]) -> dict[str, str]:
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
    from wslocal.runtime.languages import Debugging
    from wslocal.runtime.pools import language_of

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
    parser = argparse.ArgumentParser(prog="wslocal", description=DESCRIPTION)
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
    start.add_argument(
        "--pool-growth",
        choices=sorted(POLICIES),
        default=DEFAULT_POOL_GROWTH,
        help="when a function whose workers are all busy starts another: warm-first (default) "
        "starts one per core, then waits for a busy one when it will be free before a new "
        "one could start; lambda starts one for every call that finds none free, as Lambda "
        "does",
    )
    start.add_argument("--no-prewarm", action="store_true", help="start workers on first call")
    start.add_argument(
        "--fork",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="fork a function's workers after the first from a process with its libraries "
        "imported (default: on; --no-fork starts each one from scratch)",
    )
    start.add_argument(
        "--loop",
        choices=LOOP_KINDS,
        default="auto",
        help="the stage's event loop: uvloop's where installed (auto, the default), or "
        "asyncio's (for a debugger or a profile that wants Python frames)",
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
        type=fault_plan,
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
        help="sweep each table for TTL-expired items this often, a large table less often (its "
        "scans take at most 5%% of the time; DynamoDB Local never deletes them); 0: never",
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
    websocket.add_argument("kind", choices=WEBSOCKET_ROUTES)
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


def fault_plan(text: str) -> FaultPlan:
    try:
        return parse_faults(text)
    except WslocalError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
