"""Fan-out: small rooms inline, large rooms in shards on SQS (moto), nothing dropped."""

import json

import boto3
import pytest

from chatroom.broadcast import Broadcaster
from chatroom.connections import CONNECT_GRACE_MS, Member
from chatroom.fanout import (
    MOST_ATTEMPTS,
    SEND_BATCH_BYTES,
    FanOut,
    FanOutError,
    Shard,
    ShardError,
    ShardQueue,
    send_batches,
    split,
)
from tests.support.management_api import FakeManagementApi

NOW = 1_800_000_000.0
OLD = int(NOW * 1000) - CONNECT_GRACE_MS


def members(count: int, prefix: str = "m") -> list[Member]:
    return [Member(f"{prefix}{index}", OLD) for index in range(count)]


class StoreStub:
    """Only remove_many is used by the broadcaster."""

    def __init__(self):
        self.removed: list[str] = []

    def remove_many(self, ids):
        self.removed.extend(ids)
        return len(ids)


@pytest.fixture
def queue(chat_tables):
    """A fan-out queue in moto (chat_tables keeps moto's mock running)."""
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="fan-out")["QueueUrl"]
    return ShardQueue(sqs, url), sqs, url


def queued(sqs, url) -> list[Shard]:
    shards = []
    while True:
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
        if not answer.get("Messages"):
            return shards
        shards += [Shard.parse(m["Body"]) for m in answer["Messages"]]


def fan_out(queue_or_none, inline_max=3, shard_size=2, store=None) -> FanOut:
    broadcaster = Broadcaster(store or StoreStub(), clock=lambda: NOW)
    return FanOut(broadcaster, queue_or_none, inline_max=inline_max, shard_size=shard_size)


def test_members_are_split_into_shards_of_a_bounded_size():
    assert [len(s) for s in split(members(5), 2)] == [2, 2, 1]


def test_send_batches_keep_to_ten_entries():
    assert [len(g) for g in send_batches(["x"] * 23)] == [10, 10, 3]


def test_send_batches_keep_to_256_kib_of_bodies():
    body = "x" * (SEND_BATCH_BYTES // 3 + 1)
    assert [len(g) for g in send_batches([body] * 4)] == [2, 2]


def test_a_shard_survives_its_message_body():
    shard = Shard("lobby", '{"type":"newMessage"}', tuple(members(2)), attempt=2)
    assert Shard.parse(shard.body()) == shard


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
        Shard.parse(body)


def test_a_small_room_is_posted_inline(queue):
    shard_queue, sqs, url = queue
    api = FakeManagementApi()
    result = fan_out(shard_queue).deliver(api, "r", b"hi", members(3), lambda: 10.0)
    assert (result.delivered, result.shards) == (3, 0)
    assert len(api.posts) == 3 and queued(sqs, url) == []


def test_a_large_room_is_queued_in_shards_and_not_posted(queue):
    shard_queue, sqs, url = queue
    api = FakeManagementApi()
    result = fan_out(shard_queue).deliver(api, "r", b"hi", members(5), lambda: 10.0)
    assert (result.delivered, result.shards) == (0, 3)
    shards = queued(sqs, url)
    assert sorted(len(s.recipients) for s in shards) == [1, 2, 2]
    assert {m.connection_id for s in shards for m in s.recipients} == {f"m{i}" for i in range(5)}
    assert {s.data for s in shards} == {"hi"} and api.posts == []


def test_members_left_when_time_runs_short_are_queued_not_dropped(queue):
    shard_queue, sqs, url = queue
    result = fan_out(shard_queue).post(FakeManagementApi(), "r", b"hi", members(3), lambda: 1.0)
    assert (result.delivered, result.shards) == (0, 2)
    assert sum(len(s.recipients) for s in queued(sqs, url)) == 3


def test_failed_members_are_queued_again_with_the_next_attempt(queue):
    shard_queue, sqs, url = queue
    api = FakeManagementApi(failing={"m1"})
    result = fan_out(shard_queue).post(api, "r", b"hi", members(3), lambda: 10.0)
    assert (result.delivered, result.failed, result.shards) == (2, 0, 1)
    [retry] = queued(sqs, url)
    assert [m.connection_id for m in retry.recipients] == ["m1"] and retry.attempt == 2


def test_failed_members_on_the_last_attempt_are_counted_not_queued(queue):
    shard_queue, sqs, url = queue
    api = FakeManagementApi(failing={"m1"})
    result = fan_out(shard_queue).post(api, "r", b"hi", members(3), lambda: 10.0, MOST_ATTEMPTS)
    assert (result.failed, result.shards) == (1, 0)
    assert queued(sqs, url) == []


def test_a_queue_that_cannot_be_reached_is_a_fan_out_error(chat_tables):
    shard_queue = ShardQueue(
        boto3.client("sqs", region_name="us-east-1"), "https://sqs.us-east-1.amazonaws.com/1/none"
    )
    with pytest.raises(FanOutError):
        fan_out(shard_queue).deliver(FakeManagementApi(), "r", b"hi", members(5), lambda: 10.0)


def test_without_a_queue_every_room_is_posted_inline():
    api = FakeManagementApi()
    result = fan_out(None, inline_max=1).deliver(api, "r", b"hi", members(5), lambda: 10.0)
    assert (result.delivered, result.shards) == (5, 0)
