"""The layer's one retry loop: full jitter, bounded by a budget and by the invocation.

Every call the chat retries after a message is stored (a post to a connection, a batch of
shards, the hand-off mark, the clean-up of gone connections) goes through ``attempts``:
it never starts an attempt that could outlive the step's budget or cut into the time the
invocation keeps for the steps after it, so the budgets in ``chatroom.budgets`` add up.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from chatroom.telemetry import Remaining


def unlimited() -> float:
    """The remaining time of a call with no invocation around it (a test, a script)."""
    return float("inf")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int
    budget_s: float
    """Longest the step may take, every attempt and pause included."""
    attempt_timeout_s: float
    """Longest one attempt may take (its connect and read timeouts)."""
    first_backoff_s: float = 0.05


@dataclass(frozen=True)
class Attempt:
    number: int
    timeout_s: float
    """This attempt's time: the policy's, cut to what is left of the budget."""


def attempts(
    policy: RetryPolicy,
    remaining: Remaining = unlimited,
    keep_s: float = 0.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    made: int = 0,
    started_at: float | None = None,
) -> Iterator[Attempt]:
    """Yield the attempts the caller may make: the first at once, each next one after a
    full-jitter pause, while attempts are left and the pause and a whole attempt fit both
    in the budget and in ``remaining()`` less ``keep_s`` (what later steps need). The
    caller returns on success and loops on a failure worth retrying. ``made`` attempts
    already made elsewhere, the first at ``started_at`` (``clock``'s time), count against
    the policy's attempts and budget."""
    ends = (clock() if started_at is None else started_at) + policy.budget_s
    for number in range(made, policy.attempts):
        if number:
            pause = random.uniform(0, policy.first_backoff_s * 2**number)
            needs = pause + policy.attempt_timeout_s
            if clock() + needs > ends or remaining() - needs < keep_s:
                return
            sleep(pause)
        yield Attempt(number, max(0.0, min(policy.attempt_timeout_s, ends - clock())))
