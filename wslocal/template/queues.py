"""Queues: CreateQueue's name and attributes from an ``AWS::SQS::Queue``, its
``RedrivePolicy`` included (SQS moves a message to the dead-letter queue, not Lambda)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from wslocal.exceptions import TemplateError
from wslocal.template.intrinsics import Resolver
from wslocal.template.model import QueueModel

# CloudFormation properties that are CreateQueue attributes of the same name.
_ATTRIBUTES = (
    "VisibilityTimeout",
    "MessageRetentionPeriod",
    "DelaySeconds",
    "MaximumMessageSize",
    "ReceiveMessageWaitTimeSeconds",
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
)


def _text(value: Any) -> str:
    """SQS attributes are strings; CloudFormation's booleans become "true"/"false"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def queue_model(
    logical_id: str, resource: Mapping[str, Any], resolver: Resolver, refs: Mapping[str, Any]
) -> QueueModel:
    properties = resolver.resolve(resource.get("Properties") or {}, logical_id)
    name = str(refs[logical_id]).rsplit("/", 1)[-1]
    attributes = {key: _text(properties[key]) for key in _ATTRIBUTES if key in properties}
    if attributes.get("FifoQueue") == "false":
        del attributes["FifoQueue"]
    redrive = properties.get("RedrivePolicy")
    if isinstance(redrive, str):
        try:
            redrive = json.loads(redrive)
        except ValueError:
            raise TemplateError("is not JSON", logical_id, "RedrivePolicy") from None
    if not redrive:
        return QueueModel(logical_id, name, attributes)
    target = str(redrive.get("deadLetterTargetArn", ""))
    try:
        count = int(redrive["maxReceiveCount"])
    except (KeyError, TypeError, ValueError):
        raise TemplateError(
            "needs a whole maxReceiveCount (1 to 1000)", logical_id, "RedrivePolicy"
        ) from None
    if not target.startswith("arn:") or not 1 <= count <= 1000:
        raise TemplateError(
            "needs deadLetterTargetArn (a queue's Arn) and maxReceiveCount 1 to 1000",
            logical_id,
            "RedrivePolicy",
        )
    attributes["RedrivePolicy"] = json.dumps(
        {"deadLetterTargetArn": target, "maxReceiveCount": count}
    )
    return QueueModel(
        logical_id,
        name,
        attributes,
        dead_letter_queue=target.rsplit(":", 1)[-1],
        max_receive_count=count,
    )


def creation_order(queues: tuple[QueueModel, ...]) -> list[QueueModel]:
    """Dead-letter queues before the queues that name them (SQS checks the target)."""
    ordered: list[QueueModel] = []
    placed: set[str] = set()
    remaining = list(queues)
    while remaining:
        ready = [
            q for q in remaining if q.dead_letter_queue is None or q.dead_letter_queue in placed
        ]
        if not ready:  # a target outside the template, or a cycle: SQS will say which
            ready = remaining[:1]
        for queue in ready:
            ordered.append(queue)
            placed.add(queue.queue_name)
            remaining.remove(queue)
    return ordered
