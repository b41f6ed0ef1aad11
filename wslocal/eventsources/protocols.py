"""What the pollers need of the rest of the stage: a way to invoke a function, and a
place to describe what they gave up on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from wslocal.template import OnFailureDestination


class Invoker(Protocol):
    async def invoke(self, function: str, event: Mapping[str, Any], label: str = "") -> Any: ...


class FailureDestinations(Protocol):
    """Where a discarded batch's description goes (an SQS queue, an SNS topic)."""

    async def deliver(self, destination: OnFailureDestination, message: dict[str, Any]) -> None: ...
