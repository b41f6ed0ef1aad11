"""The fan-out policy: small rooms inline, large rooms in shards on SQS (moto), nothing
dropped; gone connections removed last."""

import boto3
import pytest

from chatroom import budgets
from chatroom.connections import CONNECT_GRACE_MS, Connection, ConnectionStore, Member
from chatroom.fanout.broadcast import Broadcaster
from chatroom.fanout.policy import MOST_ATTEMPTS, FanOut
from chatroom.fanout.shards import Origin, Shard, ShardQueue, parse
from tests.support.management_api import FakeManagementApi

NOW = 1_800_000_000.0
OLD = int(NOW * 1000) - CONNECT_GRACE_MS


def PLENTY() -> float:
    return budgets.RESERVE_S + 10


def members(count: int, prefix: str = "m") -> list[Member]:
    return [Member(f"{prefix}{index}", OLD) for index in range(count)]


@pytest.fixture
def store(chat_tables):
    return ConnectionStore(table=chat_tables.connections)


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
        shards += [parse(m["Body"]) for m in answer["Messages"]]


def fan_out(queue_or_none, store, inline_max=3, shard_size=2) -> FanOut:
    broadcaster = Broadcaster(clock=lambda: NOW)
    return FanOut(broadcaster, store, queue_or_none, inline_max=inline_max, shard_size=shard_size)


def test_a_small_room_is_posted_inline(queue, store):
    shard_queue, sqs, url = queue
    api = FakeManagementApi()
    result = fan_out(shard_queue, store).deliver(api, "r", b"hi", members(3), PLENTY)
    assert (result.delivered, result.shards) == (3, 0)
    assert len(api.posts) == 3 and queued(sqs, url) == []


def test_a_large_room_is_queued_in_shards_and_not_posted(queue, store):
    shard_queue, sqs, url = queue
    api = FakeManagementApi()
    result = fan_out(shard_queue, store).deliver(api, "r", b"hi", members(5), PLENTY)
    assert (result.delivered, result.shards) == (0, 3)
    shards = queued(sqs, url)
    assert sorted(len(s.recipients) for s in shards) == [1, 2, 2]
    assert {m.connection_id for s in shards for m in s.recipients} == {f"m{i}" for i in range(5)}
    assert {s.data for s in shards} == {"hi"} and api.posts == []


def test_members_left_when_time_runs_short_are_queued_not_dropped(queue, store):
    shard_queue, sqs, url = queue
    result = fan_out(shard_queue, store).post(
        FakeManagementApi(), "r", b"hi", members(3), lambda: 1.0
    )
    assert (result.delivered, result.shards) == (0, 2)
    assert sum(len(s.recipients) for s in queued(sqs, url)) == 3


def test_failed_members_are_queued_again_with_the_next_attempt(queue, store):
    shard_queue, sqs, url = queue
    api = FakeManagementApi(failing={"m1"})
    result = fan_out(shard_queue, store).post(api, "r", b"hi", members(3), PLENTY)
    assert (result.delivered, result.failed, result.shards) == (2, 0, 1)
    [retry] = queued(sqs, url)
    assert [m.connection_id for m in retry.recipients] == ["m1"] and retry.attempt == 2


def test_failed_members_on_the_last_attempt_are_counted_not_queued(queue, store):
    shard_queue, sqs, url = queue
    api = FakeManagementApi(failing={"m1"})
    result = fan_out(shard_queue, store).post(api, "r", b"hi", members(3), PLENTY, MOST_ATTEMPTS)
    assert (result.failed, result.shards) == (1, 0)
    assert queued(sqs, url) == []


def test_without_a_queue_every_room_is_posted_inline(store):
    api = FakeManagementApi()
    result = fan_out(None, store, inline_max=1).deliver(api, "r", b"hi", members(5), PLENTY)
    assert (result.delivered, result.shards) == (5, 0)


def test_the_gone_connections_are_removed_by_the_clean_up_not_before(queue, store):
    # moto's management API never answers 410: the fake plays API Gateway here.
    for connection_id in ("m0", "m1", "m2"):
        store.add(Connection(connection_id, "r", connection_id, OLD, "1.2.3.4"))
    policy = fan_out(queue[0], store)
    result = policy.deliver(FakeManagementApi(gone={"m1"}), "r", b"hi", members(3), PLENTY)
    assert result.gone == ("m1",) and len(store.members("r")) == 3
    policy.clean_up(result)
    assert sorted(m.connection_id for m in store.members("r")) == ["m0", "m2"]


def test_a_shard_carries_the_message_it_came_from(queue, store):
    shard_queue, sqs, url = queue
    origin = Origin("0001-ab", "sender-conn", "c-1")
    fan_out(shard_queue, store).deliver(
        FakeManagementApi(), "r", b"hi", members(5), PLENTY, origin=origin
    )
    assert {shard.origin for shard in queued(sqs, url)} == {origin}
