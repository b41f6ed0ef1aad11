"""The per-language part of a worker: the seam a second runtime plugs into.

A pool (``wslocal.runtime.workers``) is the same for every language: it starts workers,
reuses them, bounds them, times their calls out and replaces them; it talks to each over
one channel of frames (``wslocal.runtime.framing``), whose file descriptor is the last
argument of the worker's command line. What differs by language is only how the
process is started: its command (interpreter and bootstrap), its environment (Lambda's
variables plus the language's own), whether a fork server can start the workers after
the first, and how it listens for a debugger. A language is an object with those
answers (``WorkerLanguage``); ``wslocal.runtime.python_worker`` is Python's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Protocol

from wslocal.runtime.settings import RuntimeSettings
from wslocal.template import FunctionModel

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
        """``127.0.0.1:PORT``, as ``--listen`` and ``--inspect`` take it."""
        return f"{DEBUG_HOST}:{self.port}"


class WorkerLanguage(Protocol):
    """How a worker of one language is started. The pool appends the channel's file
    descriptor to ``command``'s result and passes that descriptor to the process."""

    name: str
    """For messages: ``python``, ``nodejs``."""
    debugger: str
    """What listens for a debugger, for the banner: ``debugpy``, ``the Node inspector``."""
    debug_port: int
    """Its usual port (debugpy 5678, Node 9229): ``--debug FUNCTION`` without one."""

    def command(
        self, function: FunctionModel, settings: RuntimeSettings, debug: Debugging | None
    ) -> list[str]:
        """The worker's command line, less its channel's fd; with ``debug``, the worker
        listens for a debugger at ``debug.address`` (and, with ``debug.wait``, holds its
        first call until one attaches)."""
        ...

    def environment(
        self, function: FunctionModel, settings: RuntimeSettings, debug: Debugging | None
    ) -> dict[str, str]:
        """The worker's whole environment (``lambda_environment`` and the language's own
        variables, then the function's)."""
        ...

    def fork_server_command(
        self, function: FunctionModel, settings: RuntimeSettings
    ) -> list[str] | None:
        """The command of a fork server for this function's workers (it speaks
        ``wslocal.runtime.forking``'s protocol), less its channel's fd; None: this
        language's workers always start as processes of their own."""
        ...


def lambda_environment(function: FunctionModel, settings: RuntimeSettings) -> dict[str, str]:
    """The variables Lambda sets for every runtime, and the stage's endpoints and
    credentials: no variable leaks from the stage's own shell except PATH, so a handler
    sees what it would see on AWS. A language adds its own, then the function's."""
    return {
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
        "LAMBDA_TASK_ROOT": str(function.code_dir),
        "_HANDLER": function.handler,
        "WSLOCAL_ACCOUNT_ID": settings.account_id,
        **settings.credentials,
        **settings.endpoints,
    }
