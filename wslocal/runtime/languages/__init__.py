"""The per-language part of a worker: the one seam a runtime plugs into.

A pool (``wslocal.runtime.workers``) is the same for every language: it starts workers,
reuses them, bounds them, times their calls out and replaces them; it talks to each over
one channel of frames (``wslocal.runtime.framing``), whose file descriptor is the last
argument of the worker's command line. What differs by language is only how a process
is started (``WorkerLanguage.launch``: bring the code up to date, then its command line
and environment, listening for a debugger when asked) and whether a fork server can start
the workers after the first (``WorkerLanguage.fork_server``). ``wslocal.runtime.pools``'s
``LANGUAGES`` picks a function's language by its ``Runtime``.

    WorkerLanguage
    ├── PythonLanguage   python -m wslocal.runtime.bootstrap FD, forked after the first
    │                    (languages/python.py; debugpy)
    └── NodeLanguage     node .../bootstrap.mjs FD, built first, never forked
                         (languages/node.py; the Node inspector)
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from wslocal.runtime.settings import PreparedRuntime, RuntimeSettings
from wslocal.template import FunctionModel, StageModel

DEBUG_HOST = "127.0.0.1"


@dataclass(frozen=True)
class Debugging:
    """A function run under a debugger: its one worker listens on ``port`` of
    ``DEBUG_HOST`` for a client to attach (debugpy for Python, the inspector for Node);
    with ``wait``, its first call runs once a client has attached."""

    port: int
    wait: bool = False

    @property
    def address(self) -> str:
        """``127.0.0.1:PORT``, as debugpy's ``listen`` and Node's ``--inspect`` take it."""
        return f"{DEBUG_HOST}:{self.port}"


@dataclass(frozen=True)
class WorkerLaunch:
    """What starts one process of a function (a worker or its fork server): its command
    line, less its channel's fd (the pool appends it), and its whole environment."""

    command: list[str]
    environment: dict[str, str]


class WorkerLanguage(Protocol):
    """How the workers of one language are started."""

    name: str
    """For messages: ``python``, ``nodejs``."""
    debugger: str
    """What listens for a debugger, for the banner: ``debugpy``, ``the Node inspector``."""
    debug_port: int
    """Its usual port (debugpy 5678, Node 9229): ``--debug FUNCTION`` without one."""

    def prepare(
        self, model: StageModel, cache: Path, build: bool, debugged: Collection[str]
    ) -> Mapping[str, PreparedRuntime]:
        """The runtime of each of ``model``'s functions of this language, prepared once per
        start or template edit (``build``: as ``sam build`` would, in ``cache``; the
        ``debugged`` functions get their debugger). Raises BuildError."""
        ...

    async def launch(
        self, function: FunctionModel, settings: RuntimeSettings, debug: Debugging | None = None
    ) -> WorkerLaunch:
        """How to start a worker of ``function`` now, after bringing its code up to date
        if the language builds it (raises an InvocationError when it cannot: a failed
        build); with ``debug``, the worker listens for a debugger at ``debug.address``
        (and, with ``debug.wait``, holds its first call until one attaches)."""
        ...

    def fork_server(
        self, function: FunctionModel, settings: RuntimeSettings
    ) -> WorkerLaunch | None:
        """How to start a fork server for ``function``'s workers after the first (it
        speaks ``wslocal.runtime.forking``'s protocol); None: this language's workers
        always start as processes of their own."""
        ...


def lambda_environment(function: FunctionModel, settings: RuntimeSettings) -> dict[str, str]:
    """The variables Lambda sets for every runtime, and the stage's endpoints and
    credentials: no variable leaks from the stage's own shell except PATH, so a handler
    sees what it would see on AWS. A language adds its own, then the function's."""
    return {
        **({"AWS_LAMBDA_LOG_FORMAT": "JSON"} if function.log_format == "JSON" else {}),
        **(
            {"AWS_LAMBDA_LOG_LEVEL": function.log_level}
            if function.log_format == "JSON" and function.log_level
            else {}
        ),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "AWS_REGION": settings.region,
        "AWS_DEFAULT_REGION": settings.region,
        "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.function_name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": f"local/{function.logical_id}",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.runtime}",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "LAMBDA_TASK_ROOT": str(function.code_dir),
        "_HANDLER": function.handler,
        "WSLOCAL_ACCOUNT_ID": settings.account_id,
        **settings.credentials,
        **settings.endpoints,
    }
