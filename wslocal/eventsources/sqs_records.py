"""Lambda's SQS records, built from what ReceiveMessage returns (pure: no I/O).

Lambda renames SQS's fields (``MessageId`` -> ``messageId``, ``MD5OfBody`` ->
``md5OfBody``, ``StringValue`` -> ``stringValue``) and adds where the record came from.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

# What the poller asks ReceiveMessage for, so the records carry what Lambda's do.
SYSTEM_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "MessageGroupId",
    "MessageDeduplicationId",
    "SequenceNumber",
    "AWSTraceHeader",
)


def _encoded(value: Any) -> str:
    return base64.b64encode(value).decode("ascii") if isinstance(value, bytes) else str(value)


def message_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    """One message attribute as Lambda shows it (binary values in base64)."""
    attribute: dict[str, Any] = {}
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = _encoded(value["BinaryValue"])
    attribute["stringListValues"] = list(value.get("StringListValues", []))
    attribute["binaryListValues"] = [_encoded(v) for v in value.get("BinaryListValues", [])]
    attribute["dataType"] = value.get("DataType", "String")
    return attribute


def lambda_record(message: Mapping[str, Any], *, queue_arn: str, region: str) -> dict[str, Any]:
    """The record of ``event["Records"]`` Lambda builds from one received message."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": {
            name: value
            for name, value in (message.get("Attributes") or {}).items()
            if name in SYSTEM_ATTRIBUTES
        },
        "messageAttributes": {
            name: message_attribute(value)
            for name, value in (message.get("MessageAttributes") or {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def oldest_age_ms(messages: Sequence[Mapping[str, Any]], now_ms: int) -> int | None:
    """How long the oldest of ``messages`` has been in its queue (from its
    ``SentTimestamp``); None when none says when it was sent."""
    sent = [
        int(timestamp)
        for message in messages
        if (timestamp := (message.get("Attributes") or {}).get("SentTimestamp")) is not None
    ]
    return max(0, now_ms - min(sent)) if sent else None


def receive_count(message: Mapping[str, Any]) -> int:
    return int((message.get("Attributes") or {}).get("ApproximateReceiveCount", 1))
