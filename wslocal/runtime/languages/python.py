"""Python workers: ``python -m wslocal.runtime.bootstrap FD``, on the function's own
interpreter and path when ``wslocal.runtime.builds`` prepared them, else the stage's."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from wslocal.exceptions import WslocalError
from wslocal.runtime import bootstrap
from wslocal.runtime.builds import FunctionRuntime
from wslocal.runtime.languages import DebugPort, WorkerLaunch, lambda_environment
from wslocal.template import FunctionModel

if TYPE_CHECKING:
    from wslocal.runtime.workers import RuntimeSettings


def worker_environment(function: FunctionModel, settings: RuntimeSettings) -> dict[str, str]:
    """Lambda's variables, the bootstrap's (layers, Management API redirect, log prefix),
    then the function's own."""
    env = {
        **lambda_environment(function, settings),
        "PYTHONUNBUFFERED": "1",
        bootstrap.LAYER_PATHS: os.pathsep.join(str(path) for path in function.layer_dirs),
        bootstrap.REDIRECT_HOSTS: ",".join(settings.redirect_hosts),
        bootstrap.REDIRECT_TO: settings.redirect_to,
        bootstrap.LOG_PREFIX: f"[{function.logical_id}] ",
    }
    runtime = settings.runtimes.get(function.logical_id)
    if isinstance(runtime, FunctionRuntime):
        env[bootstrap.LAYER_PATHS] = os.pathsep.join(str(path) for path in runtime.paths)
        env["PYTHONPATH"] = str(runtime.paths[-1])  # the runtime's libraries and bootstrap
    env.update(function.environment)
    return env


def worker_command(
    function: FunctionModel, settings: RuntimeSettings, module: str = "wslocal.runtime.bootstrap"
) -> list[str]:
    """The worker's (or its fork server's) command line, less its channel's fd: its own
    interpreter without site-packages (``-S``) when the function has a prepared runtime,
    else the stage's own."""
    runtime = settings.runtimes.get(function.logical_id)
    if not isinstance(runtime, FunctionRuntime):
        return [sys.executable, "-m", module]
    return [runtime.interpreter, "-S", "-m", module]


class PythonLanguage:
    """Python workers; those after a function's first are forked from its fork server."""

    name = "python"
    forks = True

    async def launch(
        self, function: FunctionModel, settings: RuntimeSettings, debug: DebugPort | None = None
    ) -> WorkerLaunch:
        if debug is not None:
            raise WslocalError(f"{function.logical_id}: Python workers take no debugger here yet")
        return WorkerLaunch(
            worker_command(function, settings), worker_environment(function, settings)
        )
