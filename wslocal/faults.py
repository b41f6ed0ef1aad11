"""Faults the stage can inject, to see an app keep its promises when AWS misbehaves.

``wslocal start --inject-faults kill=0.01,post-500=0.01`` fails about one invocation in
a hundred by killing its worker (as a crash or a Lambda timeout ends an execution
environment): at a random moment in the first 50 ms of the call, or as the call returns
if it ends sooner (its work done, its answer lost). It answers about one ``@connections``
post in a hundred with API Gateway's 500. Pure: the stage asks, the plan decides
(seeded, so a run can be repeated).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from wslocal.exceptions import WslocalError

KILL_WITHIN_S = 0.05
"""A kill falls somewhere in the first 50 ms of a call (most handlers take 5-50 ms, so it
lands before, between or after their writes), or as the call returns."""
KINDS = {"kill": "kill", "post-500": "post_error"}


@dataclass
class FaultPlan:
    kill: float = 0.0
    """Share of invocations that fail, their worker killed during the call or as it
    returns."""
    post_error: float = 0.0
    """Share of ``@connections`` posts answered 500."""
    seed: int | None = None
    _random: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    @property
    def active(self) -> bool:
        return self.kill > 0 or self.post_error > 0

    def kill_after_s(self) -> float | None:
        """When to kill the worker of the call about to start; None: let it be."""
        if self.kill and self._random.random() < self.kill:
            return self._random.uniform(0, KILL_WITHIN_S)
        return None

    def post_fails(self) -> bool:
        return bool(self.post_error) and self._random.random() < self.post_error

    def describe(self) -> str:
        return (
            f"{self.kill:.1%} of invocations killed mid-call, {self.post_error:.1%} of "
            f"@connections posts answered 500"
            + (f" (seed {self.seed})" if self.seed is not None else "")
        )


def parse_faults(text: str) -> FaultPlan:
    """``kill=0.01,post-500=0.01[,seed=7]``: each share between 0 and 1."""
    values: dict[str, float] = {}
    seed: int | None = None
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, equals, value = part.partition("=")
        if not equals:
            raise WslocalError(f"--inject-faults: {part!r} is not NAME=VALUE")
        if name == "seed":
            try:
                seed = int(value)
            except ValueError:
                raise WslocalError(
                    f"--inject-faults: seed {value!r} is not a whole number"
                ) from None
            continue
        if name not in KINDS:
            known = ", ".join([*KINDS, "seed"])
            raise WslocalError(f"--inject-faults: {name!r} is not a fault (known: {known})")
        try:
            share = float(value)
        except ValueError:
            share = -1.0
        if not 0 <= share <= 1:
            raise WslocalError(f"--inject-faults: {name} must be a share between 0 and 1")
        values[KINDS[name]] = share
    return FaultPlan(**values, seed=seed)
