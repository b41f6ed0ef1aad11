"""DynamoDB Local's JVM options: the CPU it spends starting and serving a burst of joins.

    .venv/bin/python bench/dynamodb_local.py [--rounds 3] [--puts 500]

Starts the jar (in memory) once with the JVM's defaults and once with the stage's
``JVM_OPTIONS``; for each: the CPU time until it answers, then per round ``--puts``
PutItems from 8 threads into a table with a room index and a stream, while a poller reads
the stream every 0.25 s and queries the room when records arrive (what a join burst costs
it on the stage). CPU is the JVM's own (user + system, from /proc).
"""

from __future__ import annotations

import argparse
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
from fanout import memory_mb
from profiles import cpu_seconds

from wslocal.engines.dynamodb import JVM_OPTIONS, find_dynamodb_local_jar, free_port

ROOT = Path(__file__).resolve().parent.parent
TABLE = "Connections"


def make_table(client: Any) -> str:
    client.create_table(
        TableName=TABLE,
        AttributeDefinitions=[
            {"AttributeName": "id", "AttributeType": "S"},
            {"AttributeName": "room", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        GlobalSecondaryIndexes=[
            {
                "IndexName": "byRoom",
                "KeySchema": [{"AttributeName": "room", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    return str(client.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"])


def read_stream(kwargs: dict[str, Any], arn: str, stop: threading.Event) -> None:
    streams = boto3.client("dynamodbstreams", **kwargs)
    dynamodb = boto3.client("dynamodb", **kwargs)
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="LATEST")[
        "ShardIterator"
    ]
    while not stop.is_set():
        page = streams.get_records(ShardIterator=iterator, Limit=100)
        iterator = page["NextShardIterator"]
        if page["Records"]:
            dynamodb.query(
                TableName=TABLE,
                IndexName="byRoom",
                KeyConditionExpression="room = :room",
                ExpressionAttributeValues={":room": {"S": "large"}},
            )
        stop.wait(0.25)


def measure(options: tuple[str, ...], rounds: int, puts: int) -> list[str]:
    jar = find_dynamodb_local_jar(ROOT)
    if jar is None:
        raise SystemExit("no DynamoDB Local jar: run `make deps` first")
    port = free_port()
    began = time.perf_counter()
    process = subprocess.Popen(
        ["java", *options, f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}", "-jar",
         str(jar), "-port", str(port), "-sharedDb", "-inMemory"],
        cwd=jar.parent, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    kwargs = {
        "endpoint_url": f"http://127.0.0.1:{port}",
        "region_name": "us-east-1",
        "aws_access_key_id": "bench",
        "aws_secret_access_key": "bench",
    }
    try:
        client = boto3.client("dynamodb", **kwargs)
        while True:
            try:
                client.list_tables()
                break
            except Exception:  # not answering yet
                time.sleep(0.1)
        label = " ".join(options) or "JVM defaults"
        lines = [
            f"{label}: answering after {time.perf_counter() - began:.1f} s, "
            f"{cpu_seconds(process.pid):.2f} s of CPU"
        ]
        arn = make_table(client)
        clients = [boto3.client("dynamodb", **kwargs) for _ in range(8)]
        for round_ in range(rounds):
            stop = threading.Event()
            poller = threading.Thread(target=read_stream, args=(kwargs, arn, stop))
            poller.start()
            before, started = cpu_seconds(process.pid), time.perf_counter()

            def put(index: int, round_: int = round_) -> None:
                clients[index % 8].put_item(
                    TableName=TABLE,
                    Item={"id": {"S": f"{round_}-{index}"}, "room": {"S": "large"}},
                )

            with ThreadPoolExecutor(8) as pool:
                list(pool.map(put, range(puts)))
            elapsed = time.perf_counter() - started
            stop.set()
            poller.join()
            lines.append(
                f"{label}: round {round_ + 1}: {puts} PutItems in {elapsed:.2f} s, "
                f"{cpu_seconds(process.pid) - before:.2f} s of JVM CPU, RSS "
                f"{memory_mb(process.pid):.0f} MB"
            )
        return lines
    finally:
        process.kill()
        process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--puts", type=int, default=500)
    args = parser.parse_args()
    for options in ((), JVM_OPTIONS):
        for line in measure(options, args.rounds, args.puts):
            print(line)


if __name__ == "__main__":
    main()
