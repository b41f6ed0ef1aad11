"""SQS event sources: poll a queue and invoke the function with Lambda's batches.

Batches are invoked side by side up to ``ScalingConfig.MaximumConcurrency`` (bounded by
the function's worker pool). One receiver long-polls an idle queue; as on AWS, receivers
scale with the backlog: one whose receive asked for all one receive may bring and
brought it adds another, and an added one stops when its receive comes back empty. A
receive asks for a batch per free slot (up to SQS's 10 messages) and each batch it
brings is invoked at once: the messages sent together (a room's shards) start together,
as Lambda starts five batches at once when a queue turns active. With a batching window
(``MaximumBatchingWindowInSeconds``), or from a FIFO queue, a receive is for one batch,
gathered until it is full (``BatchSize``), its window passed or it holds 6 MB. Messages
the mapping's ``FilterCriteria`` does not match are deleted as they are received, never
invoked, as Lambda does. Success deletes the batch; with ``ReportBatchItemFailures``
only the messages not listed are deleted; a function error deletes none. What is not
deleted reappears after the queue's visibility timeout, and SQS itself moves a message
to the dead-letter queue once it has been received ``maxReceiveCount`` times, as on AWS.
A batch's slot is free once its function returned; the mapping's deleter deletes after,
as Lambda does (batches that end within ``DELETE_LINGER_S`` of each other in one call; at
most a tenth of the visibility timeout, and no linger for a FIFO queue), and a poller
that stops (the stage's stop, a template edit) deletes what is left first.

The calls go to SQS's JSON protocol from the event loop (``aws_client``), on kept-alive
connections: no botocore and no thread on a poller's path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from wslocal.eventsources import batches, filtering, sqs_records
from wslocal.eventsources.aws_json import AwsCallError
from wslocal.eventsources.protocols import Invoker, JsonApi
from wslocal.exceptions import InvocationError
from wslocal.template import QueueModel, SqsSourceModel

log = logging.getLogger("wslocal")

RECEIVE_WAIT_S = 1
"""Long poll of each ReceiveMessage: short enough for the stage to stop promptly."""
LARGEST_RECEIVE = 10
LARGEST_PAYLOAD_BYTES = 6 * 1024 * 1024
"""An invocation's payload limit: a batch goes out before it passes this."""
ERROR_PAUSE_S = 1.0
DELETE_LINGER_S = 0.1
"""How long a processed message waits for others to share its DeleteMessageBatch (up to
10), unless ten are waiting: a room's shards end 10-100 ms apart, and each call costs the
SQS engine 2-4 ms of CPU (moto). Nothing waits on it (a batch's slot is free once its
function returned; Lambda's pollers also delete after): a message not yet deleted only
stays in flight a little longer. ``delete_linger_of`` bounds it per queue."""
FINAL_DELETE_S = 2.0
"""How long a stopping poller spends deleting what its finished batches left: their
messages would otherwise be delivered again after the visibility timeout."""

Message = Mapping[str, Any]
T = TypeVar("T")


def split_batches(messages: Sequence[T], batch_size: int) -> list[list[T]]:
    """Received messages as batches of ``batch_size``, in order (the last may be short)."""
    return [
        list(messages[start : start + batch_size]) for start in range(0, len(messages), batch_size)
    ]


class Slots:
    """The invocations one mapping may have in flight (its concurrency): a receive
    reserves slots before it asks SQS for messages, one per batch it may bring, and gives
    back those it did not fill; each batch gives its slot back when its invocation ends.
    No message waits received for a slot, and receivers never take more than there is."""

    def __init__(self, count: int) -> None:
        self.free = count
        self.receivers = 1
        self._changed = asyncio.Condition()

    async def reserve(self, most: int) -> int:
        """Wait until a slot is free; take up to ``most``."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.free > 0)
            taken = min(most, self.free)
            self.free -= taken
            return taken

    async def give_back(self, count: int) -> None:
        if count:
            async with self._changed:
                self.free += count
                self._changed.notify_all()


class DeletionQueue:
    """Messages waiting to be deleted, in the order their batches finished, each with the
    time it was added (the event loop's clock): the deleter waits a bounded while for more
    to go in the same call."""

    def __init__(self) -> None:
        self._waiting: deque[tuple[float, Message]] = deque()
        self._added = asyncio.Event()

    def add(self, messages: Sequence[Message]) -> None:
        added_at = asyncio.get_running_loop().time()
        self._waiting.extend((added_at, message) for message in messages)
        self._added.set()

    async def next_chunk(self, most: int, linger_s: float = 0.0) -> list[Message]:
        """Up to ``most`` messages, oldest first, once ``most`` are waiting or the oldest
        has waited ``linger_s``: batches that end within it are deleted in one call.
        Cancelled meanwhile, it takes none (a final delete finds them all)."""
        while not self._waiting:
            await self._more_added()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout_at(self._waiting[0][0] + linger_s):
                while len(self._waiting) < most:
                    await self._more_added()
        return [self._waiting.popleft()[1] for _ in range(min(most, len(self._waiting)))]

    async def _more_added(self) -> None:
        self._added.clear()
        await self._added.wait()

    def put_back(self, chunk: Sequence[Message]) -> None:
        """Messages taken whose delete did not happen: first in line again, due at once
        (they have waited their linger)."""
        self._waiting.extendleft((-math.inf, message) for message in reversed(chunk))
        self._added.set()

    def __len__(self) -> int:
        return len(self._waiting)


def delete_linger_of(queue: QueueModel) -> float:
    """The deleter's linger for ``queue``: ``DELETE_LINGER_S``, at most a tenth of its
    visibility timeout (SQS allows 0 s), and none for a FIFO queue: SQS holds a message
    group back while any of its messages is in flight, so a linger would let one group
    through at a batch per linger."""
    if queue.fifo:
        return 0.0
    return min(DELETE_LINGER_S, queue.visibility_timeout_s / 10)


def concurrency_of(source: SqsSourceModel, pool_size: int) -> int:
    """How many batches are in flight at once: the mapping's MaximumConcurrency, at most
    the function's pool (Lambda scales to the backlog; here the pool is the bound)."""
    wanted = source.maximum_concurrency or pool_size
    return max(1, min(wanted, pool_size))


class SqsQueuePoller:
    """One event source mapping: a queue feeding one function."""

    def __init__(
        self,
        source: SqsSourceModel,
        *,
        queue: QueueModel,
        queue_url: str,
        sqs: JsonApi,
        invoker: Invoker,
        region: str,
        concurrency: int,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.source = source
        self.concurrency = concurrency
        self._queue = queue
        self._queue_url = queue_url
        self._sqs = sqs
        self._invoker = invoker
        self._region = region
        self._clock = clock
        self._wall_clock = wall_clock
        self._policy = batches.RetryPolicy(report_item_failures=source.report_item_failures)
        shares_receives = source.batching_window_s <= 0 and not queue.fifo
        self._batches_per_receive = (
            max(1, LARGEST_RECEIVE // source.batch_size) if shares_receives else 1
        )
        """A receive brings batches for several free slots, up to SQS's 10 messages: not
        with a batching window (each batch gathers on its own), nor from a FIFO queue
        (one group's messages in one receive must run in order, not side by side)."""
        self._filter = filtering.compile_filters(source.filters, filtering.SQS_DATA_KEY)
        self._delete_linger_s = delete_linger_of(queue)
        self._deletions = DeletionQueue()
        """Kept across runs: what a run that stopped on an error left is deleted by the
        next (its receipt handles are still good)."""

    async def run(self) -> None:
        """Poll until cancelled: one receiver always, more (up to ``concurrency``) while
        the queue has a backlog that one receive cannot take, each batch invoked as it
        comes. Run again after it stopped (supervised), it polls again. Stopping (the
        stage's stop, a template edit), it first deletes what finished batches left, for
        at most ``FINAL_DELETE_S``."""
        slots = Slots(self.concurrency)
        try:
            # A task group: one receiver, invocation or the deleter failing stops the
            # others (gather would leave them running, unseen, after the poller is
            # stopped or started again).
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._delete_forever())
                tasks.create_task(self._receive_forever(slots, tasks, lead=True))
        finally:
            try:
                await self._delete_pending(FINAL_DELETE_S)
            finally:
                self._sqs.close()

    async def _receive_forever(self, slots: Slots, tasks: asyncio.TaskGroup, lead: bool) -> None:
        """Receive batches for the free slots and invoke each at once. A receive that
        asked for all one receive may bring (a batch per free slot up to SQS's 10
        messages, or one batch with a window or from a FIFO queue) and brought it adds a
        receiver: a backlog one receiver cannot take. One that asked for fewer, for lack
        of free slots, adds none: another receiver would only wait for a slot, then ask
        for a message at a time. The lead never stops, the others stop when their receive
        comes back empty. An idle queue costs one ReceiveMessage per long poll."""
        while True:
            reserved = await slots.reserve(self._batches_per_receive)
            try:
                received = await self._gather(reserved)
            except AwsCallError as exc:
                await slots.give_back(reserved)
                log.warning(
                    "%s: receiving from %s failed: %s",
                    self.source.name,
                    self._queue.queue_name,
                    exc,
                )
                await asyncio.sleep(ERROR_PAUSE_S)
                continue
            except BaseException:
                await slots.give_back(reserved)
                raise
            found = split_batches(received, self.source.batch_size)
            await slots.give_back(reserved - len(found))
            for batch in found:
                tasks.create_task(self._invoke_in_slot(batch, slots))
            asked = min(LARGEST_RECEIVE, self.source.batch_size * reserved)
            backlog = len(received) >= asked and reserved == self._batches_per_receive
            if backlog and slots.receivers < self.concurrency:
                slots.receivers += 1
                tasks.create_task(self._receive_forever(slots, tasks, lead=False))
            if not received and not lead:
                slots.receivers -= 1
                return

    async def _invoke_in_slot(self, batch: Sequence[Message], slots: Slots) -> None:
        try:
            await self._process(batch)
        finally:
            await slots.give_back(1)

    async def _receive(self, most: int, wait_s: int) -> list[Message]:
        answer = await self._sqs.call(
            "ReceiveMessage",
            {
                "QueueUrl": self._queue_url,
                "MaxNumberOfMessages": min(most, LARGEST_RECEIVE),
                "WaitTimeSeconds": wait_s,
                "MessageSystemAttributeNames": ["All"],
                "MessageAttributeNames": ["All"],
            },
        )
        return self._admitted(list(answer.get("Messages", [])))

    def _admitted(self, messages: list[Message]) -> list[Message]:
        """The messages the filters match; the others are deleted now."""
        if not self.source.filters:
            return messages
        admitted: list[Message] = []
        dropped: list[Message] = []
        for message in messages:
            record = sqs_records.lambda_record(
                message, queue_arn=self.source.queue_arn, region=self._region
            )
            (admitted if self._filter.matches(record) else dropped).append(message)
        if dropped:
            log.info("%s: %d message(s) matched no filter: deleted", self.source.name, len(dropped))
            self._deletions.add(dropped)
        return admitted

    async def _gather(self, batches: int = 1) -> list[Message]:
        """One batch: what the first receive returns, then more until the batch is full,
        its window has passed, or its payload reaches Lambda's limit. With ``batches``
        over one (no window), the first receive asks for that many batches' messages and
        returns whatever came."""
        batch = await self._receive(self.source.batch_size * batches, RECEIVE_WAIT_S)
        if not batch or batches > 1:
            return batch
        opened = self._clock()
        size = sum(len(m.get("Body", "")) for m in batch)
        while len(batch) < self.source.batch_size and size < LARGEST_PAYLOAD_BYTES:
            left = self.source.batching_window_s - (self._clock() - opened)
            if left <= 0:
                break
            more = await self._receive(self.source.batch_size - len(batch), int(min(left, 20)))
            if not more and left < 1:
                await asyncio.sleep(min(left, 0.05))
            batch.extend(more)
            size += sum(len(m.get("Body", "")) for m in more)
        return batch

    async def _process(self, batch: Sequence[Message]) -> None:
        event = {
            "Records": [
                sqs_records.lambda_record(
                    message, queue_arn=self.source.queue_arn, region=self._region
                )
                for message in batch
            ]
        }
        label = f"EventSource: {self.source.name} Records: {len(batch)}"
        age = sqs_records.oldest_age_ms(batch, int(self._wall_clock() * 1000))
        if age is not None:  # how long the batch waited in the queue, on its START line
            label += f" Age: {age} ms"
        try:
            result = await self._invoker.invoke(self.source.function, event, label)
        except InvocationError as exc:
            log.warning(
                "%s: the function failed (%s); %d message(s) return after the visibility "
                "timeout (%d s)",
                self.source.name,
                exc,
                len(batch),
                self._queue.visibility_timeout_s,
            )
            self._note_last_receives(batch)
            return
        failed = (
            batches.failed_positions(result, [m["MessageId"] for m in batch], self._policy)
            or frozenset()
        )
        done = [m for index, m in enumerate(batch) if index not in failed]
        if failed:
            log.warning(
                "%s: %d of %d message(s) reported failed; they return after the visibility "
                "timeout (%d s)",
                self.source.name,
                len(failed),
                len(batch),
                self._queue.visibility_timeout_s,
            )
            self._note_last_receives([batch[index] for index in sorted(failed)])
        self._deletions.add(done)

    async def _delete_forever(self) -> None:
        """Delete processed messages, one DeleteMessageBatch at a time per mapping: the
        messages of batches that end within the linger (``delete_linger_of``), or while a
        delete is under way, go together (up to 10 a call), so a room's shards that end
        close together cost a call or two, not one each. A batch's slot is free once its
        function returned (Lambda deletes after, too): no invocation waits on deletes,
        its own or others'."""
        while True:
            chunk = await self._deletions.next_chunk(LARGEST_RECEIVE, self._delete_linger_s)
            try:
                await self._delete_chunk(chunk)
            except asyncio.CancelledError:
                self._deletions.put_back(chunk)  # the final delete takes it
                raise

    async def _delete_pending(self, within_s: float) -> None:
        """Delete what is waiting, in chunks, giving up after ``within_s``."""
        try:
            async with asyncio.timeout(within_s):
                while self._deletions:
                    await self._delete_chunk(await self._deletions.next_chunk(LARGEST_RECEIVE))
        except TimeoutError:
            log.warning(
                "%s: %d processed message(s) not deleted in time; they will be seen again",
                self.source.name,
                len(self._deletions),
            )

    async def _delete_chunk(self, chunk: Sequence[Message]) -> None:
        try:
            answer = await self._sqs.call(
                "DeleteMessageBatch",
                {
                    "QueueUrl": self._queue_url,
                    "Entries": [
                        {"Id": str(index), "ReceiptHandle": m["ReceiptHandle"]}
                        for index, m in enumerate(chunk)
                    ],
                },
            )
        except AwsCallError as exc:
            log.warning("%s: deleting processed messages failed: %s", self.source.name, exc)
            return
        for failure in answer.get("Failed", []):
            log.warning(
                "%s: a processed message was not deleted (%s); it will be seen again",
                self.source.name,
                failure.get("Message") or failure.get("Code"),
            )

    def _note_last_receives(self, messages: Sequence[Message]) -> None:
        """Say which failed messages SQS moves to the dead-letter queue next."""
        limit = self._queue.max_receive_count
        if limit is None:
            return
        for message in messages:
            if sqs_records.receive_count(message) >= limit:
                log.warning(
                    "%s: message %s failed on receive %d of %d: SQS moves it to %s",
                    self.source.name,
                    message["MessageId"],
                    sqs_records.receive_count(message),
                    limit,
                    self._queue.dead_letter_queue,
                )
