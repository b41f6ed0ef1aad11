"""The fan-out queue's messages (shards, overdue checks) and SendMessageBatch within
SQS's limits and the QUEUE budget."""

import json

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError

from chatroom import budgets
from chatroom.connections import CONNECT_GRACE_MS, Member
from chatroom.fanout.shards import (
    SEND_BATCH_BYTES,
    FanOutError,
    Origin,
    OverdueCheck,
    Shard,
    ShardError,
    ShardQueue,
    parse,
    send_batches,
    split,
)

NOW = 1_800_000_000.0
OLD = int(NOW * 1000) - CONNECT_GRACE_MS


def members(count: int, prefix: str = "m") -> list[Member]:
    return [Member(f"{prefix}{index}", OLD) for index in range(count)]


def test_members_are_split_into_shards_of_a_bounded_size():
    assert [len(s) for s in split(members(5), 2)] == [2, 2, 1]


def test_send_batches_keep_to_ten_entries():
    assert [len(g) for g in send_batches(["x"] * 23)] == [10, 10, 3]


def test_send_batches_keep_to_256_kib_of_bodies():
    body = "x" * (SEND_BATCH_BYTES // 3 + 1)
    assert [len(g) for g in send_batches([body] * 4)] == [2, 2]


def test_a_shard_survives_its_message_body():
    shard = Shard("lobby", '{"type":"newMessage"}', tuple(members(2)), attempt=2)
    assert parse(shard.body()) == shard


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[]",
        json.dumps({"v": 1, "room": "r", "data": "d", "attempt": 1}),
        json.dumps({"v": 1, "room": "r", "data": "d", "attempt": 1, "to": []}),
        json.dumps({"v": 9, "room": "r", "data": "d", "attempt": 1, "to": [["a", 1]]}),
        json.dumps({"v": 1, "room": 5, "data": "d", "attempt": 1, "to": [["a", 1]]}),
    ],
)
def test_a_message_that_is_not_a_shard_is_refused(body):
    with pytest.raises(ShardError):
        parse(body)


def test_a_shard_with_its_origin_survives_its_message_body():
    shard = Shard("lobby", "{}", tuple(members(1)), origin=Origin("0001-ab", "conn", None))
    assert parse(shard.body()) == shard


def test_an_overdue_check_survives_its_message_body():
    assert parse(OverdueCheck("lobby", "0001-ab").body()) == OverdueCheck("lobby", "0001-ab")


def test_a_queue_that_cannot_be_reached_is_a_fan_out_error(chat_tables):
    shard_queue = ShardQueue(
        boto3.client("sqs", region_name="us-east-1"), "https://sqs.us-east-1.amazonaws.com/1/none"
    )
    with pytest.raises(FanOutError):
        shard_queue.put([Shard("r", "hi", tuple(members(1)))])


class _UnreachableSqs:
    """SQS that never answers: every call fails as a connection does."""

    def __init__(self):
        self.calls = 0

    def send_message_batch(self, **kwargs):
        self.calls += 1
        raise EndpointConnectionError(endpoint_url="https://sqs")


def test_an_unreachable_queue_is_tried_within_its_budget_then_a_fan_out_error():
    sqs = _UnreachableSqs()
    with pytest.raises(FanOutError):
        ShardQueue(sqs, "url").put([Shard("r", "hi", tuple(members(1)))])
    assert 1 < sqs.calls <= budgets.QUEUE.attempts


def test_overdue_checks_are_delayed_at_most_as_long_as_sqs_allows(chat_tables):
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="delays")["QueueUrl"]
    sent = []
    original = sqs.send_message_batch

    def recording(**kwargs):
        sent.extend(entry["DelaySeconds"] for entry in kwargs["Entries"])
        return original(**kwargs)

    sqs.send_message_batch = recording
    ShardQueue(sqs, url).put([OverdueCheck("r", "1", delay_s=5000)])
    assert sent == [900]


def test_each_queued_message_keeps_its_own_delay_across_batches(chat_tables):
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="own-delays")["QueueUrl"]
    sent = []
    original = sqs.send_message_batch

    def recording(**kwargs):
        sent.extend(
            (json.loads(entry["MessageBody"])["id"], entry["DelaySeconds"])
            for entry in kwargs["Entries"]
        )
        return original(**kwargs)

    sqs.send_message_batch = recording
    checks = [OverdueCheck("r", str(number), delay_s=number) for number in range(12)]
    ShardQueue(sqs, url).put(checks)
    assert sent == [(str(number), number) for number in range(12)]
