"""EventSourceMappings: every event source of the template, started and stopped with the
stage. At start-up each stream source finds its table's stream in the engine (a table
without one gets it enabled, or a clear error names the table); each queue source reads
its queue in the SQS engine, where the stage created the template's queues."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from wslocal.engines.ttl import TtlDeletions
from wslocal.eventsources.aws_client import AwsJsonClient
from wslocal.eventsources.dynamodb_streams import DynamoDBStreamPoller, StreamPosition
from wslocal.eventsources.protocols import Invoker
from wslocal.eventsources.sqs_queues import SqsQueuePoller, concurrency_of
from wslocal.exceptions import EventSourceError
from wslocal.supervision import supervised
from wslocal.template import (
    DynamoDBStreamSourceModel,
    OnFailureDestination,
    SqsSourceModel,
    StageModel,
)

log = logging.getLogger("wslocal")

SQS_TARGET_PREFIX = "AmazonSQS"
"""SQS's JSON protocol: ``X-Amz-Target: AmazonSQS.ReceiveMessage``."""
STREAMS_TARGET_PREFIX = "DynamoDBStreams_20120810"
"""DynamoDB Streams' JSON protocol: ``DynamoDBStreams_20120810.GetRecords``."""
READY_TIMEOUT_S = 30.0
"""Longest the stage waits for the streams' starting iterators before it serves."""


class OnFailureDestinations:
    """A discarded batch's description goes to its queue when the stage runs that queue;
    to any other destination (SNS, a queue outside the template) it is written to the log,
    whole, so nothing is lost silently."""

    def __init__(self, sqs: Any = None, queue_urls: Mapping[str, str] | None = None) -> None:
        self._sqs = sqs
        self._queue_urls = dict(queue_urls or {})

    async def deliver(self, destination: OnFailureDestination, message: dict[str, Any]) -> None:
        url = self._queue_urls.get(destination.arn.rsplit(":", 1)[-1])
        if destination.kind == "SQS" and self._sqs is not None and url is not None:
            await asyncio.to_thread(
                self._sqs.send_message, QueueUrl=url, MessageBody=json.dumps(message)
            )
            return
        log.warning(
            "on-failure record for %s %s (not emulated, logged): %s",
            destination.kind,
            destination.arn,
            json.dumps(message),
        )


class EventSourceMappings:
    """The running pollers, one per enabled source, by the source's name; ``update``
    restarts only the sources a template edit changed, so the others keep their place
    in their stream."""

    def __init__(
        self,
        model: StageModel,
        invoker: Invoker,
        *,
        dynamodb: Any,
        streams: Any,
        sqs: Any = None,
        queue_urls: Mapping[str, str] | None = None,
        pool_size: int = 1,
        ttl: TtlDeletions | None = None,
        clock: Callable[[], float] = time.time,
        new_id: Callable[[], str],
    ) -> None:
        self._model = model
        self._invoker = invoker
        self._dynamodb = dynamodb
        self._streams = streams
        self._sqs = sqs
        self._queue_urls = dict(queue_urls or {})
        self._pool_size = pool_size
        self._ttl = ttl
        self._clock = clock
        self._new_id = new_id
        self._running: dict[str, tuple[DynamoDBStreamPoller | SqsQueuePoller, asyncio.Task[None]]]
        self._running = {}

    @property
    def running(self) -> list[str]:
        """Names of the sources being polled."""
        return sorted(self._running)

    async def start(self) -> None:
        """Find each enabled source's stream, then start polling them all."""
        await self._start(self._names(self._model))

    async def update(
        self,
        model: StageModel,
        names: set[str],
        *,
        sqs: Any = None,
        queue_urls: Mapping[str, str] | None = None,
    ) -> None:
        """The template changed these sources: stop them, then start those the new model
        still has, a stream source from where it was. The others are not touched."""
        positions = await self._stop(names)
        self._model = model
        self._sqs = sqs
        self._queue_urls = dict(queue_urls or {})
        await self._start(names & self._names(model), positions)

    async def stop(self) -> None:
        await self._stop(set(self._running))

    @staticmethod
    def _names(model: StageModel) -> set[str]:
        sources: tuple[DynamoDBStreamSourceModel | SqsSourceModel, ...] = (
            *model.stream_sources,
            *model.queue_sources,
        )
        return {source.name for source in sources}

    async def _stop(self, names: set[str]) -> dict[str, StreamPosition]:
        """Stream pollers first finish the batch they are invoking (within the
        function's timeout), so its records are not invoked again; then every poller
        is cancelled (a queue poller deletes, within a bound, what its finished batches
        left). Returns where each stream poller stopped."""
        stopping = [self._running.pop(name) for name in sorted(names & set(self._running))]
        await asyncio.gather(
            *(
                poller.drain(self._model.functions[poller.source.function].timeout)
                for poller, _ in stopping
                if isinstance(poller, DynamoDBStreamPoller)
            )
        )
        for _, task in stopping:
            task.cancel()
        await asyncio.gather(*(task for _, task in stopping), return_exceptions=True)
        return {
            poller.source.name: poller.position
            for poller, _ in stopping
            if isinstance(poller, DynamoDBStreamPoller)
        }

    async def _start(
        self, names: set[str], positions: Mapping[str, StreamPosition] | None = None
    ) -> None:
        destinations = OnFailureDestinations(self._sqs, self._queue_urls)
        streams = []
        for source in self._model.stream_sources:
            if source.enabled and source.name in names:
                resume = (positions or {}).get(source.name)
                poller = await self._stream_poller(source, destinations, resume)
                streams.append(poller)
                self._running[source.name] = (
                    poller,
                    asyncio.create_task(supervised(f"event source {source.name}", poller.run)),
                )
        async with asyncio.timeout(READY_TIMEOUT_S):
            await asyncio.gather(*(poller.ready.wait() for poller in streams))
        for queue_source in self._model.queue_sources:
            if queue_source.enabled and queue_source.name in names:
                queue_poller = self._queue_poller(queue_source)
                self._running[queue_source.name] = (
                    queue_poller,
                    asyncio.create_task(
                        supervised(f"event source {queue_source.name}", queue_poller.run)
                    ),
                )

    async def _stream_poller(
        self,
        source: DynamoDBStreamSourceModel,
        destinations: OnFailureDestinations,
        resume: StreamPosition | None,
    ) -> DynamoDBStreamPoller:
        table_name = self._model.table(source.table).table_name
        stream_arn = await asyncio.to_thread(self._stream_of, table_name, source)
        function = self._model.functions[source.function]
        return DynamoDBStreamPoller(
            source,
            table_name=table_name,
            stream_arn=stream_arn,
            streams=AwsJsonClient.like(self._streams, STREAMS_TARGET_PREFIX),
            invoker=self._invoker,
            destinations=destinations,
            function_arn=(
                f"arn:aws:lambda:{self._model.region}:{self._model.account_id}"
                f":function:{function.function_name}"
            ),
            region=self._model.region,
            ttl=self._ttl,
            clock=self._clock,
            new_id=self._new_id,
            resume=resume,
        )

    def _queue_poller(self, source: SqsSourceModel) -> SqsQueuePoller:
        if self._sqs is None or source.queue not in self._queue_urls:
            raise EventSourceError(f"{source.name}: queue {source.queue} is not in the SQS engine")
        return SqsQueuePoller(
            source,
            queue=self._model.queue(source.queue),
            queue_url=self._queue_urls[source.queue],
            sqs=AwsJsonClient.like(self._sqs, SQS_TARGET_PREFIX),
            invoker=self._invoker,
            region=self._model.region,
            concurrency=concurrency_of(source, self._pool_size),
        )

    def _stream_of(self, table_name: str, source: DynamoDBStreamSourceModel) -> str:
        """The engine's ARN of the table's latest stream; enabled if the table has none."""
        view_type = self._model.table(source.table).stream_view_type
        try:
            table = self._dynamodb.describe_table(TableName=table_name)["Table"]
            arn = table.get("LatestStreamArn")
            if arn and (table.get("StreamSpecification") or {}).get("StreamEnabled", True):
                return str(arn)
            updated = self._dynamodb.update_table(
                TableName=table_name,
                StreamSpecification={"StreamEnabled": True, "StreamViewType": view_type},
            )
            return str(updated["TableDescription"]["LatestStreamArn"])
        except (BotoCoreError, ClientError, KeyError) as exc:
            raise EventSourceError(
                f"{source.name}: the stream of table {table_name} cannot be read "
                f"({exc}); the engine must implement DynamoDB Streams (DynamoDB Local and "
                "moto do)"
            ) from None
