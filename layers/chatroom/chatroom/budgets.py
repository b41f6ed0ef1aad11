"""Time budgets that add up: what each step after the store may take, and what an
invocation keeps for them.

A function that posts to a room stops starting posts when the time left is ``RESERVE_S``:
that covers one worst-case post already under way, queueing every member not yet posted,
marking the message handed off, and removing the connections that are gone, in that
order. Each step is bounded by its ``RetryPolicy`` (``chatroom.retry``), and the clients
these steps use make one attempt per call with the timeouts below, so no call outlives
its step. Functions that post need a timeout well above ``RESERVE_S`` (the template gives
them 30 s, so they post for the first 8 s at least).
"""

from __future__ import annotations

from botocore.config import Config

from chatroom.retry import RetryPolicy

CONNECT_TIMEOUT_S = 1.0
AWS_READ_TIMEOUT_S = 2.0
"""DynamoDB and SQS answer in milliseconds; 2 s is a brownout, worth a new attempt."""
AWS_ATTEMPT_S = CONNECT_TIMEOUT_S + AWS_READ_TIMEOUT_S

POST = RetryPolicy(attempts=3, budget_s=4.0, attempt_timeout_s=3.0)
"""One post: a Management API that takes 2.5 s still delivers; a 5xx is tried again."""
QUEUE = RetryPolicy(attempts=3, budget_s=2 * AWS_ATTEMPT_S, attempt_timeout_s=AWS_ATTEMPT_S)
"""Queueing the members left (SendMessageBatch; refused entries sent again)."""
MARK = RetryPolicy(attempts=2, budget_s=2 * AWS_ATTEMPT_S, attempt_timeout_s=AWS_ATTEMPT_S)
"""Marking the message handed off (one UpdateItem)."""
CLEAN_UP = RetryPolicy(attempts=3, budget_s=2 * AWS_ATTEMPT_S, attempt_timeout_s=AWS_ATTEMPT_S)
"""Removing the connections that answered 410 (BatchWriteItem, unprocessed items resent)."""

RESERVE_S = POST.budget_s + QUEUE.budget_s + MARK.budget_s + CLEAN_UP.budget_s
"""No post starts with less time left than this."""

ONE_ATTEMPT = Config(
    connect_timeout=CONNECT_TIMEOUT_S,
    read_timeout=AWS_READ_TIMEOUT_S,
    retries={"total_max_attempts": 1},
)
"""The clients of the steps after the store: ``chatroom.retry`` decides on retries."""
BEFORE_THE_STORE = Config(
    connect_timeout=CONNECT_TIMEOUT_S,
    read_timeout=5.0,
    retries={"total_max_attempts": 3, "mode": "standard"},
)
"""The DynamoDB client of reads and of the store itself: a failure there loses nothing
(the sender is answered, or the backstop delivers), so botocore's standard retries are
enough. The room's Query after the store uses it too: if it fails, the sender is told."""
