"""What the pollers need of the rest of the stage: a way to invoke a function, a place to
describe what they gave up on, and a service's API to call."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from wslocal.template import OnFailureDestination


class Invoker(Protocol):
    async def invoke(self, function: str, event: Mapping[str, Any], label: str = "") -> Any: ...


class FailureDestinations(Protocol):
    """Where a discarded batch's description goes (an SQS queue, an SNS topic)."""

    async def deliver(self, destination: OnFailureDestination, message: dict[str, Any]) -> None: ...


class JsonApi(Protocol):
    """A service's JSON actions (``wslocal.eventsources.aws_client.AwsJsonClient``):
    ``call`` answers the action's output or raises ``aws_json.AwsCallError``."""

    async def call(self, operation: str, payload: Mapping[str, Any]) -> dict[str, Any]: ...

    def close(self) -> None:
        """Close idle connections; a later call opens new ones."""
