"""RateLimiter under concurrent sends, on DynamoDB Local (moto's conditional writes are
not atomic across threads; DynamoDB's are, and the limiter counts on it)."""

import threading

import pytest

from chatroom.rate_limit import RateLimit, RateLimiter
from tests.support.tables import chat_model, local_table
from wslocal.engines.dynamodb import client

pytestmark = pytest.mark.integration

NOW_S = 1_800_000_000.0


@pytest.fixture(scope="module")
def counters(dynamodb_local):
    [messages] = [t for t in chat_model().tables if t.logical_id == "MessagesTable"]
    definition = {**messages.create_table, "TableName": "RateLimitConcurrency"}
    dynamodb = client(dynamodb_local.endpoint, "us-east-1")
    dynamodb.create_table(**definition)
    yield local_table(dynamodb_local.endpoint, "RateLimitConcurrency")
    dynamodb.delete_table(TableName="RateLimitConcurrency")


def admit_at_once(limiter, connection_id, senders):
    answers = []
    barrier = threading.Barrier(senders)

    def send():
        barrier.wait()
        answers.append(limiter.admit(connection_id, NOW_S))

    threads = [threading.Thread(target=send) for _ in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_concurrent_sends_cannot_pass_the_limit_together(counters):
    limiter = RateLimiter(counters, RateLimit(limit=5, window_s=60))
    assert admit_at_once(limiter, "flood", 20).count(True) == 5


def test_concurrent_first_sends_of_a_window_are_not_refused_under_the_limit(counters):
    limiter = RateLimiter(counters, RateLimit(limit=10, window_s=60))
    assert admit_at_once(limiter, "burst", 8) == [True] * 8
