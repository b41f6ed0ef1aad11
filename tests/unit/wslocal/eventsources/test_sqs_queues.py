"""How SQS pollers scale: one long-polls an idle queue, the others join for a backlog
and leave when their receive comes back empty (as Lambda's pollers scale); a receive
brings a batch for each free slot, and each is invoked at once. What the batches leave
is deleted by the mapping's deleter, which lingers briefly so that batches ending close
together share a DeleteMessageBatch."""

import asyncio
import contextlib
import json

from wslocal.eventsources.sqs_queues import (
    DELETE_LINGER_S,
    DeletionQueue,
    SqsQueuePoller,
    delete_linger_of,
    split_batches,
)
from wslocal.supervision import supervised
from wslocal.template import QueueModel, SqsSourceModel

QUEUE = QueueModel(logical_id="Jobs", queue_name="jobs", attributes={})
SOURCE = SqsSourceModel(
    name="JobsFunction.Jobs",
    function="JobsFunction",
    queue="jobs",
    queue_arn="arn:aws:sqs:us-east-1:123456789012:jobs",
    batch_size=1,
)


class CountingQueue:
    """A queue as SQS's JSON API answers, counting receives in flight."""

    def __init__(self, messages: int = 0) -> None:
        self._messages = [
            {"MessageId": f"m{index}", "ReceiptHandle": f"r{index}", "Body": "{}"}
            for index in range(messages)
        ]
        self.receiving = 0
        self.most_receiving = 0
        self.receives = 0

    async def call(self, operation: str, payload: dict) -> dict:
        if operation == "ReceiveMessage":
            return await self.receive_message(**payload)
        assert operation == "DeleteMessageBatch"
        return await self.delete_message_batch(**payload)

    def close(self) -> None:
        pass

    async def receive_message(self, **_: object) -> dict:
        self.receiving += 1
        self.receives += 1
        self.most_receiving = max(self.most_receiving, self.receiving)
        taken = self._messages[:1]
        del self._messages[:1]
        if not taken:
            await asyncio.sleep(0.05)  # a (short) long poll that found nothing
        self.receiving -= 1
        return {"Messages": taken}

    async def delete_message_batch(self, Entries: list, **_: object) -> dict:
        return {"Successful": Entries}


class SlowFunction:
    def __init__(self) -> None:
        self.running = 0
        self.most_running = 0
        self.calls = 0

    async def invoke(self, function: str, event: dict, label: str = "") -> None:
        self.running += 1
        self.calls += 1
        self.most_running = max(self.most_running, self.running)
        await asyncio.sleep(0.1)
        self.running -= 1


def start_polling(
    queue: CountingQueue,
    function: SlowFunction,
    concurrency: int = 4,
    source: SqsSourceModel = SOURCE,
    queue_model: QueueModel = QUEUE,
) -> asyncio.Task:
    poller = SqsQueuePoller(
        source,
        queue=queue_model,
        queue_url="http://sqs/jobs",
        sqs=queue,
        invoker=function,
        region="us-east-1",
        concurrency=concurrency,
    )
    return asyncio.create_task(poller.run())


async def stop(task: asyncio.Task) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def poll_for(queue: CountingQueue, function: SlowFunction, seconds: float) -> None:
    task = start_polling(queue, function)
    await asyncio.sleep(seconds)
    await stop(task)


async def test_an_idle_queue_is_polled_by_one_poller():
    queue = CountingQueue()
    await poll_for(queue, SlowFunction(), 0.5)
    assert queue.most_receiving == 1


async def test_a_backlog_is_invoked_side_by_side():
    queue, function = CountingQueue(messages=12), SlowFunction()
    await poll_for(queue, function, 1.0)
    assert function.calls == 12
    assert function.most_running > 1


class FailingOnceQueue(CountingQueue):
    """A client that fails once in a way no poller expects (not a botocore error)."""

    def __init__(self, messages: int) -> None:
        super().__init__(messages)
        self.failed = False

    async def receive_message(self, **kwargs: object) -> dict:
        if not self.failed:
            self.failed = True
            raise RuntimeError("the client broke")
        return await super().receive_message(**kwargs)


async def test_a_poller_that_dies_is_said_and_started_again_and_delivers(caplog):
    queue, function = FailingOnceQueue(messages=2), SlowFunction()
    poller = SqsQueuePoller(
        SOURCE, queue=QUEUE, queue_url="http://sqs/jobs", sqs=queue, invoker=function,
        region="us-east-1", concurrency=4,
    )  # fmt: skip
    task = asyncio.create_task(supervised("event source jobs", poller.run, first_pause_s=0.01))
    try:
        async with asyncio.timeout(10):
            while function.calls < 2:
                await asyncio.sleep(0.01)
    finally:
        await stop(task)
    assert "event source jobs stopped on an error" in caplog.text
    assert "RuntimeError: the client broke" in caplog.text


async def test_a_failing_poller_leaves_none_of_its_siblings_running():
    queue, function = FailingOnceQueue(messages=0), SlowFunction()
    poller = SqsQueuePoller(
        SOURCE, queue=QUEUE, queue_url="http://sqs/jobs", sqs=queue, invoker=function,
        region="us-east-1", concurrency=4,
    )  # fmt: skip
    before = set(asyncio.all_tasks())
    task = asyncio.create_task(poller.run())
    await asyncio.gather(task, return_exceptions=True)
    await asyncio.sleep(0.05)
    assert {t for t in asyncio.all_tasks() if not t.done()} - before == set()


class LabelledFunction(SlowFunction):
    def __init__(self) -> None:
        super().__init__()
        self.labels: list[str] = []

    async def invoke(self, function: str, event: dict, label: str = "") -> None:
        self.labels.append(label)


async def test_an_invocation_says_how_long_its_batch_waited_in_the_queue():
    queue, function = CountingQueue(messages=1), LabelledFunction()
    queue._messages[0]["Attributes"] = {"SentTimestamp": "1000000"}
    poller = SqsQueuePoller(
        SOURCE, queue=QUEUE, queue_url="http://sqs/jobs", sqs=queue, invoker=function,
        region="us-east-1", concurrency=1, wall_clock=lambda: 1000.042,
    )  # fmt: skip
    task = asyncio.create_task(poller.run())
    try:
        async with asyncio.timeout(10):
            while not function.labels:
                await asyncio.sleep(0.01)
    finally:
        await stop(task)
    assert function.labels == ["EventSource: JobsFunction.Jobs Records: 1 Age: 42 ms"]


class SharingQueue(CountingQueue):
    """A queue that answers a receive with up to MaxNumberOfMessages as soon as it has
    any (a long poll, 0.2 s here), as SQS does, and notes how many each asked for."""

    def __init__(self, messages: int = 0) -> None:
        super().__init__(messages)
        self._arrived = asyncio.Event()
        self._sent = messages
        self.asked: list[int] = []
        self.brought: list[int] = []

    async def receive_message(self, MaxNumberOfMessages: int = 1, **_: object) -> dict:
        self.asked.append(MaxNumberOfMessages)
        self.receives += 1
        if not self._messages:
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), timeout=0.2)
        taken = self._messages[:MaxNumberOfMessages]
        del self._messages[:MaxNumberOfMessages]
        self.brought.append(len(taken))
        return {"Messages": taken}

    def send(self, count: int) -> None:
        self._messages.extend(
            {"MessageId": f"m{n}", "ReceiptHandle": f"r{n}", "Body": "{}"}
            for n in range(self._sent, self._sent + count)
        )
        self._sent += count
        self._arrived.set()


async def wait_for_calls(function: SlowFunction, calls: int) -> None:
    async with asyncio.timeout(10):
        while function.calls < calls:
            await asyncio.sleep(0.005)


async def test_messages_that_arrive_together_are_invoked_side_by_side_from_one_receive():
    queue, function = SharingQueue(), SlowFunction()
    task = start_polling(queue, function, concurrency=8)
    try:
        await asyncio.sleep(0.2)  # the receiver long-polls
        queue.send(5)
        await wait_for_calls(function, 5)
    finally:
        await stop(task)
    assert function.most_running == 5
    assert 5 in queue.brought and 8 in queue.asked  # one receive, a batch per free slot


async def test_messages_that_arrive_a_few_at_a_time_start_while_the_first_run():
    queue, function = SharingQueue(), SlowFunction()
    task = start_polling(queue, function, concurrency=8)
    try:
        await asyncio.sleep(0.2)
        queue.send(3)
        await wait_for_calls(function, 3)
        queue.send(2)  # the first three are still running (0.1 s each)
        await wait_for_calls(function, 5)
    finally:
        await stop(task)
    assert function.most_running == 5


async def test_a_batching_window_keeps_one_batch_per_receive():
    windowed = SqsSourceModel(**{**SOURCE.__dict__, "batch_size": 2, "batching_window_s": 0.2})
    queue, function = SharingQueue(messages=6), SlowFunction()
    task = start_polling(queue, function, concurrency=4, source=windowed)
    try:
        await wait_for_calls(function, 3)
    finally:
        await stop(task)
    assert set(queue.asked) <= {1, 2}


async def test_a_fifo_queue_keeps_one_batch_per_receive():
    fifo = QueueModel(logical_id="Jobs", queue_name="jobs.fifo", attributes={"FifoQueue": "true"})
    queue, function = SharingQueue(), SlowFunction()
    task = start_polling(queue, function, concurrency=4, queue_model=fifo)
    try:
        await asyncio.sleep(0.2)
        queue.send(3)
        await wait_for_calls(function, 3)
    finally:
        await stop(task)
    assert set(queue.asked) == {1}


def test_received_messages_split_into_batches_in_order():
    assert split_batches([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4], [5]]


async def test_a_receive_never_brings_more_batches_than_free_slots():
    queue, function = SharingQueue(messages=6), SlowFunction()
    task = start_polling(queue, function, concurrency=2)
    try:
        await wait_for_calls(function, 6)
    finally:
        await stop(task)
    assert function.most_running == 2 and max(queue.asked) == 2


class SlowDeletingQueue(SharingQueue):
    """A queue whose DeleteMessageBatch takes a while, noting each call's entries."""

    def __init__(self, messages: int = 0, delete_s: float = 0.05) -> None:
        super().__init__(messages)
        self.deleted: list[list[str]] = []
        self.deleting = asyncio.Event()
        self._delete_s = delete_s

    async def delete_message_batch(self, Entries: list, **_: object) -> dict:
        self.deleting.set()
        await asyncio.sleep(self._delete_s)
        self.deleted.append([entry["ReceiptHandle"] for entry in Entries])
        return {"Successful": Entries}


class QuickFunction(SlowFunction):
    async def invoke(self, function: str, event: dict, label: str = "") -> None:
        self.calls += 1


async def test_batches_that_end_while_a_delete_is_under_way_are_deleted_together():
    queue, function = SlowDeletingQueue(delete_s=0.2), QuickFunction()
    task = start_polling(queue, function, concurrency=8)
    try:
        async with asyncio.timeout(10):
            queue.send(1)
            await queue.deleting.wait()
            queue.send(4)  # their batches end while the first one's delete is under way
            while sum(len(call) for call in queue.deleted) < 5:
                await asyncio.sleep(0.01)
    finally:
        await stop(task)
    assert queue.deleted == [["r0"], ["r1", "r2", "r3", "r4"]]


async def test_a_batchs_slot_is_free_once_its_function_returned_not_once_deleted():
    queue, function = SlowDeletingQueue(messages=4, delete_s=0.5), QuickFunction()
    task = start_polling(queue, function, concurrency=1)
    try:
        await wait_for_calls(function, 4)
        waited_for_deletes = queue.deleted != []
    finally:
        await stop(task)
    assert not waited_for_deletes  # four batches through one slot before any delete ended


async def test_a_delete_holds_at_most_ten_messages():
    many = SqsSourceModel(**{**SOURCE.__dict__, "batch_size": 25, "batching_window_s": 0.1})
    queue, function = SlowDeletingQueue(messages=25), QuickFunction()
    task = start_polling(queue, function, concurrency=1, source=many)
    try:
        async with asyncio.timeout(10):
            while sum(len(call) for call in queue.deleted) < 25:
                await asyncio.sleep(0.01)
    finally:
        await stop(task)
    assert [len(call) for call in queue.deleted] == [10, 10, 5]


async def test_stopping_right_after_a_batch_returned_still_deletes_it():
    queue, function = SlowDeletingQueue(messages=1), QuickFunction()
    task = start_polling(queue, function)
    await wait_for_calls(function, 1)
    await stop(task)
    assert queue.deleted == [["r0"]]


async def test_stopping_during_a_delete_deletes_its_messages_again():
    queue, function = SlowDeletingQueue(messages=1, delete_s=0.2), QuickFunction()
    task = start_polling(queue, function)
    async with asyncio.timeout(10):
        await queue.deleting.wait()
    await stop(task)
    assert queue.deleted == [["r0"]]


async def test_a_stopping_poller_gives_up_deleting_after_a_bound(monkeypatch):
    monkeypatch.setattr("wslocal.eventsources.sqs_queues.FINAL_DELETE_S", 0.1)
    queue, function = SlowDeletingQueue(messages=1, delete_s=5), QuickFunction()
    task = start_polling(queue, function)
    async with asyncio.timeout(10):
        await queue.deleting.wait()
        await stop(task)
    assert queue.deleted == []


def messages(*handles: str) -> list[dict]:
    return [{"MessageId": handle, "ReceiptHandle": handle} for handle in handles]


def handles(chunk: list) -> list[str]:
    return [message["ReceiptHandle"] for message in chunk]


async def test_deletions_that_come_within_the_linger_are_taken_together():
    deletions = DeletionQueue()
    deletions.add(messages("r0"))
    chunk = asyncio.create_task(deletions.next_chunk(10, linger_s=0.5))
    for handle in ("r1", "r2", "r3"):
        await asyncio.sleep(0.02)
        deletions.add(messages(handle))
    async with asyncio.timeout(10):
        assert handles(await chunk) == ["r0", "r1", "r2", "r3"]


async def test_a_deletion_waits_no_longer_than_the_linger():
    deletions = DeletionQueue()
    deletions.add(messages("r0"))
    loop = asyncio.get_running_loop()
    began = loop.time()
    async with asyncio.timeout(10):
        chunk = await deletions.next_chunk(10, linger_s=0.05)
    assert handles(chunk) == ["r0"] and 0.049 <= loop.time() - began < 5


async def test_the_linger_counts_from_when_the_oldest_was_added():
    deletions = DeletionQueue()
    deletions.add(messages("r0"))
    await asyncio.sleep(0.5)  # e.g. while the previous delete was under way
    loop = asyncio.get_running_loop()
    began = loop.time()
    async with asyncio.timeout(5):
        assert handles(await deletions.next_chunk(10, linger_s=0.5)) == ["r0"]
    assert loop.time() - began < 0.25  # its linger had passed: not another 0.5 s


async def test_ten_waiting_are_taken_without_waiting_for_the_linger():
    deletions = DeletionQueue()
    deletions.add(messages(*(f"r{n}" for n in range(12))))
    async with asyncio.timeout(1):
        chunk = await deletions.next_chunk(10, linger_s=60)
    assert handles(chunk) == [f"r{n}" for n in range(10)] and len(deletions) == 2


async def test_the_tenth_to_come_ends_the_linger():
    deletions = DeletionQueue()
    deletions.add(messages(*(f"r{n}" for n in range(9))))
    chunk = asyncio.create_task(deletions.next_chunk(10, linger_s=60))
    await asyncio.sleep(0.01)
    deletions.add(messages("r9"))
    async with asyncio.timeout(1):
        assert len(await chunk) == 10


async def test_a_chunk_cancelled_during_its_linger_takes_nothing():
    deletions = DeletionQueue()
    deletions.add(messages("r0", "r1"))
    chunk = asyncio.create_task(deletions.next_chunk(10, linger_s=60))
    await asyncio.sleep(0.01)
    chunk.cancel()
    await asyncio.gather(chunk, return_exceptions=True)
    async with asyncio.timeout(1):
        assert handles(await deletions.next_chunk(10)) == ["r0", "r1"]


async def test_messages_put_back_are_first_and_due_at_once():
    deletions = DeletionQueue()
    deletions.add(messages("r2"))
    deletions.put_back(messages("r0", "r1"))
    async with asyncio.timeout(1):
        assert handles(await deletions.next_chunk(10, linger_s=60)) == ["r0", "r1", "r2"]


LONG_VISIBILITY = QueueModel(
    logical_id="Jobs", queue_name="jobs", attributes={"VisibilityTimeout": "43200"}
)


def test_the_linger_is_at_most_a_tenth_of_the_visibility_timeout(monkeypatch):
    monkeypatch.setattr("wslocal.eventsources.sqs_queues.DELETE_LINGER_S", 60)
    ten = QueueModel(logical_id="Jobs", queue_name="jobs", attributes={"VisibilityTimeout": "10"})
    assert delete_linger_of(ten) == 1


def test_a_queue_without_a_visibility_timeout_has_no_linger():
    none = QueueModel(logical_id="Jobs", queue_name="jobs", attributes={"VisibilityTimeout": "0"})
    assert delete_linger_of(none) == 0


def test_a_long_visibility_timeout_keeps_the_linger():
    assert delete_linger_of(LONG_VISIBILITY) == DELETE_LINGER_S


def test_a_fifo_queue_has_no_linger():
    fifo = QueueModel(logical_id="Jobs", queue_name="jobs.fifo", attributes={"FifoQueue": "true"})
    assert delete_linger_of(fifo) == 0


async def test_a_fifo_queues_batches_are_deleted_without_lingering(monkeypatch):
    monkeypatch.setattr("wslocal.eventsources.sqs_queues.DELETE_LINGER_S", 60)
    fifo = QueueModel(
        logical_id="Jobs",
        queue_name="jobs.fifo",
        attributes={"FifoQueue": "true", "VisibilityTimeout": "43200"},
    )
    queue, function = SlowDeletingQueue(messages=1, delete_s=0), QuickFunction()
    task = start_polling(queue, function, queue_model=fifo)
    try:
        async with asyncio.timeout(5):  # not a 60 s linger: SQS holds the group meanwhile
            while not queue.deleted:
                await asyncio.sleep(0.01)
    finally:
        await stop(task)
    assert queue.deleted == [["r0"]]


class StaggeredFunction(QuickFunction):
    """Each batch of one message returns after its message's ``delay_s``."""

    async def invoke(self, function: str, event: dict, label: str = "") -> None:
        self.calls += 1
        await asyncio.sleep(json.loads(event["Records"][0]["body"])["delay_s"])


async def test_deletes_of_batches_ending_within_the_linger_go_in_one_call(monkeypatch):
    monkeypatch.setattr("wslocal.eventsources.sqs_queues.DELETE_LINGER_S", 0.5)
    queue, function = SlowDeletingQueue(messages=5), StaggeredFunction()
    for index, message in enumerate(queue._messages):  # a room's shards, ending 30 ms apart
        message["Body"] = json.dumps({"delay_s": 0.03 * index})
    task = start_polling(queue, function, concurrency=8)
    try:
        async with asyncio.timeout(10):
            while not queue.deleted:
                await asyncio.sleep(0.01)
    finally:
        await stop(task)
    assert queue.deleted == [["r0", "r1", "r2", "r3", "r4"]]


async def test_a_stop_during_the_linger_deletes_what_waits(monkeypatch):
    monkeypatch.setattr("wslocal.eventsources.sqs_queues.DELETE_LINGER_S", 60)
    queue, function = SlowDeletingQueue(messages=2), QuickFunction()
    task = start_polling(queue, function, queue_model=LONG_VISIBILITY)
    await wait_for_calls(function, 2)
    async with asyncio.timeout(5):  # not the linger's 60 s
        await stop(task)
    assert sorted(handle for call in queue.deleted for handle in call) == ["r0", "r1"]


class TrackingQueue(SharingQueue):
    """A SharingQueue whose receives take a round trip, noting how many are in flight."""

    async def receive_message(self, **kwargs: object) -> dict:
        self.receiving += 1
        self.most_receiving = max(self.most_receiving, self.receiving)
        try:
            await asyncio.sleep(0.01)
            return await super().receive_message(**kwargs)
        finally:
            self.receiving -= 1


class UnevenFunction(SlowFunction):
    """Batches that end one at a time: their slots come free one by one."""

    async def invoke(self, function: str, event: dict, label: str = "") -> None:
        self.calls += 1
        await asyncio.sleep(0.03 + 0.02 * (self.calls % 4))


async def test_no_receiver_is_added_while_one_receive_may_fill_every_free_slot():
    queue, function = TrackingQueue(messages=40), UnevenFunction()
    task = start_polling(queue, function, concurrency=4)
    try:
        await wait_for_calls(function, 40)
    finally:
        await stop(task)
    assert queue.most_receiving == 1  # 4 slots: one receive may bring a batch for each


async def test_receivers_join_when_a_receive_brings_all_one_receive_may():
    tens = SqsSourceModel(**{**SOURCE.__dict__, "batch_size": 10})
    queue, function = TrackingQueue(messages=60), SlowFunction()
    task = start_polling(queue, function, concurrency=4, source=tens)
    try:
        await wait_for_calls(function, 6)
    finally:
        await stop(task)
    assert queue.most_receiving > 1  # ten messages, one batch of ten: a backlog


async def test_added_receivers_leave_once_the_backlog_is_drained():
    tens = SqsSourceModel(**{**SOURCE.__dict__, "batch_size": 10})
    queue, function = TrackingQueue(messages=60), QuickFunction()
    task = start_polling(queue, function, concurrency=4, source=tens)
    try:
        await wait_for_calls(function, 6)
        joined = queue.most_receiving
        await asyncio.sleep(0.6)  # the added receivers' long polls came back empty
        queue.most_receiving = 0
        await asyncio.sleep(0.6)
    finally:
        await stop(task)
    assert joined > 1 and queue.most_receiving == 1
