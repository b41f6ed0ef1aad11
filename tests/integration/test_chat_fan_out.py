"""The chat's sharded fan-out on the local stage: with InlineFanOutMax 2 and shards of 2,
a room of six hears messages and presence through the fan-out queue (moto's SQS) and
FanOutFunction, invoked by the stage's SQS event source."""

import contextlib
import json
import time

import pytest
from websockets.sync.client import connect

from tests.support.paths import ROOT, TEMPLATE
from tests.support.stage import RunningStage, engines_config
from wslocal.engines.dynamodb import (
    create_tables,
    find_dynamodb_local_jar,
    start_dynamodb_local,
)
from wslocal.engines.sqs import start_sqs
from wslocal.template import build_stage_model, read_template

pytestmark = pytest.mark.integration

ROOM_SIZE = 6


@pytest.fixture(scope="module")
def sharded_stage():
    """Engines of its own: the session's chat stage polls the session's table stream and
    would post presence to (and, on 410, forget) this stage's connections."""
    model = build_stage_model(
        read_template(TEMPLATE),
        ROOT,
        {"InlineFanOutMax": "2", "FanOutShardSize": "2", "PresenceBatchingWindowSeconds": "0"},
    )
    jar = find_dynamodb_local_jar(ROOT)
    assert jar is not None
    with start_dynamodb_local(jar, region="us-east-1") as dynamodb, start_sqs() as sqs:
        create_tables(dynamodb, model.tables, model.region)
        with RunningStage(model, engines_config(model, dynamodb, sqs)) as running:
            running.sqs = sqs
            yield running


def envelopes_of(ws, kind, count, timeout=20):
    deadline = time.monotonic() + timeout
    found = []
    while len(found) < count:
        envelope = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        if envelope.get("type") == kind:
            found.append(envelope)
    return found


def queue_is_empty(stage, name):
    attributes = stage.sqs.client("us-east-1").get_queue_attributes(
        QueueUrl=stage.stage.config.queue_urls[name],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return set(attributes.values()) == {"0"}


@pytest.fixture
def full_room(sharded_stage, room):
    with contextlib.ExitStack() as stack:
        clients = [
            stack.enter_context(
                connect(f"{sharded_stage.url}?room={room}&name=p{index}", open_timeout=20)
            )
            for index in range(ROOM_SIZE)
        ]
        yield clients


def test_a_message_to_a_room_over_the_inline_limit_reaches_everyone_through_shards(
    sharded_stage, full_room
):
    sender, *others = full_room
    sender.send(json.dumps({"action": "sendMessage", "message": "to the shards"}))
    for client in others:
        [envelope] = envelopes_of(client, "newMessage", 1)
        assert envelope["payload"] == "to the shards"
    deadline = time.monotonic() + 10
    while not queue_is_empty(sharded_stage, "FanOutQueue"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert queue_is_empty(sharded_stage, "FanOutDeadLetterQueue")


def test_presence_for_a_large_room_goes_out_in_shards_too(sharded_stage, full_room):
    # THEN the first member eventually sees the whole room, told through the shards
    deadline = time.monotonic() + 20
    while True:
        [envelope] = envelopes_of(full_room[0], "presence", 1, deadline - time.monotonic())
        if envelope["members"]["count"] == ROOM_SIZE:
            break
