"""CPU per SQS call of the stage's queue pollers: botocore in a thread (as they called SQS
before issue 24), aiohttp's ClientSession, and the stage's own JSON-protocol client
(``wslocal.eventsources.aws_client``), each on the event loop as a poller awaits it.

    .venv/bin/python bench/poller_calls.py [--calls 300] [--rounds 3]

Starts the stage's SQS engine (moto's SQS app, ``wslocal.engines.sqs.start_sqs``) on a
free port and a queue in it, then per round and client in turn: ``--calls`` empty
ReceiveMessage calls (no wait, every attribute, as the poller asks) and ``--calls``
DeleteMessageBatch calls of the five messages a room's shards are (sent and received
before each, not counted; one at a time: moto's work per received message grows with what
the queue holds). Printed: the bench's CPU per call (user + system of all its
threads, from /proc: the client's cost) and moto's (the engine's), medians of the rounds,
and how many connections moto saw (its threads: one per connection).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import sys
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import aiohttp
from profiles import cpu_seconds

from wslocal.engines.dynamodb import client as engine_client
from wslocal.engines.sqs import start_sqs
from wslocal.eventsources.aws_client import AwsJsonClient
from wslocal.eventsources.aws_json import JsonRequests

REGION = "us-east-1"
SHARDS = 5
QUEUE_NUMBERS = itertools.count()

Call = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]


def botocore_in_a_thread(sqs: Any) -> Call:
    executor = ThreadPoolExecutor(max_workers=2)
    methods = {
        "ReceiveMessage": sqs.receive_message,
        "DeleteMessageBatch": sqs.delete_message_batch,
    }

    async def call(operation: str, payload: dict[str, Any]) -> dict[str, Any]:
        method = methods[operation]
        return await asyncio.get_running_loop().run_in_executor(executor, lambda: method(**payload))

    return call


def aiohttp_session(sqs: Any, session: aiohttp.ClientSession) -> Call:
    requests = JsonRequests(
        sqs.meta.endpoint_url,
        region=REGION,
        service="sqs",
        target_prefix="AmazonSQS",
        credentials=sqs._get_credentials(),
    )
    url = sqs.meta.endpoint_url + "/"

    async def call(operation: str, payload: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(payload, separators=(",", ":")).encode()
        target = f"AmazonSQS.{operation}"
        headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": target}
        headers.update(requests.signature(target, body))
        async with session.post(url, data=body, headers=headers) as response:
            answer: dict[str, Any] = json.loads(await response.read())
            return answer

    return call


async def measure(call: Call, sqs: Any, calls: int, moto_pid: int) -> dict[str, float]:
    """One client's round, on a queue of its own (moto's work per call grows with the
    messages a queue holds)."""
    url = sqs.create_queue(QueueName=f"fan-out-{next(QUEUE_NUMBERS)}")["QueueUrl"]
    receive = {
        "QueueUrl": url,
        "MaxNumberOfMessages": 10,
        "WaitTimeSeconds": 0,
        "MessageSystemAttributeNames": ["All"],
        "MessageAttributeNames": ["All"],
    }
    await call("ReceiveMessage", receive)  # connections opened, caches warm
    result: dict[str, float] = {}
    bench, moto = cpu_seconds(os.getpid()), cpu_seconds(moto_pid)
    for _ in range(calls):
        await call("ReceiveMessage", receive)
    result["receive: bench µs"] = (cpu_seconds(os.getpid()) - bench) / calls * 1e6
    result["receive: moto µs"] = (cpu_seconds(moto_pid) - moto) / calls * 1e6
    bench_s = moto_s = 0.0
    for _ in range(calls):  # five shards sent and received (not counted), then deleted
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(n), "MessageBody": "shard"} for n in range(SHARDS)],
        )
        handles: list[str] = []
        while len(handles) < SHARDS:
            answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
            handles += [m["ReceiptHandle"] for m in answer.get("Messages", [])]
        entries = [{"Id": str(n), "ReceiptHandle": handle} for n, handle in enumerate(handles)]
        bench, moto = cpu_seconds(os.getpid()), cpu_seconds(moto_pid)
        answer = await call("DeleteMessageBatch", {"QueueUrl": url, "Entries": entries})
        bench_s += cpu_seconds(os.getpid()) - bench
        moto_s += cpu_seconds(moto_pid) - moto
        assert not answer.get("Failed"), answer
    result["delete of 5: bench µs"] = bench_s / calls * 1e6
    result["delete of 5: moto µs"] = moto_s / calls * 1e6
    return result


async def run(calls: int, rounds: int) -> None:
    with start_sqs() as engine:
        sqs = engine_client(engine.endpoint, REGION, engine.credentials, "sqs")
        moto_pid = engine.process.pid
        ours = AwsJsonClient.like(sqs, "AmazonSQS")
        async with aiohttp.ClientSession() as session:
            clients: dict[str, Call] = {
                "botocore in a thread": botocore_in_a_thread(sqs),
                "aiohttp ClientSession": aiohttp_session(sqs, session),
                "ours (aws_client)": ours.call,
            }
            results: dict[str, list[dict[str, float]]] = {name: [] for name in clients}
            for _ in range(rounds):
                for name, call in clients.items():
                    results[name].append(await measure(call, sqs, calls, moto_pid))
                    print(f"{name}: {results[name][-1]}", file=sys.stderr)
        ours.close()
        threads = len(os.listdir(f"/proc/{moto_pid}/task"))
    print(f"{calls} calls of each kind, medians of {rounds} rounds; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip
    keys = list(next(iter(results.values()))[0])
    print("| client | " + " | ".join(keys) + " |")
    print("| --- |" + " ---: |" * len(keys))
    for name, rows in results.items():
        cells = " | ".join(f"{statistics.median(row[key] for row in rows):.0f}" for key in keys)
        print(f"| {name} | {cells} |")
    print(f"moto's threads at the end (one per open connection, and its own): {threads}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(run(args.calls, args.rounds))


if __name__ == "__main__":
    main()
