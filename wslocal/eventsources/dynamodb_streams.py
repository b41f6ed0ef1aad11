"""DynamoDB stream event sources: poll a table's stream and invoke the function with
Lambda's batches, one batch at a time per shard, in order.

Each shard is read about four times a second, as Lambda does, through DynamoDB Streams'
JSON protocol from the event loop (``aws_client``: no botocore, no thread). A batch goes out when it
is full (``BatchSize``) or its window passed (``MaximumBatchingWindowInSeconds``). A
failure is retried, bisected or discarded by the rules of ``batches``; a discarded
batch's description goes to the on-failure destination. Child shards are read once their
parent is finished. Records are shaped as Lambda hands them (a TTL removal's identity
decided once) as they are read; those the mapping's ``FilterCriteria`` does not match are
skipped there, and the shard's checkpoint moves past them, as Lambda's iterator does.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from wslocal.engines.ttl import TtlDeletions, keys_id
from wslocal.eventsources import batches, dynamodb_records, filtering
from wslocal.eventsources.aws_json import AwsCallError, ServiceError
from wslocal.eventsources.protocols import FailureDestinations, Invoker, JsonApi
from wslocal.exceptions import HandlerError, InvocationError
from wslocal.template import DynamoDBStreamSourceModel

log = logging.getLogger("wslocal")

POLL_INTERVAL_S = 0.25
SHARD_DISCOVERY_INTERVAL_S = 2.0
GET_RECORDS_LIMIT = 1000

Record = Mapping[str, Any]


@dataclass(frozen=True)
class StreamPosition:
    """Where a poller is in its stream: the last record processed per shard, and the
    shards read to their end. A poller given one goes on from there, as a mapping
    updated on AWS does."""

    stream_arn: str
    checkpoints: Mapping[str, str]
    finished: frozenset[str]


class DynamoDBStreamPoller:
    """One event source mapping: a table's stream feeding one function."""

    def __init__(
        self,
        source: DynamoDBStreamSourceModel,
        *,
        table_name: str,
        stream_arn: str,
        streams: JsonApi,
        invoker: Invoker,
        destinations: FailureDestinations,
        function_arn: str,
        region: str,
        ttl: TtlDeletions | None = None,
        clock: Callable[[], float] = time.time,
        new_id: Callable[[], str],
        poll_interval_s: float = POLL_INTERVAL_S,
        resume: StreamPosition | None = None,
    ) -> None:
        self.source = source
        self._table_name = table_name
        self._stream_arn = stream_arn
        """The engine's own ARN of the stream, for its API; records carry the template's."""
        self._streams = streams
        self._invoker = invoker
        self._destinations = destinations
        self._function_arn = function_arn
        self._region = region
        self._ttl = ttl
        self._clock = clock
        self._new_id = new_id
        self._poll_interval_s = poll_interval_s
        self._policy = batches.RetryPolicy(
            maximum_retry_attempts=source.maximum_retry_attempts,
            maximum_record_age_s=source.maximum_record_age_s,
            bisect_on_error=source.bisect_on_error,
            report_item_failures=source.report_item_failures,
        )
        self._filter = filtering.compile_filters(source.filters, filtering.STREAM_DATA_KEY)
        self._shards: dict[str, asyncio.Task[None]] = {}
        self._finished: set[str] = set()
        self._checkpoints: dict[str, str] = {}
        if resume is not None and resume.stream_arn == stream_arn:
            self._checkpoints = dict(resume.checkpoints)
            self._finished = set(resume.finished)
        self.ready = asyncio.Event()
        """Set once the shards found at start have their starting iterators: writes made
        after it are read, even with ``LATEST``."""
        self._draining = asyncio.Event()

    async def drain(self, grace_s: float) -> None:
        """Read no more; let a batch being invoked finish (within ``grace_s``) so its
        checkpoint counts: a mapping restarted by a template edit does not invoke it
        again. The caller then cancels ``run``."""
        self._draining.set()
        reading = list(self._shards.values())
        if reading:
            await asyncio.wait(reading, timeout=grace_s)

    async def run(self) -> None:
        """Find shards and read each (children after their parent) until cancelled."""
        first = True
        try:
            while not self._draining.is_set():
                self._forget_failed_shards()
                for shard in await self._describe_shards():
                    shard_id = shard["ShardId"]
                    parent = shard.get("ParentShardId")
                    if shard_id in self._shards:
                        continue
                    if parent in self._shards and parent not in self._finished:
                        continue
                    position = self.source.starting_position if first else "TRIM_HORIZON"
                    after = self._checkpoints.get(shard_id)
                    iterator = await self._iterator(shard_id, position, after)
                    self._shards[shard_id] = asyncio.create_task(
                        self._read_shard(shard_id, position, iterator)
                    )
                first = False
                self.ready.set()
                await asyncio.sleep(SHARD_DISCOVERY_INTERVAL_S)
        finally:
            for task in self._shards.values():
                task.cancel()
            await asyncio.gather(*self._shards.values(), return_exceptions=True)
            self._shards.clear()  # run again (supervised), each shard goes on from its checkpoint
            self._streams.close()

    def _forget_failed_shards(self) -> None:
        """A shard reader that stopped on an error is said, and read again from its
        checkpoint at the next discovery, never left dead."""
        for shard_id, task in list(self._shards.items()):
            if task.done() and not task.cancelled() and task.exception() is not None:
                log.error(
                    "%s: reading shard %s stopped on an error; reading it again from its "
                    "checkpoint",
                    self.source.name,
                    shard_id,
                    exc_info=task.exception(),
                )
                del self._shards[shard_id]

    @property
    def position(self) -> StreamPosition:
        return StreamPosition(self._stream_arn, dict(self._checkpoints), frozenset(self._finished))

    async def _describe_shards(self) -> list[dict[str, Any]]:
        shards: list[dict[str, Any]] = []
        request: dict[str, Any] = {"StreamArn": self._stream_arn}
        while True:
            description = (await self._streams.call("DescribeStream", request))["StreamDescription"]
            shards.extend(description.get("Shards", []))
            last = description.get("LastEvaluatedShardId")
            if not last:
                return shards
            request["ExclusiveStartShardId"] = last

    async def _iterator(self, shard_id: str, position: str, after: str | None) -> str | None:
        request = {"StreamArn": self._stream_arn, "ShardId": shard_id}
        if after is not None:
            request.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=after)
        else:
            request["ShardIteratorType"] = position
        answer = await self._streams.call("GetShardIterator", request)
        return answer.get("ShardIterator")

    async def _read_shard(self, shard_id: str, position: str, iterator: str | None) -> None:
        if shard_id in self._finished:
            return
        buffer: list[Record] = []
        first_buffered = 0.0
        last_read: str | None = self._checkpoints.get(shard_id)
        failing = False
        older_than_start: float | None = None
        """Set when a LATEST reader had to start again from TRIM_HORIZON: records made
        before it began are not what LATEST would have read."""
        began_s = self._clock()
        while (iterator is not None or buffer) and not self._draining.is_set():
            if iterator is not None:
                try:
                    page = await self._streams.call(
                        "GetRecords", {"ShardIterator": iterator, "Limit": GET_RECORDS_LIMIT}
                    )
                except AwsCallError as exc:
                    code = exc.code if isinstance(exc, ServiceError) else None
                    if code == "ExpiredIteratorException":
                        iterator = await self._iterator(shard_id, position, last_read)
                        continue
                    if code == "TrimmedDataAccessException":
                        # DynamoDB Local answers this to an iterator taken while a shard
                        # was empty once a second table has a stream (aws-sdk-java#2923):
                        # nothing was trimmed, so read again from the checkpoint, else
                        # from the start.
                        iterator = await self._iterator(shard_id, "TRIM_HORIZON", last_read)
                        if last_read is None and position == "LATEST":
                            # DynamoDB Local's creation times are whole minutes
                            older_than_start = began_s - began_s % 60
                        continue
                    if not failing:  # once per outage, not once a second
                        log.warning(
                            "%s: reading the stream failed (trying again every second): %s",
                            self.source.name,
                            exc,
                        )
                    failing = True
                    await asyncio.sleep(1.0)
                    continue
                if failing:
                    log.info("%s: reading the stream again", self.source.name)
                    failing = False
                records = page.get("Records", [])
                iterator = page.get("NextShardIterator")
                if records:
                    last_read = records[-1]["dynamodb"]["SequenceNumber"]
                admitted = self._admitted(records, older_than_start)
                if admitted:
                    if not buffer:
                        first_buffered = self._clock()
                    buffer.extend(admitted)
            while batches.batch_ready(
                len(buffer),
                self.source.batch_size,
                first_buffered,
                self._clock(),
                self.source.batching_window_s,
            ) or (iterator is None and buffer):
                batch, buffer = buffer[: self.source.batch_size], buffer[self.source.batch_size :]
                if not await self._process(shard_id, tuple(batch)):
                    return  # draining: the batch is left for whoever reads next
                self._checkpoints[shard_id] = batch[-1]["dynamodb"]["SequenceNumber"]
                first_buffered = self._clock()
            if not buffer and last_read is not None:
                self._checkpoints[shard_id] = last_read  # past the records skipped
            await asyncio.sleep(self._poll_interval_s)
        if not self._draining.is_set():
            self._finished.add(shard_id)

    async def _process(self, shard_id: str, records: tuple[Record, ...]) -> bool:
        """Invoke until every record succeeded or was discarded, in order; False when
        draining stopped it first (nothing after its last success is checkpointed)."""
        pending: deque[batches.Attempt[Record]] = deque([batches.Attempt(records)])
        while pending:
            if self._draining.is_set():
                return False
            attempt = pending.popleft()
            kept, expired = batches.split_expired(
                attempt.records, dynamodb_records.created_s, self._clock(), self._policy
            )
            if expired:
                await self._discard(
                    shard_id,
                    batches.Discarded(expired, batches.RECORD_AGE_EXCEEDED, attempt.retries),
                    None,
                )
            if not kept:
                continue
            error: str | None = None
            try:
                result = await self._invoke(kept)
                failed_from = batches.first_failure(
                    result, dynamodb_records.sequence_numbers(kept), self._policy
                )
            except HandlerError as exc:
                failed_from, error = 0, "Unhandled"
                log.warning("%s: the function failed: %s", self.source.name, exc)
            except InvocationError as exc:
                failed_from, error = 0, "Unhandled"
                log.warning("%s: the invocation failed: %s", self.source.name, exc)
            if failed_from is None:
                continue
            plan = batches.after_failure(
                batches.Attempt(kept, attempt.retries), failed_from, error is not None, self._policy
            )
            if plan.discarded is not None:
                await self._discard(shard_id, plan.discarded, error)
            pending.extendleft(reversed(plan.then))
            if plan.then and not plan.bisected:
                await asyncio.sleep(batches.retry_delay_s(plan.then[0].retries))
        return True

    def _admitted(
        self, records: list[Record], older_than_start: float | None
    ) -> list[dict[str, Any]]:
        """The records read, as Lambda hands them, less those made before a LATEST
        reader began and those no filter matches."""
        if older_than_start is not None:
            records = [r for r in records if dynamodb_records.created_s(r) >= older_than_start]
        shaped = [
            dynamodb_records.lambda_record(
                record,
                stream_arn=self.source.stream_arn,
                region=self._region,
                by_ttl=self._by_ttl(record),
            )
            for record in records
        ]
        return [record for record in shaped if self._filter.matches(record)]

    async def _invoke(self, records: tuple[Record, ...]) -> Any:
        event = {"Records": list(records)}
        label = f"EventSource: {self.source.name} Records: {len(records)}"
        return await self._invoker.invoke(self.source.function, event, label)

    def _by_ttl(self, record: Record) -> bool:
        if self._ttl is None or not dynamodb_records.is_removal(record):
            return False
        key = keys_id(record["dynamodb"].get("Keys", {}))
        return self._ttl.claim(self._table_name, key)

    async def _discard(
        self, shard_id: str, discarded: batches.Discarded[Record], error: str | None
    ) -> None:
        message = dynamodb_records.failure_record(
            discarded,
            shard_id=shard_id,
            stream_arn=self.source.stream_arn,
            function_arn=self._function_arn,
            request_id=self._new_id(),
            error=error,
            now_s=self._clock(),
        )
        where = self.source.on_failure
        log.warning(
            "%s: gave up on %d record(s) (%s)%s",
            self.source.name,
            len(discarded.records),
            discarded.condition,
            f"; described to {where.kind} {where.arn}" if where else "; no on-failure destination",
        )
        if where is not None:
            try:
                await self._destinations.deliver(where, message)
            except Exception as exc:  # a destination that fails must not stop the shard
                log.error("%s: the on-failure destination failed: %s", self.source.name, exc)
