"""The chat's handlers run the way Lambda runs them, against moto: invoking a route,
what a connection received, and the backstop's chain (the messages table's stream,
DeliveryWatchFunction, the fan-out queue, FanOutFunction) driven by hand, since moto
has no DynamoDB Streams."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote

from boto3.dynamodb.types import TypeSerializer
from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends
from moto.core import DEFAULT_ACCOUNT_ID

from chatroom.connections import Connection
from tests.support.events import load_event
from tests.support.handlers import LambdaContextStub, decode_concatenated, load_handler
from wslocal.eventsources import dynamodb_records, sqs_records

SENDER = "L0SM9cOFvHcCIhw="  # the connection id of every file in events/


def invoke(route_folder: str, event: dict, context: Any = None) -> dict:
    return load_handler(route_folder).lambda_handler(event, context or LambdaContextStub())


def received(connection_id: str) -> list[dict]:
    """What moto's Management API got for the connection (moto keys it URL-encoded)."""
    backend = apigatewaymanagementapi_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    key = quote(connection_id, safe="")
    if key not in backend.connections:
        return []
    return decode_concatenated(backend.connections[key].data)


def join(
    chat: Any,
    connection_id: str,
    room: str = "lobby",
    name: str | None = None,
    source_ip: str = "1.2.3.4",
    verified_subject: str | None = None,
) -> None:
    """A member that connected a minute ago (open, and past $connect's grace), from
    ``source_ip``, signed in as ``verified_subject`` if given."""
    connected_at = int(time.time() * 1000) - 60_000
    chat.store.add(
        Connection(
            connection_id,
            room,
            name or connection_id,
            connected_at,
            source_ip,
            verified_subject=verified_subject,
        )
    )


def message_event(route: str, body: object, connection_id: str = SENDER) -> dict:
    event = load_event("send_message" if route == "sendMessage" else "default")
    event["requestContext"]["routeKey"] = route
    event["requestContext"]["connectionId"] = connection_id
    event["body"] = body if isinstance(body, str) else json.dumps(body)
    return event


def queue_event(sqs: Any, url: str) -> dict:
    """What Lambda would invoke FanOutFunction with: every visible message as a record."""
    records = []
    while answer := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]
    ).get("Messages"):
        records += [
            sqs_records.lambda_record(m, queue_arn="arn:aws:sqs:us-east-1:1:q", region="us-east-1")
            for m in answer
        ]
    return {"Records": records}


def messages_stream(table: Any) -> dict:
    """The messages table's stream as DeliveryWatchFunction would get it: each stored
    message's INSERT (as stored: pending), then its MODIFY if it was marked since."""
    serialise = TypeSerializer().serialize
    records = []
    for number, item in enumerate(table.scan(ConsistentRead=True)["Items"]):
        if "delivery" not in item:
            continue  # claims and rate counters
        keys = {"room": serialise(item["room"]), "messageId": serialise(item["messageId"])}
        changes = [("INSERT", {**item, "delivery": "pending"})]
        if item["delivery"] != "pending":
            changes.append(("MODIFY", item))
        for step, (name, image) in enumerate(changes):
            stream = {
                "Keys": keys,
                "NewImage": {key: serialise(value) for key, value in image.items()},
                "SequenceNumber": f"{number:010d}{step}",
                "StreamViewType": "NEW_IMAGE",
                "ApproximateCreationDateTime": time.time(),
            }
            records.append(
                dynamodb_records.lambda_record(
                    {"eventID": f"{number}-{step}", "eventName": name, "dynamodb": stream},
                    stream_arn="arn:aws:dynamodb:us-east-1:1:table/MessagesTable/stream/x",
                    region="us-east-1",
                )
            )
    return {"Records": records}


def settle(chat: Any, rounds: int = 6) -> None:
    """Run the backstop as AWS would once every sender's invocation is over: the stream
    batch through DeliveryWatchFunction (its checks due at once), then the fan-out queue
    through FanOutFunction until it is empty."""
    from chatroom import delivery

    watch = load_handler("delivery_watch")
    original = delivery.check_delay_s
    delivery.check_delay_s = lambda deliver_by_ms, now_ms: 0  # every sender is over
    try:
        watch.lambda_handler(messages_stream(chat.messages), LambdaContextStub())
    finally:
        delivery.check_delay_s = original
    fan_out = load_handler("fan_out")
    for _ in range(rounds):
        event = queue_event(chat.sqs, chat.queue_url)
        if not event["Records"]:
            return
        fan_out.lambda_handler(event, LambdaContextStub())
