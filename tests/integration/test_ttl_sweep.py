"""The stage's TTL sweep against DynamoDB Local: a table larger than a page."""

import time
import uuid

import pytest

from wslocal.engines.dynamodb import client
from wslocal.engines.ttl import SWEEP_PAGE_ITEMS, TtlDeletions, TtlSweeper, TtlTable, keys_id

pytestmark = pytest.mark.integration

ITEMS = 2 * SWEEP_PAGE_ITEMS + 100
EXPIRED_EVERY = 70


@pytest.fixture
def large_table(dynamodb_local):
    """A table of ``ITEMS`` items, every ``EXPIRED_EVERY``th expired; its name."""
    dynamodb = client(dynamodb_local.endpoint, "us-east-1")
    name = f"Sweep-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    now = int(time.time())
    for first in range(0, ITEMS, 25):
        dynamodb.batch_write_item(
            RequestItems={
                name: [
                    {
                        "PutRequest": {
                            "Item": {
                                "k": {"S": f"item-{index}"},
                                "ttl": {
                                    "N": str(now - 1 if index % EXPIRED_EVERY == 0 else now + 3600)
                                },
                            }
                        }
                    }
                    for index in range(first, min(first + 25, ITEMS))
                ]
            }
        )
    yield name
    dynamodb.delete_table(TableName=name)


def test_a_sweep_deletes_the_expired_items_of_every_page(dynamodb_local, large_table):
    dynamodb = client(dynamodb_local.endpoint, "us-east-1")
    deletions = TtlDeletions()
    sweeper = TtlSweeper(
        dynamodb, [TtlTable(large_table, "ttl", ("k",))], deletions, clock=time.time
    )
    expired = [f"item-{index}" for index in range(0, ITEMS, EXPIRED_EVERY)]

    swept = sweeper.sweep()

    assert (swept.deleted, swept.pages) == (len(expired), 3)
    assert swept.scan_s > 0
    left = dynamodb.scan(TableName=large_table, Select="COUNT")["Count"]
    assert left == ITEMS - len(expired)
    assert all(deletions.claim(large_table, keys_id({"k": {"S": key}})) for key in expired)
