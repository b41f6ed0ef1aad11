"""The stage's event loop: uvloop's where it is installed (libuv's loop and transports in
C, as uvicorn runs by default), else asyncio's. The stage's hot loop is a turn of the loop
per ``@connections`` post and a write per frame: uvloop takes about 8 µs of Python off each
post (docs/benchmarks.md, "The stage's event loop"). ``--loop asyncio`` keeps asyncio's,
for a debugger or a profile that wants Python frames; the stage behaves the same on both.
"""

from __future__ import annotations

import asyncio
import importlib.util
from typing import Literal

from wslocal.exceptions import WslocalError

LoopKind = Literal["auto", "uvloop", "asyncio"]


def uvloop_installed() -> bool:
    return importlib.util.find_spec("uvloop") is not None


def loop_kind_of(kind: LoopKind) -> Literal["uvloop", "asyncio"]:
    """The loop ``kind`` means here: ``auto`` is uvloop when it is installed."""
    if kind == "auto":
        return "uvloop" if uvloop_installed() else "asyncio"
    return kind


def new_event_loop(kind: LoopKind = "auto") -> asyncio.AbstractEventLoop:
    """A new loop of ``kind``: ``auto`` falls back to asyncio's when uvloop does not
    import; ``uvloop`` asked for and not importable is an error that says so."""
    if loop_kind_of(kind) == "asyncio":
        return asyncio.new_event_loop()
    try:
        import uvloop
    except ImportError as exc:
        if kind == "auto":
            return asyncio.new_event_loop()
        raise WslocalError(f"--loop uvloop: uvloop does not import ({exc})") from exc
    return uvloop.new_event_loop()
