"""Node.js workers: ``node .../bootstrap.mjs FD``, speaking the same framed protocol as
Python's, with the environment Lambda's Node runtime sets (NODE_PATH in Lambda's order,
LAMBDA_TASK_ROOT at the function's code or its esbuild bundle). A worker is started
after its function's build is brought up to date (``wslocal.runtime.node.builds``);
Node workers are not forked (a Node process cannot fork itself). Under a debugger a
worker opens Node's inspector (``--inspect``); with ``--debug-wait`` the bootstrap, once
ready, holds its calls until a client attaches (``WSLOCAL_DEBUG_WAIT``)."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Collection
from pathlib import Path

import wslocal.runtime.node
from wslocal.cache import cache_dir
from wslocal.exceptions import FunctionBuildError
from wslocal.runtime.builds import BuildError
from wslocal.runtime.languages import Debugging, WorkerLaunch, lambda_environment
from wslocal.runtime.node import runtime as node_runtime
from wslocal.runtime.node import sdk_clients
from wslocal.runtime.node.builds import NodeCode, function_code
from wslocal.runtime.settings import RuntimeSettings
from wslocal.template import FunctionModel, StageModel

BOOTSTRAP = Path(wslocal.runtime.node.__file__).parent / "bootstrap.mjs"
DEBUG_WAIT = "WSLOCAL_DEBUG_WAIT"
"""Non-empty: once ready, the bootstrap holds its calls until a client of the inspector
says run."""


def node_command(
    node: str, debug: Debugging | None = None, bootstrap: Path = BOOTSTRAP
) -> list[str]:
    """The worker's command line, less its channel's fd; with ``debug``, Node's
    inspector on that address (``--inspect``, not ``--inspect-brk``: a worker held at
    its first line would hold the stage's prewarm too; the bootstrap holds the calls)."""
    command = [node]
    if debug is not None:
        command.append(f"--inspect={debug.address}")
    return [*command, str(bootstrap)]


def redirects(settings: RuntimeSettings) -> dict[str, str]:
    """AWS hosts a function may name itself -> the stage's local target: the deployed
    Management API's hosts -> the stage; SQS's (queue URLs as ``Ref`` gives them, which
    the SDK v3 calls instead of its endpoint) -> the SQS engine."""
    routes: dict[str, str] = {}
    if settings.redirect_to:
        routes.update(dict.fromkeys(settings.redirect_hosts, settings.redirect_to))
    sqs = settings.endpoints.get("AWS_ENDPOINT_URL_SQS")
    if sqs:
        region = settings.region
        routes[f"sqs.{region}.amazonaws.com"] = sqs
        routes[f"{region}.queue.amazonaws.com"] = sqs
    return routes


def node_environment(
    function: FunctionModel,
    settings: RuntimeSettings,
    code: NodeCode,
    debug: Debugging | None = None,
    cache: Path | None = None,
) -> dict[str, str]:
    """Lambda's variables for a Node function, the bootstrap's (the redirects to the
    stage and its engines, log prefix, whether to wait for a debugger, how to install an
    SDK package named at run time into ``cache``), then the function's own."""
    return {
        **lambda_environment(function, settings),
        "LAMBDA_TASK_ROOT": str(code.task_root),
        "NODE_PATH": os.pathsep.join(str(path) for path in code.node_path),
        "AWS_NODEJS_CONNECTION_REUSE_ENABLED": "1",
        "WSLOCAL_REDIRECTS": json.dumps(redirects(settings)),
        "WSLOCAL_LOG_PREFIX": f"[{function.logical_id}] ",
        **({"WSLOCAL_SDK_INSTALL": sdk_clients.installer_command(cache)} if cache else {}),
        **({DEBUG_WAIT: "1"} if debug is not None and debug.wait else {}),
        **function.environment,
    }


class NodeLanguage:
    """Node.js workers, each a process of its own."""

    name = "nodejs"
    debugger = "the Node inspector"
    debug_port = 9229

    def prepare(
        self, model: StageModel, cache: Path, build: bool, debugged: Collection[str]
    ) -> dict[str, node_runtime.NodeRuntime]:
        """Each Node function's Node and the runtime's SDK, whatever ``build`` says: Node
        has no stage's own packages to fall back on (its builds run as a worker starts)."""
        return node_runtime.prepare(model, cache)

    async def launch(
        self, function: FunctionModel, settings: RuntimeSettings, debug: Debugging | None = None
    ) -> WorkerLaunch:
        runtime = settings.runtimes.get(function.logical_id)
        if not isinstance(runtime, node_runtime.NodeRuntime):
            runtime = await asyncio.to_thread(_runtime_of, function)
        code = await asyncio.to_thread(
            function_code, function, runtime.sdk, runtime.cache, runtime.version
        )
        return WorkerLaunch(
            node_command(runtime.interpreter, debug),
            node_environment(function, settings, code, debug, runtime.cache),
        )

    def fork_server(self, function: FunctionModel, settings: RuntimeSettings) -> None:
        return None  # a Node process cannot fork itself: every worker starts on its own


NODE = NodeLanguage()


def _runtime_of(function: FunctionModel) -> node_runtime.NodeRuntime:
    """A runtime for a function the stage did not prepare (a pool made on its own)."""
    found = node_runtime.find_node()
    if found is None:
        raise FunctionBuildError(f"{function.logical_id} needs Node.js: no `node` on PATH")
    cache = cache_dir()
    try:
        sdk = node_runtime.install_sdk(cache)
    except BuildError as exc:
        raise FunctionBuildError(str(exc)) from None
    return node_runtime.NodeRuntime(found[0], found[1], sdk, cache)
