"""DynamoDB stream records as Lambda hands them to a function, and the description of a
discarded batch that goes to an on-failure destination. Pure functions of what
``GetRecords`` returned: its JSON as the stage's pollers read it (epoch seconds, binary
values in base64), or botocore's parsed form (datetimes and bytes)."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from wslocal.eventsources.batches import Discarded

TTL_IDENTITY = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
"""``userIdentity`` of a removal made by DynamoDB's time to live."""


def _json_safe(value: Any) -> Any:
    """DynamoDB's typed JSON as it travels: binary values (B, BS) in base64."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, Mapping):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set):
        return [_json_safe(item) for item in value]
    return value


def created_s(record: Mapping[str, Any]) -> float:
    """``ApproximateCreationDateTime`` of a raw record, in epoch seconds."""
    moment = record["dynamodb"].get("ApproximateCreationDateTime")
    if isinstance(moment, datetime):
        return moment.timestamp()
    return float(moment or 0)


EVENT_NAMES = frozenset({"INSERT", "MODIFY", "REMOVE"})


def event_name(record: Mapping[str, Any]) -> str | None:
    """The record's ``eventName``. DynamoDB Local has been seen to stream its Java SDK's
    ``UNKNOWN_TO_SDK_VERSION`` (under load, for a removal); a name outside DynamoDB's
    three is read from the images the record carries, as the stream's view type says
    they would be (a ``KEYS_ONLY`` record keeps the name it came with)."""
    name = record.get("eventName")
    if name in EVENT_NAMES:
        return str(name)
    stream = record["dynamodb"]
    new, old = "NewImage" in stream, "OldImage" in stream
    view = stream.get("StreamViewType")
    if view == "NEW_AND_OLD_IMAGES":
        return "MODIFY" if new and old else "INSERT" if new else "REMOVE" if old else name
    if view == "NEW_IMAGE":  # an INSERT and a MODIFY look alike: only a removal is sure
        return "REMOVE" if not new else name
    if view == "OLD_IMAGE":  # an INSERT carries no image, a MODIFY and a REMOVE the old
        return "INSERT" if not old else name
    return name


def is_removal(record: Mapping[str, Any]) -> bool:
    return event_name(record) == "REMOVE"


def lambda_record(
    record: Mapping[str, Any], *, stream_arn: str, region: str, by_ttl: bool = False
) -> dict[str, Any]:
    """A record of ``Records[]`` as Lambda builds it from a GetRecords record."""
    stream = record["dynamodb"]
    dynamodb: dict[str, Any] = {
        "ApproximateCreationDateTime": float(int(created_s(record))),
        "Keys": _json_safe(stream.get("Keys", {})),
    }
    for image in ("NewImage", "OldImage"):
        if image in stream:
            dynamodb[image] = _json_safe(stream[image])
    dynamodb.update(
        SequenceNumber=stream["SequenceNumber"],
        SizeBytes=stream.get("SizeBytes", 0),
        StreamViewType=stream.get("StreamViewType"),
    )
    made: dict[str, Any] = {
        "eventID": record.get("eventID"),
        "eventName": event_name(record),
        "eventVersion": record.get("eventVersion", "1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    }
    if by_ttl:
        made["userIdentity"] = dict(TTL_IDENTITY)
    return made


def sequence_numbers(records: Sequence[Mapping[str, Any]]) -> list[str]:
    return [str(record["dynamodb"]["SequenceNumber"]) for record in records]


def iso_ms(epoch_s: float) -> str:
    moment = datetime.fromtimestamp(epoch_s, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(epoch_s * 1000) % 1000:03d}Z"


def failure_record(
    discarded: Discarded[Mapping[str, Any]],
    *,
    shard_id: str,
    stream_arn: str,
    function_arn: str,
    request_id: str,
    error: str | None,
    now_s: float,
) -> dict[str, Any]:
    """The invocation record Lambda sends to an on-failure destination: it describes the
    records (shard and sequence numbers to read them again), it does not carry them."""
    records = discarded.records
    numbers = sequence_numbers(records)
    return {
        "requestContext": {
            "requestId": request_id,
            "functionArn": function_arn,
            "condition": discarded.condition,
            "approximateInvokeCount": discarded.retries + 1,
        },
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": error or "",
        },
        "version": "1.0",
        "timestamp": iso_ms(now_s),
        "DDBStreamBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": numbers[0],
            "endSequenceNumber": numbers[-1],
            "approximateArrivalOfFirstRecord": iso_ms(created_s(records[0])),
            "approximateArrivalOfLastRecord": iso_ms(created_s(records[-1])),
            "batchSize": len(records),
            "streamArn": stream_arn,
        },
    }
