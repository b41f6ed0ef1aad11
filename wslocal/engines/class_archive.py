"""The writer of DynamoDB Local's class-data archive (``wslocal.engines.class_sharing``):
DynamoDB Local run once more, apart from the stage's JVM and in the background, so that
no stop ever waits for a dump and a dump cut short is never kept."""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import tempfile
import threading
from pathlib import Path

from wslocal.engines.class_sharing import SharedClasses
from wslocal.engines.dynamodb import (
    DynamoDBEngine,
    JvmLaunch,
    client,
    java_command,
    server_arguments,
    spawn_jvm,
    wait_until_ready,
)
from wslocal.engines.moto_server import free_port

log = logging.getLogger("wslocal")

ARCHIVE_WRITER_NICENESS = 10
"""The writer JVM yields the CPU to the stage and its handlers."""
ARCHIVE_TRIAL_TIMEOUT_S = 60.0
ARCHIVE_TABLE = "wslocal-class-archive"


class ClassArchiveWriter:
    """DynamoDB Local run once more, apart from the stage's JVM and in the background,
    to write the class-data archive at its exit: it answers the calls a stage and its
    handlers make (tables with a stream, an index and a TTL; items written, read and
    queried; the stream read), then is stopped, then a trial JVM maps the dump before
    it is kept. ``cancel`` (the stage stopping) kills it and drops the dump."""

    def __init__(self, launch: JvmLaunch, classes: SharedClasses, region: str) -> None:
        self._launch = JvmLaunch(launch.java, launch.jar, None, free_port())
        self._classes = classes
        self._region = region
        self._cancelled = threading.Event()
        self._guard = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._thread = threading.Thread(target=self._run, name="class archive writer", daemon=True)
        self.kept: bool | None = None
        """Whether the archive was kept; None until the writer is done."""

    def start(self) -> None:
        self._thread.start()

    def cancel(self) -> None:
        self._cancelled.set()
        with self._guard:
            if self._process is not None and self._process.poll() is None:
                self._process.kill()

    def join(self, timeout_s: float | None = None) -> None:
        self._thread.join(timeout_s)

    def _run(self) -> None:
        kept = False
        log_path = Path(tempfile.gettempdir()) / f"wslocal-class-archive-{self._launch.port}.log"
        try:
            kept = self._write(log_path)
        except Exception as exc:  # whatever failed: the archive only ever saves time
            if not self._cancelled.is_set():
                log.warning("DynamoDB Local's class-data archive was not written: %s", exc)
        finally:
            self.cancel()  # a writer JVM left running by an error ends here
            if not kept:
                self._classes.drop_pending()
            log_path.unlink(missing_ok=True)
            self.kept = kept

    def _start(self, command: list[str], log_path: Path) -> subprocess.Popen[bytes] | None:
        with self._guard:
            if self._cancelled.is_set():
                return None
            self._process = spawn_jvm(command, self._launch.jar.parent, log_path)
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, self._process.pid, ARCHIVE_WRITER_NICENESS)
        return self._process

    def _write(self, log_path: Path) -> bool:
        copy = self._classes.copy
        assert copy is not None
        command = java_command(self._launch, copy, self._classes.writing_options())
        process = self._start(command + server_arguments(self._launch.port, None), log_path)
        if process is None:
            return False
        engine = DynamoDBEngine("the class archive's writer", f"http://127.0.0.1:{self._launch.port}",
                                process=process)  # fmt: skip
        wait_until_ready(engine, self._region)
        _answer_a_stage_s_calls(engine.endpoint, self._region)
        process.terminate()  # the JVM dumps the classes as it exits
        process.wait()
        if self._cancelled.is_set() or process.returncode < 0:
            return False
        trial = self._start(
            [*java_command(self._launch, copy, self._classes.trial_options()), "-help"], log_path
        )
        if trial is None:
            return False
        trial.wait(ARCHIVE_TRIAL_TIMEOUT_S)
        return self._classes.keep(trial.returncode == 0 and not self._cancelled.is_set())


def _answer_a_stage_s_calls(endpoint: str, region: str) -> None:
    """The calls a stage and its handlers make, so the writer JVM loads their classes."""
    dynamodb = client(endpoint, region, attempts=1)
    streams = client(endpoint, region, service="dynamodbstreams", attempts=1)
    key = {"pk": {"S": "room"}, "sk": {"S": "member"}}
    table = dynamodb.create_table(
        TableName=ARCHIVE_TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                   {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"}
                              for name in ("pk", "sk", "by")],
        GlobalSecondaryIndexes=[{"IndexName": "byName", "Projection": {"ProjectionType": "ALL"},
                                 "KeySchema": [{"AttributeName": "by", "KeyType": "HASH"}]}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]  # fmt: skip
    dynamodb.update_time_to_live(
        TableName=ARCHIVE_TABLE,
        TimeToLiveSpecification={"AttributeName": "ttl", "Enabled": True},
    )
    dynamodb.describe_table(TableName=ARCHIVE_TABLE)
    dynamodb.put_item(TableName=ARCHIVE_TABLE, Item={**key, "by": {"S": "x"}, "ttl": {"N": "1"}})
    dynamodb.get_item(TableName=ARCHIVE_TABLE, Key=key)
    dynamodb.update_item(TableName=ARCHIVE_TABLE, Key=key, UpdateExpression="SET n = :n",
                         ExpressionAttributeValues={":n": {"N": "2"}})  # fmt: skip
    dynamodb.query(TableName=ARCHIVE_TABLE, KeyConditionExpression="pk = :pk",
                   ExpressionAttributeValues={":pk": {"S": "room"}})  # fmt: skip
    dynamodb.query(TableName=ARCHIVE_TABLE, IndexName="byName", KeyConditionExpression="#b = :b",
                   ExpressionAttributeNames={"#b": "by"},
                   ExpressionAttributeValues={":b": {"S": "x"}})  # fmt: skip
    dynamodb.scan(TableName=ARCHIVE_TABLE)
    dynamodb.batch_write_item(RequestItems={ARCHIVE_TABLE: [{"DeleteRequest": {"Key": key}}]})
    stream = streams.describe_stream(StreamArn=table["LatestStreamArn"])["StreamDescription"]
    for shard in stream["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=table["LatestStreamArn"], ShardId=shard["ShardId"],
            ShardIteratorType="TRIM_HORIZON",
        )["ShardIterator"]  # fmt: skip
        streams.get_records(ShardIterator=iterator)
    dynamodb.list_tables()
    dynamodb.delete_table(TableName=ARCHIVE_TABLE)
