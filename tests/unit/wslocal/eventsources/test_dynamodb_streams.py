"""A stream poller with FilterCriteria: records no filter matches are never invoked, and
the shard's checkpoint moves past them (a poller restarted from it does not read them
again), as Lambda's iterator does."""

import asyncio
import time

from wslocal.eventsources.dynamodb_streams import DynamoDBStreamPoller
from wslocal.template import DynamoDBStreamSourceModel

STREAM = "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/local"


def order(number: int, kind: str) -> dict:
    return {
        "eventID": f"e{number}",
        "eventName": "INSERT",
        "dynamodb": {
            "ApproximateCreationDateTime": time.time(),
            "Keys": {"id": {"S": f"o{number}"}},
            "NewImage": {"id": {"S": f"o{number}"}, "kind": {"S": kind}},
            "SequenceNumber": str(number),
            "SizeBytes": 10,
            "StreamViewType": "NEW_IMAGE",
        },
    }


class OneShard:
    """A stream as DynamoDB Streams' JSON API answers: one open shard holding ``records``."""

    def __init__(self, records: list[dict]) -> None:
        self._records = records

    async def call(self, operation: str, payload: dict) -> dict:
        if operation == "DescribeStream":
            return {"StreamDescription": {"Shards": [{"ShardId": "s1"}]}}
        if operation == "GetShardIterator":
            return {"ShardIterator": f"after-{payload.get('SequenceNumber', 0)}"}
        assert operation == "GetRecords"
        after = int(payload["ShardIterator"].split("-")[1])
        records = [r for r in self._records if int(r["dynamodb"]["SequenceNumber"]) > after]
        last = records[-1]["dynamodb"]["SequenceNumber"] if records else after
        return {"Records": records, "NextShardIterator": f"after-{last}"}

    def close(self) -> None:
        pass


class Recorder:
    def __init__(self) -> None:
        self.records: list[dict] = []

    async def invoke(self, function: str, event: dict, label: str = "") -> None:
        self.records.extend(event["Records"])


def poller(records, invoker):
    source = DynamoDBStreamSourceModel(
        name="Fulfil.Orders",
        function="Fulfil",
        table="Orders",
        stream_arn=STREAM,
        starting_position="TRIM_HORIZON",
        filters=('{"dynamodb": {"NewImage": {"kind": {"S": [{"anything-but": "skip"}]}}}}',),
    )
    return DynamoDBStreamPoller(
        source,
        table_name="orders",
        stream_arn=STREAM,
        streams=OneShard(records),
        invoker=invoker,
        destinations=None,
        function_arn="arn:aws:lambda:us-east-1:123456789012:function:fulfil",
        region="us-east-1",
        new_id=lambda: "id",
        poll_interval_s=0.01,
    )


async def read_until(reader, done, timeout=5.0):
    task = asyncio.create_task(reader.run())
    try:
        async with asyncio.timeout(timeout):
            while not done():
                await asyncio.sleep(0.01)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def test_records_no_filter_matches_are_skipped_and_checkpointed_past():
    invoker = Recorder()
    reader = poller([order(1, "skip"), order(2, "keep"), order(3, "skip")], invoker)
    asyncio.run(read_until(reader, lambda: reader.position.checkpoints.get("s1") == "3"))
    assert [r["dynamodb"]["Keys"]["id"]["S"] for r in invoker.records] == ["o2"]
    assert invoker.records[0]["eventSourceARN"] == STREAM  # as Lambda hands it


def test_a_shard_of_only_skipped_records_moves_its_checkpoint():
    invoker = Recorder()
    reader = poller([order(1, "skip"), order(2, "skip")], invoker)
    asyncio.run(read_until(reader, lambda: reader.position.checkpoints.get("s1") == "2"))
    assert invoker.records == []
