"""RateLimiter: at most N messages per sender in each window of W seconds.

A sender is counted by ``Connection.rate_key`` (``chatroom.senders``): the verified user
when sign-in is on, else the address alone, so neither a reconnect nor a new display name
starts a new count. A counter per sender and
window, kept in DynamoDB (any execution environment may handle the next message), with
conditional updates, so concurrent sends cannot pass the limit together; a refused send
costs one conditional write (the failed one returns the counter it found). The counters
live in the messages table under their own partition (``#rate#<sender>``), never in the
connections table: an update there would be a record on its stream, and an invocation
of the presence function for every message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

DEFAULT_LIMIT = 20
DEFAULT_WINDOW_S = 10
SORT_KEY = "#rate"


def rate_key(sender: str) -> str:
    return f"#rate#{sender}"


@dataclass(frozen=True)
class RateLimit:
    limit: int = DEFAULT_LIMIT
    """Messages a connection may send per window; 0 turns the limit off."""
    window_s: int = DEFAULT_WINDOW_S


class RateLimiter:
    def __init__(self, table: Any, rate: RateLimit | None = None) -> None:
        self._table = table
        self._rate = rate or RateLimit()

    @property
    def rate(self) -> RateLimit:
        return self._rate

    def admit(self, sender: str, now_s: float) -> bool:
        """Count one message of ``sender`` (``sender_key``); False when its window is full."""
        if self._rate.limit <= 0:
            return True
        window = int(now_s // self._rate.window_s)
        key = {"room": rate_key(sender), "messageId": SORT_KEY}
        # One more in the current window; a full current window is refused at once (the
        # failed write says so); else start the window; else (another send just started
        # it) one more again. Each step is one conditional write, atomic in DynamoDB, so
        # concurrent sends can neither pass the limit nor be refused under it.
        counted, found_window = self._count(key, window)
        if counted:
            return True
        if found_window == window:
            return False
        return self._start_window(key, window) or self._count(key, window)[0]

    def _count(self, key: dict[str, str], window: int) -> tuple[bool, int | None]:
        """Counted, or not and the window the counter was in (None: no counter)."""
        try:
            self._table.update_item(
                Key=key,
                UpdateExpression="SET sent = sent + :one",
                ConditionExpression="rateWindow = :window AND sent < :limit",
                ExpressionAttributeValues={
                    ":one": 1,
                    ":window": window,
                    ":limit": self._rate.limit,
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not _condition_failed(exc):
                raise
            found: Any = exc.response.get("Item") or {}  # the counter, low-level typed
            window_found = found.get("rateWindow") or {}
            return False, int(window_found["N"]) if "N" in window_found else None
        return True, None

    def _start_window(self, key: dict[str, str], window: int) -> bool:
        expires = (window + 2) * self._rate.window_s  # TTL: gone soon after its window
        try:
            self._table.update_item(
                Key=key,
                UpdateExpression="SET rateWindow = :window, sent = :one, #ttl = :ttl",
                ConditionExpression="attribute_not_exists(rateWindow) OR rateWindow < :window",
                ExpressionAttributeNames={"#ttl": "ttl"},
                ExpressionAttributeValues={":one": 1, ":window": window, ":ttl": expires},
            )
        except ClientError as exc:
            if not _condition_failed(exc):
                raise
            return False
        return True


def _condition_failed(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"
