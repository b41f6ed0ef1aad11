"""DynamoDB Local's JVM: the CPU it spends starting and serving a burst of joins, and the
CPU of the room's Query that every message's sender makes.

    .venv/bin/python bench/dynamodb_local.py [--rounds 3] [--puts 500] [--configs c1-late stage ...]
    .venv/bin/python bench/dynamodb_local.py --mode query [--members 500] [--queries 20]
        [--warm-up 200] [--rounds 5] [--configs stage c2 ...] [--jfr DIR]

``--mode joins`` (the default) starts the jar (in memory) once per configuration of
``--configs`` (the JVM's defaults and the stage's ``JVM_OPTIONS`` unless named; only their
JVM options are used); for each: the CPU time until it answers, then per
round ``--puts`` PutItems from 8 threads into a table with a room index and a stream,
while a poller reads the stream every 0.25 s and queries the room when records arrive
(what a join burst costs it on the stage). CPU is the JVM's own (user + system, from
/proc).

``--mode query`` starts the jar once per configuration (``CONFIGS``: JVM options and
DynamoDB Local's own flags), creates the template's connections table (and copies whose
room index projects ALL or KEYS_ONLY), writes ``--members`` connections into one room as
``ConnectionStore.add`` does, queries the room ``--warm-up`` times in every variant
(``VARIANTS``), then ``--rounds`` rounds of ``--queries`` Queries per variant,
interleaved. Printed per variant: the JVM's CPU per Query of the whole room (every page)
and the bench's own (boto3's, as a handler spends it), medians over rounds. ``--jfr DIR``
records the measured rounds with Java Flight Recorder (``jcmd PID JFR.start``) and prints
where the JVM's samples fall.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import boto3
from boto3.dynamodb.conditions import Key
from fanout import memory_mb
from profiles import cpu_seconds

from wslocal.engines.dynamodb import JVM_OPTIONS, find_dynamodb_local_jar, free_port
from wslocal.template.reader import build_stage_model, read_template

ROOT = Path(__file__).resolve().parent.parent
TABLE = "Connections"
ROOM_INDEX = "room-index"
ROOM = "large"


@dataclass(frozen=True)
class EngineConfig:
    """How the jar is started: the JVM's options and DynamoDB Local's own flags."""

    jvm_options: tuple[str, ...]
    flags: tuple[str, ...] = ("-inMemory",)
    note: str = ""


CONFIGS: Mapping[str, EngineConfig] = {
    "stage": EngineConfig(JVM_OPTIONS, note="the stage's options"),
    "c1-late": EngineConfig(
        ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"),
        note="the stage's options before issue 24's twelfth pass: C1 at the JVM's thresholds",
    ),
    "c2": EngineConfig(("-XX:+UseSerialGC",), note="tiered with C2, serial GC"),
    "defaults": EngineConfig((), note="the JVM's defaults"),
    "no-telemetry": EngineConfig(JVM_OPTIONS, ("-inMemory", "-disableTelemetry")),
    "c2-no-telemetry": EngineConfig(("-XX:+UseSerialGC",), ("-inMemory", "-disableTelemetry")),
    "file": EngineConfig(JVM_OPTIONS, ("-dbPath", "{db}"), note="a file in a temporary folder"),
    "file-optimized": EngineConfig(JVM_OPTIONS, ("-dbPath", "{db}", "-optimizeDbBeforeStartup")),
}


@dataclass(frozen=True)
class QueryVariant:
    """One way of reading the room: which table's index, and the Query's own options."""

    table: str
    options: Mapping[str, Any] = field(default_factory=dict)


VARIANTS: Mapping[str, QueryVariant] = {
    # What ConnectionStore.members does: the template's index (INCLUDE connectedAt, name).
    "layer": QueryVariant(TABLE),
    # What a message's fan-out needs: the id and connectedAt (the connect grace).
    "projection": QueryVariant(
        TABLE,
        {
            "ProjectionExpression": "connectionId, connectedAt",
        },
    ),
    "pages-of-100": QueryVariant(TABLE, {"Limit": 100}),
    "index-all": QueryVariant(TABLE + "All"),
    "index-keys-only": QueryVariant(TABLE + "KeysOnly"),
}


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


def client_kwargs(port: int) -> dict[str, Any]:
    return {
        "endpoint_url": f"http://127.0.0.1:{port}",
        "region_name": "us-east-1",
        "aws_access_key_id": "bench",
        "aws_secret_access_key": "bench",
    }


def start_jar(options: Sequence[str], flags: Sequence[str]) -> tuple[subprocess.Popen[bytes], int]:
    """The jar started as the stage starts it (``wslocal.engines.dynamodb``), answering."""
    jar = find_dynamodb_local_jar(ROOT)
    if jar is None:
        raise SystemExit("no DynamoDB Local jar: run `make deps` first")
    port = free_port()
    process = subprocess.Popen(
        ["java", *options, f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}", "-jar",
         str(jar), "-port", str(port), "-sharedDb", *flags],
        cwd=jar.parent, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    client = boto3.client("dynamodb", **client_kwargs(port))
    while True:
        try:
            client.list_tables()
            return process, port
        except Exception:  # not answering yet
            if process.poll() is not None:
                raise SystemExit(f"java {' '.join(options)} {' '.join(flags)} exited") from None
            time.sleep(0.1)


def measure_joins(options: tuple[str, ...], rounds: int, puts: int) -> list[str]:
    began = time.perf_counter()
    process, port = start_jar(options, ("-inMemory",))
    kwargs = client_kwargs(port)
    try:
        client = boto3.client("dynamodb", **kwargs)
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


def connections_tables() -> list[dict[str, Any]]:
    """The template's connections table as the stage creates it, and two copies whose room
    index projects ALL and KEYS_ONLY."""
    model = build_stage_model(read_template(ROOT / "template.yaml"), ROOT)
    [table] = [t for t in model.tables if t.logical_id == "ConnectionsTable"]
    made = []
    for suffix, projection in (("", None), ("All", "ALL"), ("KeysOnly", "KEYS_ONLY")):
        create = json.loads(json.dumps(table.create_table))
        create["TableName"] = TABLE + suffix
        for index in create["GlobalSecondaryIndexes"]:
            if index["IndexName"] == ROOM_INDEX and projection:
                index["Projection"] = {"ProjectionType": projection}
        made.append(create)
    return made


def connection_row(connection_id: str, room: str, name: str, connected_at: int) -> dict[str, Any]:
    """A connection's row in DynamoDB's attribute values, made by the layer's own ``row`` (as
    ``ConnectionStore.add`` writes it: its sender key, its ``ttl``), from 127.0.0.1."""
    sys.path.insert(0, str(ROOT / "layers" / "chatroom"))
    from chatroom.connections import Connection, row

    return row(Connection(connection_id, room, name, connected_at, "127.0.0.1"))


def fill_room(dynamodb: Any, table: str, members: int) -> None:
    """``members`` connections in one room, each row as ``ConnectionStore.add`` writes it,
    through a plain client (``dynamodb``: DynamoDB's own attribute values)."""
    now_ms = int(time.time() * 1000)
    rows = [connection_row(f"Q{index:07d}cFiA=", ROOM, f"member-{index}", now_ms - index)
            for index in range(members)]  # fmt: skip
    for start in range(0, members, 25):
        dynamodb.batch_write_item(
            RequestItems={
                table: [{"PutRequest": {"Item": item}} for item in rows[start : start + 25]]
            }
        )


def read_room(table: Any, options: Mapping[str, Any]) -> int:
    """One Query of the whole room, every page, as ``ConnectionStore.members`` makes it."""
    query: dict[str, Any] = {
        "IndexName": ROOM_INDEX,
        "KeyConditionExpression": Key("room").eq(ROOM),
        **options,
    }
    count = 0
    while True:
        page = table.query(**query)
        count += len(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return count
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


RECORDS_JOB = (
    "software.amazon.dynamodb.services.local.shared.access.sqlite.SQLiteDBAccess$20.doWork"
)
"""The job behind ``LocalDBAccess.queryRecords`` (Query, Scan, PartiQL's SELECT): it logs
every item it reads at DEBUG (``LocalDBUtils.logLongMessage(logger, DEBUG, "queryRecords",
item.toString())``), and the item's text is made whether or not DEBUG is on (it is off)."""


def in_debug_string(frames: Sequence[str]) -> bool:
    """Whether a sample is making that DEBUG text: ``AbstractMap.toString`` called straight
    from the records job (``logLongMessage`` is not on the stack yet while its argument is
    built)."""
    return any(
        frame == "java.util.AbstractMap.toString" and caller == RECORDS_JOB
        for frame, caller in pairwise(frames)
    )


def jfr_summary(recording: Path, top: int = 10) -> list[str]:
    """Where the recorded execution samples fall: by thread (SQLite's job thread, which
    reads the rows and decodes each stored item, or the HTTP threads), by the library of
    the innermost frame that is not the JDK's own, and by innermost method; and how many
    samples found a thread inside SQLite's native code."""
    printed = subprocess.run(
        ["jfr", "print", "--json", "--stack-depth", "64", "--events",
         "jdk.ExecutionSample,jdk.NativeMethodSample", str(recording)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    events = json.loads(printed.stdout)["recording"]["events"]
    by_thread: Counter[str] = Counter()
    by_area: Counter[str] = Counter()
    by_method: Counter[str] = Counter()
    in_sqlite = 0
    debug_text = 0
    for event in events:
        frames = [
            f"{frame['method']['type']['name'].replace('/', '.')}.{frame['method']['name']}"
            for frame in event["values"]["stackTrace"]["frames"]
        ]
        if event["type"] == "jdk.NativeMethodSample":
            in_sqlite += bool(frames) and frames[0].startswith("com.almworks.sqlite4java")
            continue
        thread = event["values"]["sampledThread"]["javaName"] or "?"
        by_thread[
            "SQLite's job thread" if thread.startswith("SQLiteQueue") else "HTTP threads"
        ] += 1
        by_method[frames[0] if frames else "?"] += 1
        debug_text += in_debug_string(frames)
        by_area[area_of(frames)] += 1
    total = sum(by_area.values()) or 1
    lines = [f"  {total} Java samples, and {in_sqlite} in SQLite's native code; by thread:"]
    lines += [f"    {share / total:6.1%}  {name}" for name, share in by_thread.most_common()]
    lines.append(
        f"  {debug_text / total:6.1%}  making the DEBUG text of each item a Query or Scan reads "
        "(the line is off, its text is built first: `item.toString()` in the records job)"
    )
    lines.append("  by library (innermost frame outside the JDK):")
    lines += [f"    {share / total:6.1%}  {area}" for area, share in by_area.most_common(top)]
    lines.append("  by innermost method:")
    lines += [f"    {share / total:6.1%}  {method}" for method, share in by_method.most_common(top)]
    return lines


AREAS = (
    ("com.almworks.sqlite4java", "SQLite (sqlite4java)"),
    ("com.fasterxml.jackson", "JSON (Jackson)"),
    ("software.amazon.awssdk.thirdparty.jackson", "JSON (the SDK's Jackson)"),
    ("org.eclipse.jetty", "HTTP (Jetty)"),
    ("software.amazon.awssdk", "the AWS SDK's model classes"),
    ("software.amazon.dynamodb", "DynamoDB Local's own code"),
    ("org.apache.logging", "logging (Log4j)"),
    ("com.google.common", "Guava"),
)


def area_of(frames: Sequence[str]) -> str:
    for frame in frames:
        if frame.startswith(("java.", "jdk.", "sun.", "javax.")):
            continue
        for prefix, area in AREAS:
            if frame.startswith(prefix):
                return area
        return frame.rsplit(".", 2)[0]
    return "the JDK only (" + (frames[0].rsplit(".", 1)[0] if frames else "no frames") + ")"


def measure_queries(
    name: str, members: int, queries: int, warm_up: int, rounds: int, jfr: Path | None
) -> list[str]:
    config = CONFIGS[name]
    folder = Path(tempfile.mkdtemp(prefix="wslocal-bench-ddb-"))
    flags = tuple(flag.replace("{db}", str(folder)) for flag in config.flags)
    began = time.perf_counter()
    process, port = start_jar(config.jvm_options, flags)
    label = f"{name} ({' '.join((*config.jvm_options, *flags)) or 'JVM defaults'})"
    lines = [
        f"{label}: answering after {time.perf_counter() - began:.1f} s, "
        f"{cpu_seconds(process.pid):.2f} s of CPU"
    ]
    try:
        client = boto3.client("dynamodb", **client_kwargs(port))
        resource = boto3.resource("dynamodb", **client_kwargs(port))
        for create in connections_tables():
            client.create_table(**create)
            fill_room(client, create["TableName"], members)
        tables = {variant: resource.Table(v.table) for variant, v in VARIANTS.items()}
        for variant, spec in VARIANTS.items():
            for _ in range(warm_up):
                found = read_room(tables[variant], spec.options)
            if found != members:
                raise SystemExit(f"{variant}: the room has {found} members, not {members}")
        idle_before = cpu_seconds(process.pid)
        time.sleep(2)
        idle = (cpu_seconds(process.pid) - idle_before) / 2
        if jfr is not None:
            jfr.mkdir(parents=True, exist_ok=True)
            subprocess.run(["jcmd", str(process.pid), "JFR.start", "name=bench",
                            "settings=profile"], capture_output=True, check=True)  # fmt: skip
        jvm: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
        own: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
        for _ in range(rounds):
            for variant, spec in VARIANTS.items():
                before, mine = cpu_seconds(process.pid), time.thread_time()
                for _ in range(queries):
                    read_room(tables[variant], spec.options)
                jvm[variant].append((cpu_seconds(process.pid) - before) / queries * 1000)
                own[variant].append((time.thread_time() - mine) / queries * 1000)
        lines.append(
            f"{label}: idle {idle * 1000:.0f} ms of CPU per s; RSS {memory_mb(process.pid):.0f} "
            f"MB; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
        )
        for variant in VARIANTS:
            lines.append(
                f"{label}: {variant:16} JVM {statistics.median(jvm[variant]):6.1f} ms per Query "
                f"of {members} (rounds: {' '.join(f'{x:.0f}' for x in jvm[variant])}); "
                f"bench (boto3) {statistics.median(own[variant]):5.1f} ms"
            )
        if jfr is not None:
            recording = jfr / f"{name}.jfr"
            subprocess.run(["jcmd", str(process.pid), "JFR.stop", "name=bench",
                            f"filename={recording}"], capture_output=True, check=True)  # fmt: skip
            lines.append(f"{label}: JFR ({recording}), every variant's rounds:")
            lines += jfr_summary(recording)
        return lines
    finally:
        process.kill()
        process.wait()
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=("joins", "query"), default="joins")
    parser.add_argument("--rounds", type=int, default=None, help="joins: 3; query: 5")
    parser.add_argument("--puts", type=int, default=500)
    parser.add_argument("--members", type=int, default=500)
    parser.add_argument("--queries", type=int, default=20, help="Queries per variant and round")
    parser.add_argument("--warm-up", type=int, default=200, help="Queries per variant first")
    parser.add_argument(
        "--configs",
        nargs="+",
        choices=sorted(CONFIGS),
        help="joins: defaults stage; query: stage c2",
    )
    parser.add_argument("--jfr", type=Path, default=None, help="a folder for the recordings")
    args = parser.parse_args()
    if args.mode == "joins":
        for name in args.configs or ["defaults", "stage"]:
            for line in measure_joins(CONFIGS[name].jvm_options, args.rounds or 3, args.puts):
                print(line, flush=True)
        return
    for name in args.configs or ["stage", "c2"]:
        for line in measure_queries(
            name, args.members, args.queries, args.warm_up, args.rounds or 5, args.jfr
        ):
            print(line, flush=True)


if __name__ == "__main__":
    main()
