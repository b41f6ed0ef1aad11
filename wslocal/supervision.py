"""Background tasks that must not die silently: the event-source pollers, the watchers,
the idle reaper, the TTL sweeper. ``supervised`` runs one until it is cancelled; when it
dies (an engine that vanished, a bug), the cause is logged with its traceback and the task
starts again after a pause that grows while it keeps dying quickly."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger("wslocal")

FIRST_PAUSE_S = 1.0
LONGEST_PAUSE_S = 30.0
HEALTHY_AFTER_S = 60.0
"""A task that ran this long before dying starts again after the first pause."""


async def supervised(
    name: str,
    run: Callable[[], Awaitable[None]],
    *,
    first_pause_s: float = FIRST_PAUSE_S,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Run ``run()`` until cancelled, or until it returns (its work is done)."""
    pause = first_pause_s
    while True:
        started = clock()
        try:
            await run()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s stopped on an error; starting it again in %g s", name, pause)
        await sleep(pause)
        healthy = clock() - started >= HEALTHY_AFTER_S
        pause = first_pause_s if healthy else min(pause * 2, LONGEST_PAUSE_S)
