"""The TTL sweeper's pace, and the bookkeeping that lets stream records say a removal
was DynamoDB's."""

import asyncio
import itertools

import pytest
from botocore.exceptions import ClientError

from wslocal.engines import ttl
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


def test_after_a_short_scan_the_next_sweep_comes_after_the_interval():
    assert wait_after(Sweep(scan_s=0.1), interval_s=10) == 10


def test_a_long_scan_puts_the_next_sweep_off_so_scanning_keeps_to_its_share():
    scan_s = 2.0
    wait_s = wait_after(Sweep(scan_s=scan_s), interval_s=10)
    assert wait_s > 10
    assert scan_s / (scan_s + wait_s) == pytest.approx(SWEEP_SHARE)


def test_sweeps_add_up_over_tables():
    assert Sweep(1, 2, 0.5) + Sweep(3, 1, 0.25) == Sweep(4, 3, 0.75)


class EmptyTable:
    """A client whose every Scan page is empty; ``failing`` Scans raise first."""

    def __init__(self, failing: int = 0) -> None:
        self.failing = failing

    def scan(self, **request: object) -> dict[str, object]:
        if self.failing:
            self.failing -= 1
            raise ClientError({"Error": {"Code": "InternalServerError"}}, "Scan")
        return {"Items": []}


async def waits_of(client: EmptyTable, sleeps: int, monkeypatch: pytest.MonkeyPatch) -> list:
    """The sweeper's waits between sweeps, each Scan page taking 1 s by its timer."""
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == sleeps:
            raise asyncio.CancelledError

    monkeypatch.setattr(ttl.asyncio, "sleep", sleep)
    ticks = itertools.count()
    sweeper = TtlSweeper(
        client,
        [TtlTable("T", "ttl", ("k",))],
        TtlDeletions(),
        clock=lambda: 1_000_000,
        interval_s=10,
        timer=lambda: float(next(ticks)),
    )
    with pytest.raises(asyncio.CancelledError):
        await sweeper.run()
    return waits


async def test_the_sweeper_waits_longer_after_a_scan_that_took_long(monkeypatch):
    assert await waits_of(EmptyTable(), 3, monkeypatch) == [10, 19, 19]


async def test_after_a_failed_sweep_the_sweeper_tries_again_after_the_interval(monkeypatch):
    assert await waits_of(EmptyTable(failing=1), 3, monkeypatch) == [10, 10, 19]
