"""Open-file limits. The stage holds a descriptor per client connection, so at start it
raises its own soft limit to the hard one: a desktop's usual soft limit of 1,024 would
refuse a room's thousandth member. A function's execution environment keeps Lambda's
limit of 1,024 descriptors, as on AWS, whatever the stage raised."""

from __future__ import annotations

import contextlib
import resource

LAMBDA_OPEN_FILES = 1024
"""Lambda's quota of file descriptors per execution environment."""
UNLIMITED_FALLBACK = 65536
"""Asked for when the hard limit is unlimited (macOS refuses an unlimited soft limit)."""


def raise_open_files_limit() -> int:
    """The process's soft limit raised to its hard limit; return the soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, UNLIMITED_FALLBACK)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    except (ValueError, OSError):
        return soft
    return wanted


def keep_lambda_limit(pid: int) -> None:
    """Give a worker (or a fork server, whose forks inherit it) Lambda's limit. Linux
    only (``prlimit``); elsewhere the worker keeps the stage's."""
    prlimit = getattr(resource, "prlimit", None)
    if prlimit is None:
        return
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    soft = LAMBDA_OPEN_FILES if hard == resource.RLIM_INFINITY else min(LAMBDA_OPEN_FILES, hard)
    with contextlib.suppress(OSError, ValueError):  # it may have exited already
        prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
