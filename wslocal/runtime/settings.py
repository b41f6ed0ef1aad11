"""What every worker of a stage shares, whatever its language: the region, the engines'
endpoints, the credentials, each function's prepared runtime, the pool's bounds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, TextIO

from wslocal.faults import FaultPlan

DEFAULT_MAX_WORKERS = 8
DEFAULT_POOL_GROWTH = "warm-first"
DEFAULT_IDLE_WORKER_S = 60.0


class PreparedRuntime(Protocol):
    """A function's runtime as its language prepared it (``WorkerLanguage.prepare``):
    what the stage and its banner need to know of any language's; each language reads
    its own kind's details (its Python's path, its Node's SDK)."""

    @property
    def interpreter(self) -> str: ...

    @property
    def notes(self) -> tuple[str, ...]:
        """Warnings for the banner (an older runtime name run on a newer one)."""
        ...

    @property
    def language(self) -> str:
        """The banner's name for the language: ``Python``, ``Node.js``."""
        ...

    @property
    def packages(self) -> str:
        """What is built for these functions, for the banner."""
        ...

    @property
    def label(self) -> str:
        """The interpreter and its version, for the banner."""
        ...


@dataclass(frozen=True)
class RuntimeSettings:
    """What every worker's environment shares, beyond its function's own variables."""

    region: str
    account_id: str
    endpoints: Mapping[str, str]
    """boto3's endpoint variables, e.g. AWS_ENDPOINT_URL_DYNAMODB."""
    redirect_hosts: tuple[str, ...] = ()
    redirect_to: str = ""
    credentials: Mapping[str, str] = field(
        default_factory=lambda: {
            "AWS_ACCESS_KEY_ID": "wslocal",
            "AWS_SECRET_ACCESS_KEY": "wslocal",
            "AWS_SESSION_TOKEN": "wslocal",
        }
    )
    runtimes: Mapping[str, PreparedRuntime] = field(default_factory=dict)
    """Each function's runtime as its language prepared it (its own Python and path, or
    its Node and the SDK); a Python function without one runs on the stage's interpreter
    with the stage's packages importable."""
    max_workers: int = DEFAULT_MAX_WORKERS
    pool_growth: str = DEFAULT_POOL_GROWTH
    """When a busy pool starts another worker: a name of ``wslocal.runtime.growth.POLICIES``."""
    idle_worker_s: float = DEFAULT_IDLE_WORKER_S
    """Stop workers idle this long, keeping one warm; 0: never."""
    log_stream: TextIO | None = None
    """Where workers write their logs; None inherits the stage's stdout."""
    fork_workers: bool = True
    """Fork workers after the first from a fork server with the libraries loaded."""
    faults: FaultPlan | None = None
    """Workers to kill mid-call (``--inject-faults``)."""
