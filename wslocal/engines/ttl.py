"""Time to live, which DynamoDB Local never applies: the stage deletes expired items.

The sweeper deletes an item only while it is still expired (a conditional delete), as
the service would, so the table's stream carries the removal. It notes each key it
deletes in ``TtlDeletions``; the stream source marks the matching REMOVE record with the
service's ``userIdentity``, as Lambda receives it for a TTL deletion.

Finding expired items is a Scan of the whole table, and DynamoDB Local answers one
request at a time from its one SQLite thread: a sweep reads pages of
``SWEEP_PAGE_ITEMS`` so a handler's call waits about a page, and each table's next sweep
waits long enough that scanning it takes at most ``SWEEP_SHARE`` of the time (AWS
deletes expired items within days, not seconds, so a late sweep is still faithful).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from wslocal.defaults import DEFAULT_SWEEP_INTERVAL_S as DEFAULT_SWEEP_INTERVAL_S

log = logging.getLogger("wslocal")


def keys_id(keys: Mapping[str, Any]) -> str:
    """One string per item key, the same from a Scan and from a stream record (binary
    key values in base64)."""

    def binary(value: object) -> str:
        if isinstance(value, bytes | bytearray):
            return base64.b64encode(value).decode("ascii")
        raise TypeError(f"{type(value).__name__} in a key")

    return json.dumps(keys, sort_keys=True, separators=(",", ":"), default=binary)


STREAM_RETENTION_S = 24 * 3600.0
"""A stream keeps a record 24 hours: a deletion no reader claimed by then never will be."""
MAX_NOTED_DELETIONS = 100_000
SWEEP_PAGE_ITEMS = 1000
"""Items a sweep's Scan reads per page. DynamoDB Local's own pages (1 MB) cost more as
the table grows and hold every other call for their whole read: 40,000 items took 2.6 s
in 7 pages against 1.5 s in 41 pages of 1,000, and a GetItem beside them waited up to
656 ms against 40 (docs/benchmarks.md, "The TTL sweep")."""
SWEEP_SHARE = 0.05
"""The largest share of the time spent scanning one table: after a scan of ``s``
seconds its next sweep waits at least ``s / SWEEP_SHARE - s``."""


class TtlDeletions:
    """Keys the sweeper deleted and no stream record has claimed yet. Bounded: a key
    is forgotten after the stream's retention, and the oldest go first past
    ``max_keys`` (a table whose stream nobody reads would otherwise grow it for ever)."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        max_age_s: float = STREAM_RETENTION_S,
        max_keys: int = MAX_NOTED_DELETIONS,
    ) -> None:
        self._clock = clock
        self._max_age_s = max_age_s
        self._max_keys = max_keys
        self._keys: OrderedDict[tuple[str, str], float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, table_name: str, key: str) -> None:
        now = self._clock()
        self._keys[(table_name, key)] = now
        self._keys.move_to_end((table_name, key))
        while self._keys and (
            len(self._keys) > self._max_keys
            or next(iter(self._keys.values())) < now - self._max_age_s
        ):
            self._keys.popitem(last=False)

    def discard(self, table_name: str, key: str) -> None:
        self._keys.pop((table_name, key), None)

    def claim(self, table_name: str, key: str) -> bool:
        """True once for a key the sweeper deleted: its REMOVE record is a TTL one."""
        return self._keys.pop((table_name, key), None) is not None


@dataclass(frozen=True)
class TtlTable:
    table_name: str
    ttl_attribute: str
    key_names: tuple[str, ...]


@dataclass(frozen=True)
class Sweep:
    """What one sweep did."""

    deleted: int = 0
    pages: int = 0
    scan_s: float = 0.0
    """Time spent waiting for the Scan's pages (deletes apart: they are the expired
    items' own work, done once)."""

    def __add__(self, other: Sweep) -> Sweep:
        return Sweep(
            self.deleted + other.deleted, self.pages + other.pages, self.scan_s + other.scan_s
        )


def wait_after(scan_s: float, interval_s: float) -> float:
    """How long a table waits for its next sweep: ``interval_s``, or longer when its
    last scan took long enough that sweeping it every ``interval_s`` would take more
    than ``SWEEP_SHARE`` of the time."""
    return max(interval_s, scan_s / SWEEP_SHARE - scan_s)


class TtlSweeper:
    """Deletes the items whose TTL attribute (epoch seconds) is in the past."""

    def __init__(
        self,
        client: Any,
        tables: Iterable[TtlTable],
        deletions: TtlDeletions,
        clock: Callable[[], float],
        interval_s: float = DEFAULT_SWEEP_INTERVAL_S,
        *,
        timer: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._client = client
        self._tables = tuple(tables)
        self._deletions = deletions
        self._clock = clock
        """Epoch seconds, which TTL attributes hold."""
        self._timer = timer
        """What paces the sweeps (and times the scans)."""
        self._sleep = sleep
        self.interval_s = interval_s

    @property
    def tables(self) -> tuple[TtlTable, ...]:
        return self._tables

    async def run(self) -> None:
        """Sweep each table until cancelled, every interval or less often
        (``wait_after``, per table: one large table does not hold back the others). An
        error is logged, not fatal, and its time counts as scanning; the other tables
        keep their pace. Cancelled, the sweep under way stops at its next page or
        delete."""
        stop = threading.Event()
        due = {table: self._timer() + self.interval_s for table in self._tables}
        try:
            while due:
                table = min(due, key=due.__getitem__)
                await self._sleep(max(0.0, due[table] - self._timer()))
                began = self._timer()
                try:
                    scan_s = (await asyncio.to_thread(self._sweep_table, table, stop)).scan_s
                except (BotoCoreError, ClientError) as exc:
                    log.warning("TTL sweep of %s failed: %s", table.table_name, exc)
                    scan_s = self._timer() - began
                except Exception:
                    log.exception("TTL sweep of %s failed", table.table_name)
                    scan_s = self._timer() - began
                due[table] = self._timer() + wait_after(scan_s, self.interval_s)
        finally:
            stop.set()

    def sweep(self, until: threading.Event | None = None) -> Sweep:
        """Delete what has expired now in every table; once ``until`` is set, stop at
        the next page or delete."""
        swept = Sweep()
        for table in self._tables:
            swept += self._sweep_table(table, until or threading.Event())
        return swept

    def _sweep_table(self, table: TtlTable, until: threading.Event) -> Sweep:
        scan: dict[str, Any] = {
            "TableName": table.table_name,
            "Limit": SWEEP_PAGE_ITEMS,
            "FilterExpression": "#ttl < :now",
            "ExpressionAttributeNames": {"#ttl": table.ttl_attribute},
            "ExpressionAttributeValues": {":now": {"N": str(int(self._clock()))}},
        }
        deleted = pages = 0
        scan_s = 0.0
        while not until.is_set():
            began = self._timer()
            page = self._client.scan(**scan)
            scan_s += self._timer() - began
            pages += 1
            for item in page.get("Items", []):
                if until.is_set():
                    break
                keys = {name: item[name] for name in table.key_names}
                key = keys_id(keys)
                self._deletions.add(table.table_name, key)
                try:
                    self._client.delete_item(
                        TableName=table.table_name, Key=keys, ConditionExpression="#ttl < :now",
                        ExpressionAttributeNames=scan["ExpressionAttributeNames"],
                        ExpressionAttributeValues=scan["ExpressionAttributeValues"],
                    )  # fmt: skip
                except self._client.exceptions.ConditionalCheckFailedException:
                    self._deletions.discard(table.table_name, key)
                    continue
                deleted += 1
            if "LastEvaluatedKey" not in page:
                break
            scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        if deleted:
            log.info("TTL: deleted %d expired item(s) of %s", deleted, table.table_name)
        return Sweep(deleted, pages, scan_s)
