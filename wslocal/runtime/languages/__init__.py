"""The per-language seam of a worker: how a function's worker process is started.

The pool (``wslocal.runtime.workers``) starts, feeds, reuses, reaps and kills workers the
same way whatever their language; a ``Language`` says only what differs: the command
line, the environment beyond what Lambda sets for every runtime, whether later workers
may be forked from a fork server, and any build to bring the code up to date before a
worker starts. Every worker speaks the same framed protocol on the socket whose fd ends
its command line (``wslocal.runtime.framing``).

    Language
    ├── PythonLanguage   python -m wslocal.runtime.bootstrap FD   (languages/python.py)
    └── NodeLanguage     node .../bootstrap.mjs FD                 (languages/node.py)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from wslocal.exceptions import TemplateError
from wslocal.template import FunctionModel, StageModel

if TYPE_CHECKING:
    from wslocal.runtime.builds import FunctionRuntime
    from wslocal.runtime.node.runtime import NodeRuntime
    from wslocal.runtime.workers import RuntimeSettings


@dataclass(frozen=True)
class DebugPort:
    """A debugger's port for one function's worker: Node's inspector
    (``--inspect=127.0.0.1:PORT``, ``--inspect-brk`` when ``wait``)."""

    port: int
    wait: bool = False
    """Hold the handler's first line until a client attaches."""
    host: str = "127.0.0.1"


@dataclass(frozen=True)
class WorkerLaunch:
    """What starts one worker: its command line (its channel's fd is appended) and its
    whole environment."""

    command: list[str]
    environment: dict[str, str]


class Language(Protocol):
    """One language's workers."""

    name: str
    forks: bool
    """Workers after the first may be forked from the function's fork server."""

    async def launch(
        self, function: FunctionModel, settings: RuntimeSettings, debug: DebugPort | None = None
    ) -> WorkerLaunch:
        """How to start a worker of ``function`` now (after building its code if it
        must be); raises an InvocationError when it cannot start (a failed build)."""
        ...


def lambda_environment(function: FunctionModel, settings: RuntimeSettings) -> dict[str, str]:
    """The variables Lambda sets for every runtime. No variable leaks from the stage's own
    shell except PATH and the locale, so a handler sees what it would see on AWS."""
    return {
        **({"AWS_LAMBDA_LOG_FORMAT": "JSON"} if function.log_format == "JSON" else {}),
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


def language_of(runtime: str, languages: Mapping[str, Language] | None = None) -> Language:
    """The language whose workers run a function of ``runtime`` (``python3.13``,
    ``nodejs20.x``)."""
    from wslocal.runtime.languages.node import NodeLanguage
    from wslocal.runtime.languages.python import PythonLanguage

    known: Mapping[str, Language] = languages or {
        "python": PythonLanguage(),
        "nodejs": NodeLanguage(),
    }
    for prefix, language in known.items():
        if runtime.startswith(prefix):
            return language
    raise TemplateError(f"runtime {runtime!r} is neither Python nor Node.js")


def prepare_runtimes(
    model: StageModel, cache: Path, build: bool
) -> dict[str, FunctionRuntime | NodeRuntime]:
    """Each function's runtime: Python functions' own interpreter and requirements when
    ``build`` (else they run on the stage's), Node functions' Node and SDK always (Node
    has no stage's own packages to fall back on). Raises BuildError."""
    from wslocal.runtime import builds
    from wslocal.runtime.node import runtime as node_runtime

    prepared: dict[str, FunctionRuntime | NodeRuntime] = {}
    if build:
        prepared.update(builds.prepare(model, cache))
    prepared.update(node_runtime.prepare(model, cache))
    return prepared
