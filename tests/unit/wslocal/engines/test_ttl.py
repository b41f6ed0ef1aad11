"""The TTL sweeper's pace, and the bookkeeping that lets stream records say a removal
was DynamoDB's."""

import asyncio
import threading
from typing import Any

import pytest
from botocore.exceptions import ClientError

from wslocal.engines.ttl import (
    SWEEP_SHARE,
    Sweep,
    TtlDeletions,
    TtlSweeper,
    TtlTable,
    keys_id,
    wait_after,
)


def test_keys_are_identified_the_same_whatever_their_order_and_binary_form():
    assert keys_id({"a": {"S": "1"}, "b": {"B": b"\x00"}}) == keys_id(
        {"b": {"B": b"\x00"}, "a": {"S": "1"}}
    )


def test_a_swept_key_is_claimed_once():
    deletions = TtlDeletions()
    deletions.add("t", "k")
    assert deletions.claim("t", "k")
    assert not deletions.claim("t", "k")


def test_a_key_whose_delete_did_not_happen_is_not_claimed():
    deletions = TtlDeletions()
    deletions.add("t", "k")
    deletions.discard("t", "k")
    assert not deletions.claim("t", "k")


def test_noted_deletions_are_forgotten_after_the_streams_retention():
    now = [0.0]
    deletions = TtlDeletions(clock=lambda: now[0], max_age_s=100)
    deletions.add("T", "old")
    now[0] = 150
    deletions.add("T", "new")
    assert (deletions.claim("T", "old"), deletions.claim("T", "new")) == (False, True)


def test_noted_deletions_are_bounded_oldest_first():
    deletions = TtlDeletions(max_keys=3)
    for key in "abcde":
        deletions.add("T", key)
    assert len(deletions) == 3
    assert not deletions.claim("T", "a") and deletions.claim("T", "e")


def test_after_a_short_scan_a_table_waits_the_interval():
    assert wait_after(0.1, interval_s=10) == 10


def test_after_a_long_scan_a_table_waits_so_that_scanning_keeps_to_its_share():
    scan_s = 2.0
    wait_s = wait_after(scan_s, interval_s=10)
    assert wait_s > 10
    assert scan_s / (scan_s + wait_s) == pytest.approx(SWEEP_SHARE)


class FakeTime:
    """The sweeper's clock and sleep: a sleep moves the time; past ``until`` it raises
    CancelledError, as a stage's stop would."""

    def __init__(self, until: float) -> None:
        self.now = 0.0
        self.until = until

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        if self.now > self.until:
            raise asyncio.CancelledError


class Gone(Exception):
    """The fake's ConditionalCheckFailedException."""


class ScannedTables:
    """A client of empty tables whose Scan pages each take some fake time (``pages_s``
    per table); each Scan is recorded as (table, page, time). Scans numbered in
    ``failing`` raise after taking their time."""

    class exceptions:
        ConditionalCheckFailedException = Gone

    def __init__(
        self, time: FakeTime, pages_s: dict[str, list[float]], failing: tuple[int, ...] = ()
    ) -> None:
        self.time = time
        self.pages_s = pages_s
        self.failing = failing
        self.scans: list[tuple[str, int, float]] = []

    def scan(self, TableName: str, **request: Any) -> dict[str, Any]:
        page = int(request.get("ExclusiveStartKey", {}).get("page", 0))
        self.scans.append((TableName, page, self.time.now))
        self.time.now += self.pages_s[TableName][page]
        if len(self.scans) in self.failing:
            raise ClientError({"Error": {"Code": "InternalServerError"}}, "Scan")
        answer: dict[str, Any] = {"Items": []}
        if page + 1 < len(self.pages_s[TableName]):
            answer["LastEvaluatedKey"] = {"page": page + 1}
        return answer

    def sweeps_of(self, table: str) -> list[float]:
        """When each sweep of ``table`` began (its first page)."""
        return [at for name, page, at in self.scans if name == table and page == 0]


def sweeper_of(client: Any, time: FakeTime, *tables: str) -> TtlSweeper:
    return TtlSweeper(
        client,
        [TtlTable(table, "ttl", ("k",)) for table in tables],
        TtlDeletions(),
        clock=lambda: 1_000_000,
        interval_s=10,
        timer=lambda: time.now,
        sleep=time.sleep,
    )


async def sweeps(client: ScannedTables, time: FakeTime, *tables: str) -> None:
    """Run the sweeper until the fake time passes its end."""
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(sweeper_of(client, time, *tables).run(), 5)


async def test_a_table_whose_scan_is_short_is_swept_every_interval():
    time = FakeTime(until=35)
    client = ScannedTables(time, {"T": [0.1]})
    await sweeps(client, time, "T")
    assert client.sweeps_of("T") == pytest.approx([10, 20.1, 30.2])


async def test_a_table_whose_scan_is_long_is_swept_so_that_scanning_keeps_to_its_share():
    time = FakeTime(until=95)
    client = ScannedTables(time, {"T": [1.0, 1.0]})
    await sweeps(client, time, "T")
    assert client.sweeps_of("T") == pytest.approx([10, 50, 90])


async def test_a_large_table_does_not_hold_back_the_sweeps_of_the_others():
    time = FakeTime(until=45)
    client = ScannedTables(time, {"Large": [1.0, 1.0], "Small": [0.0]})
    await sweeps(client, time, "Large", "Small")
    assert client.sweeps_of("Large") == pytest.approx([10])
    assert client.sweeps_of("Small") == pytest.approx([12, 22, 32, 42])


async def test_a_failed_sweeps_time_counts_as_scanning():
    time = FakeTime(until=95)
    client = ScannedTables(time, {"T": [2.0]}, failing=(1,))
    await sweeps(client, time, "T")
    assert client.sweeps_of("T") == pytest.approx([10, 50, 90])


class Unreadable(ScannedTables):
    """Its Scans of table ``Broken`` raise an error that is not the engine's."""

    def scan(self, TableName: str, **request: Any) -> dict[str, Any]:
        answer = super().scan(TableName, **request)
        if TableName == "Broken":
            raise KeyError("Items")
        return answer


async def test_a_table_whose_sweep_keeps_failing_does_not_hold_back_the_others():
    time = FakeTime(until=45)
    client = Unreadable(time, {"Broken": [1.0], "Fine": [0.0]})
    await sweeps(client, time, "Broken", "Fine")
    assert client.sweeps_of("Broken") == pytest.approx([10, 30])
    assert client.sweeps_of("Fine") == pytest.approx([11, 21, 31, 41])


def test_a_sweep_adds_up_every_tables_pages_and_scan_time():
    time = FakeTime(until=0)
    client = ScannedTables(time, {"A": [1.0, 2.0], "B": [0.5]})
    assert sweeper_of(client, time, "A", "B").sweep() == Sweep(0, 3, 3.5)


class BlockingFirstPage(ScannedTables):
    """Its first Scan answers an expired item and more pages, once ``release`` is set."""

    def __init__(self, time: FakeTime) -> None:
        super().__init__(time, {"T": [0.0, 0.0, 0.0]})
        self.scanning = threading.Event()
        self.release = threading.Event()
        self.deletes = 0

    def scan(self, TableName: str, **request: Any) -> dict[str, Any]:
        answer = super().scan(TableName, **request)
        self.scanning.set()
        self.release.wait(5)
        return {**answer, "Items": [{"k": {"S": "expired"}}]}

    def delete_item(self, **request: Any) -> None:
        self.deletes += 1


async def test_a_cancelled_sweeper_stops_its_sweep_at_the_next_page_or_delete():
    time = FakeTime(until=1_000)
    client = BlockingFirstPage(time)
    running = asyncio.create_task(sweeper_of(client, time, "T").run())
    assert await asyncio.to_thread(client.scanning.wait, 5)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    client.release.set()
    await asyncio.get_running_loop().shutdown_default_executor()  # the sweep's thread ended
    assert (len(client.scans), client.deletes) == (1, 0)
