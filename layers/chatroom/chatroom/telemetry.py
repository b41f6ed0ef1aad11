"""Logging and metrics shared by every handler, and the decorator that wires them.

Powertools' Logger and Metrics live here once per execution environment: JSON logs with
the request id as correlation id and the connection id (and room, once known) as keys;
EMF metrics flushed after each invocation.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, Protocol

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import (
    APIGatewayWebSocketEvent,
    DynamoDBStreamEvent,
)

logger = Logger()
metrics = Metrics()
# Routes that post nothing (history, $default) have no metrics to flush; that is expected.
warnings.filterwarnings("ignore", message="No application metrics to publish")

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]
Remaining = Callable[[], float]


class MetricsSink(Protocol):
    """What the layer needs of Powertools' Metrics (tests may pass a fake)."""

    def add_metric(self, name: str, unit: Any, value: float) -> None: ...


def count(sink: MetricsSink, name: str, value: int) -> None:
    """Add a count; zero is not worth a metric."""
    if value:
        sink.add_metric(name=name, unit=MetricUnit.Count, value=value)


class ProxyReply(Protocol):
    def as_response(self) -> dict[str, Any]: ...


def remaining_time(context: Any) -> Remaining:
    """Seconds the invocation has left, read from the Lambda context at each call."""
    clock = getattr(context, "get_remaining_time_in_millis", None)
    if clock is None:
        return lambda: float("inf")
    return lambda: clock() / 1000


def websocket_handler(
    route: Callable[[APIGatewayWebSocketEvent, Remaining], ProxyReply],
) -> LambdaHandler:
    """Turn ``route(event, remaining) -> Reply`` into a Lambda handler with logs and
    metrics."""

    @metrics.log_metrics
    @logger.inject_lambda_context(
        correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True
    )
    @functools.wraps(route)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        websocket_event = APIGatewayWebSocketEvent(event)
        logger.append_keys(connection_id=websocket_event.request_context.connection_id)
        return route(websocket_event, remaining_time(context)).as_response()

    return handler


def stream_handler(
    consume: Callable[[DynamoDBStreamEvent, Remaining], dict[str, Any]],
) -> LambdaHandler:
    """Turn ``consume(event, remaining) -> response`` into a Lambda handler for a
    DynamoDB stream."""

    @metrics.log_metrics
    @logger.inject_lambda_context(clear_state=True)
    @functools.wraps(consume)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return consume(DynamoDBStreamEvent(event), remaining_time(context))

    return handler


def queue_handler(
    consume: Callable[[dict[str, Any], Remaining], dict[str, Any]],
) -> LambdaHandler:
    """Turn ``consume(event, remaining) -> response`` into a Lambda handler for an SQS
    queue (the event stays a dict: Powertools' batch utility reads it)."""

    @metrics.log_metrics
    @logger.inject_lambda_context(clear_state=True)
    @functools.wraps(consume)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return consume(event, remaining_time(context))

    return handler
