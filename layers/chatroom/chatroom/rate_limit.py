"""RateLimiter: at most N messages per connection in each window of W seconds.

A counter per connection and window, kept in DynamoDB (any execution environment may
handle the next message), with conditional updates, so concurrent sends cannot pass the
limit together. The counters live in the messages table under their own partition
(``#rate#<connectionId>``), never in the connections table: an update there would be a
record on its stream, and an invocation of the presence function for every message.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

DEFAULT_LIMIT = 20
DEFAULT_WINDOW_S = 10
SORT_KEY = "#rate"


def rate_key(connection_id: str) -> str:
    return f"#rate#{connection_id}"


@dataclass(frozen=True)
class RateLimit:
    limit: int = DEFAULT_LIMIT
    """Messages a connection may send per window; 0 turns the limit off."""
    window_s: int = DEFAULT_WINDOW_S

    @classmethod
    def from_environment(cls) -> RateLimit:
        return cls(
            limit=int(os.environ.get("MESSAGE_RATE_LIMIT", DEFAULT_LIMIT)),
            window_s=int(os.environ.get("MESSAGE_RATE_WINDOW_SECONDS", DEFAULT_WINDOW_S)),
        )


class RateLimiter:
    def __init__(self, table: Any, rate: RateLimit | None = None) -> None:
        self._table = table
        self._rate = rate or RateLimit()

    @property
    def rate(self) -> RateLimit:
        return self._rate

    def admit(self, connection_id: str, now_s: float) -> bool:
        """Count one message of ``connection_id``; False when its window is full."""
        if self._rate.limit <= 0:
            return True
        window = int(now_s // self._rate.window_s)
        key = {"room": rate_key(connection_id), "messageId": SORT_KEY}
        # One more in the current window; else start the window; else (another send just
        # started it) one more again. Each step is one conditional write, atomic in
        # DynamoDB, so concurrent sends can neither pass the limit nor be refused under it.
        return (
            self._count(key, window) or self._start_window(key, window) or self._count(key, window)
        )

    def _count(self, key: dict[str, str], window: int) -> bool:
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
            )
        except ClientError as exc:
            if not _condition_failed(exc):
                raise
            return False
        return True

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
