"""The rules Lambda's event source mappings apply to a batch, as pure functions.

When a batch is ready, what a function's answer means (``batchItemFailures``: a queue
keeps exactly the listed messages, a stream resumes from the lowest), and what happens
after a stream batch fails: retry from the first failed record, bisect, or give up and
describe the records to the on-failure destination. The pollers do the I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

R = TypeVar("R")

RETRY_ATTEMPTS_EXHAUSTED = "RetryAttemptsExhausted"
RECORD_AGE_EXCEEDED = "RecordAgeExceeded"
FIRST_RETRY_DELAY_S = 0.1
LONGEST_RETRY_DELAY_S = 5.0


@dataclass(frozen=True)
class RetryPolicy:
    """The mapping's error handling; -1 means no limit, as in Lambda's API."""

    maximum_retry_attempts: int = -1
    maximum_record_age_s: int = -1
    bisect_on_error: bool = False
    report_item_failures: bool = False


@dataclass(frozen=True)
class Attempt(Generic[R]):
    """Records to invoke the function with, and how many retries they have had."""

    records: tuple[R, ...]
    retries: int = 0


@dataclass(frozen=True)
class Discarded(Generic[R]):
    """Records Lambda gave up on, and why (the on-failure record's ``condition``)."""

    records: tuple[R, ...]
    condition: str
    retries: int


@dataclass(frozen=True)
class Plan(Generic[R]):
    """What to do after a failed invocation: attempts to run first, in order, and what
    was given up."""

    then: tuple[Attempt[R], ...] = ()
    discarded: Discarded[R] | None = None
    bisected: bool = False


def batch_ready(
    buffered: int, batch_size: int, first_buffered_s: float, now_s: float, window_s: float
) -> bool:
    """A batch goes out when it is full or its batching window has passed."""
    return buffered > 0 and (buffered >= batch_size or now_s - first_buffered_s >= window_s)


def failed_positions(
    result: Any, identifiers: Sequence[str], policy: RetryPolicy
) -> frozenset[int] | None:
    """Positions of the records a function's ``result`` reports as failed; None when the
    whole batch succeeded.

    Without ``ReportBatchItemFailures`` any result is success. With it, nothing, ``{}``
    or an empty list is success; an answer Lambda cannot read (an unknown or empty
    identifier, a wrong shape) fails the whole batch.
    """
    if not policy.report_item_failures or result is None:
        return None
    everything = frozenset(range(len(identifiers)))
    if not isinstance(result, Mapping):
        return everything
    failures = result.get("batchItemFailures")
    if not failures:
        return None
    if not isinstance(failures, list):
        return everything
    position = {identifier: index for index, identifier in enumerate(identifiers)}
    indexes = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, Mapping) else None
        if identifier not in position:
            return everything
        indexes.add(position[identifier])
    return frozenset(indexes)


def first_failure(result: Any, identifiers: Sequence[str], policy: RetryPolicy) -> int | None:
    """Index of the first record to retry after a function returned ``result`` (a stream
    resumes from the lowest reported record); None when the whole batch succeeded."""
    failed = failed_positions(result, identifiers, policy)
    if failed is None:
        return None
    return min(failed, default=0)


def after_failure(
    attempt: Attempt[R], failed_from: int, function_error: bool, policy: RetryPolicy
) -> Plan[R]:
    """Records before ``failed_from`` are done. A function error on several records is
    bisected when the mapping says so (that costs no retry); otherwise the rest is
    retried until the retry limit, then discarded."""
    rest = attempt.records[failed_from:]
    if function_error and policy.bisect_on_error and len(rest) > 1:
        half = len(rest) // 2
        return Plan(
            then=(Attempt(rest[:half], attempt.retries), Attempt(rest[half:], attempt.retries)),
            bisected=True,
        )
    retries = attempt.retries + 1
    if 0 <= policy.maximum_retry_attempts < retries:
        return Plan(discarded=Discarded(rest, RETRY_ATTEMPTS_EXHAUSTED, attempt.retries))
    return Plan(then=(Attempt(rest, retries),))


def split_expired(
    records: Sequence[R], created_s: Callable[[R], float], now_s: float, policy: RetryPolicy
) -> tuple[tuple[R, ...], tuple[R, ...]]:
    """(records still young enough, records past ``MaximumRecordAgeInSeconds``)."""
    if policy.maximum_record_age_s < 0:
        return tuple(records), ()
    oldest_allowed = now_s - policy.maximum_record_age_s
    kept = tuple(record for record in records if created_s(record) >= oldest_allowed)
    expired = tuple(record for record in records if created_s(record) < oldest_allowed)
    return kept, expired


def retry_delay_s(retries: int) -> float:
    """Back off between retries of the same records: 0.1 s doubling, at most 5 s."""
    return float(min(FIRST_RETRY_DELAY_S * 2 ** max(retries - 1, 0), LONGEST_RETRY_DELAY_S))
