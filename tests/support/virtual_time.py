"""A running event loop's clock made virtual, for tests of timing rules on fake work
(``asyncio.sleep`` standing for a call or a start): the clock moves only while the loop
has nothing ready, and then straight to its next timer. What the rule sees is the
sleeps' time alone, so a machine that stalls the test (a loaded CI runner, a VM's slow
spell) cannot show as time passing, and the tests take no wall time to wait. It is for a
test's own loop (pytest-asyncio's function scope): the loop is patched, not restored."""

import asyncio
import selectors
from types import SimpleNamespace

ORIGIN_S = 1000.0
"""Where the clock starts, whatever the machine's uptime: near it a float's step is far
below ``EARLY_S`` and the loop's clock resolution (past 2**22 s of uptime, a monotonic
clock's step is 1e-9 s, and a clock moved by timers' differences stalls)."""
EARLY_S = 5e-10
"""The clock stops this far short of the timer it moves to: a loop runs a timer due
within its clock resolution (1 ns), so code that compares the clock with the time it
waited for must expect to find it a tick early."""


class VirtualClock:
    """The loop's ``time()`` and a stand-in for the ``time`` module that reads it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.now = ORIGIN_S
        self._epoch = 1_800_000_000.0
        self._select = loop._selector.select  # type: ignore[attr-defined]
        loop.time = self.time  # type: ignore[method-assign]
        loop._selector.select = self.select  # type: ignore[attr-defined]
        self.module = SimpleNamespace(monotonic=self.time, time=self.wall_time)
        """For ``monkeypatch.setattr(module, "time", clock.module)``."""

    def time(self) -> float:
        return self.now

    def wall_time(self) -> float:
        return self._epoch + self.now

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        """What is ready now; with nothing ready and a timer due in ``timeout``, the
        clock moves to it (``EARLY_S`` short) instead of the loop waiting for it (with
        no timer, the loop waits for real events, as it would)."""
        if timeout is None:
            return self._select(None)
        events = self._select(0)
        if not events:
            self.now += timeout - EARLY_S
        return events
