"""Python's workers: the function's interpreter running ``wslocal.runtime.bootstrap``,
and a fork server for the workers after the first.

A function with a prepared runtime (``wslocal.runtime.builds``) runs on its own Python
without site-packages (``-S``), its path given by the bootstrap's variables; one without
runs on the stage's interpreter, the stage's packages importable. Under a debugger the
bootstrap listens with debugpy (``bootstrap.DEBUG_LISTEN``) before it imports the handler.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Collection
from pathlib import Path

from wslocal.runtime import bootstrap, builds
from wslocal.runtime.builds import FunctionRuntime
from wslocal.runtime.languages import Debugging, WorkerLaunch, lambda_environment
from wslocal.runtime.settings import RuntimeSettings
from wslocal.template import FunctionModel, StageModel

BOOTSTRAP = "wslocal.runtime.bootstrap"
FORK_SERVER = "wslocal.runtime.forkserver"


class PythonLanguage:
    """The per-language part of a Python function's workers."""

    name = "python"
    debugger = "debugpy"
    debug_port = 5678

    def prepare(
        self, model: StageModel, cache: Path, build: bool, debugged: Collection[str]
    ) -> dict[str, FunctionRuntime]:
        """Each Python function's own interpreter and requirements with ``build``;
        without, none: they run on the stage's interpreter and packages."""
        return builds.prepare(model, cache, debugged) if build else {}

    async def launch(
        self, function: FunctionModel, settings: RuntimeSettings, debug: Debugging | None = None
    ) -> WorkerLaunch:
        return WorkerLaunch(
            self.command(function, settings, debug), self.environment(function, settings, debug)
        )

    def fork_server(self, function: FunctionModel, settings: RuntimeSettings) -> WorkerLaunch:
        return WorkerLaunch(
            self._interpreter(function, settings, FORK_SERVER),
            self.environment(function, settings),
        )

    def command(
        self, function: FunctionModel, settings: RuntimeSettings, debug: Debugging | None = None
    ) -> list[str]:
        """A worker's command line, less its channel's fd."""
        command = self._interpreter(function, settings, BOOTSTRAP)
        if debug is not None:  # frozen standard modules would hide breakpoints in them
            command[1:1] = ["-X", "frozen_modules=off"]
        return command

    def environment(
        self, function: FunctionModel, settings: RuntimeSettings, debug: Debugging | None = None
    ) -> dict[str, str]:
        """Lambda's variables, the bootstrap's (layers, Management API redirect, log
        prefix, debugger), then the function's own."""
        env = {
            **lambda_environment(function, settings),
            "PYTHONUNBUFFERED": "1",
            bootstrap.LAYER_PATHS: os.pathsep.join(str(path) for path in function.layer_dirs),
            bootstrap.REDIRECT_HOSTS: ",".join(settings.redirect_hosts),
            bootstrap.REDIRECT_TO: settings.redirect_to,
            bootstrap.LOG_PREFIX: f"[{function.logical_id}] ",
        }
        prepared = settings.runtimes.get(function.logical_id)
        runtime = prepared if isinstance(prepared, FunctionRuntime) else None
        if runtime is not None:
            env[bootstrap.LAYER_PATHS] = os.pathsep.join(str(path) for path in runtime.paths)
            env["PYTHONPATH"] = str(runtime.paths[-1])  # the runtime's libraries and bootstrap
        if debug is not None:
            if runtime is not None and runtime.debugger is not None:
                env["PYTHONPATH"] += os.pathsep + str(runtime.debugger)
            env[bootstrap.DEBUG_LISTEN] = debug.address
            env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"  # the -X above: no warning needed
            env[bootstrap.DEBUG_WAIT] = "1" if debug.wait else ""
        env.update(function.environment)
        return env

    @staticmethod
    def _interpreter(function: FunctionModel, settings: RuntimeSettings, module: str) -> list[str]:
        """Its own interpreter without site-packages when the function has a prepared
        runtime, else the stage's own."""
        runtime = settings.runtimes.get(function.logical_id)
        if not isinstance(runtime, FunctionRuntime):
            return [sys.executable, "-m", module]
        return [runtime.interpreter, "-S", "-m", module]


PYTHON = PythonLanguage()
