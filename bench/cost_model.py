"""Production cost model of one chat message, inline against sharded, by room size.

    .venv/bin/python bench/cost_model.py [--post-cpu-ms 0.10] [--memory-mb 1024]

From the measured client CPU per ``PostToConnection`` (``bench/post_cost.py``: 0.10 ms
for the layer's signed keep-alive post since issue 24, 0.49 ms before it, 1.72 ms for
botocore's client, on this machine's core) and AWS's published prices and quotas
(us-east-1, arm64, as of 2026-11):

- Lambda: $0.0000133334 per GB-second (arm64), $0.20 per million requests; CPU in
  proportion to memory, 1 vCPU at 1,769 MB; 1,000 concurrent executions per account.
- API Gateway WebSocket: $1.00 per million messages (each post to a member is one, and
  the sender's frame), metered in 32 KB; account throttle 10,000 requests/s shared by all
  APIs of the Region (the ceiling on posts per second).
- SQS standard: $0.40 per million requests (one SendMessageBatch of up to 10 shards, and
  per shard one receive and one delete, as Lambda's poller batches them with BatchSize 1).
- DynamoDB on demand: $0.125 per million read request units ($0.625 per million writes);
  the room's Query reads the index at ~70 bytes per member, eventually consistent.

The delivery guarantee (``chatroom.delivery``) is priced on its own line: one more write
per message (the hand-off mark), its time in the sender's invocation, DeliveryWatchFunction
invoked once per stream batch (the stream's reads are free to a Lambda trigger), and for
the messages whose mark falls outside their INSERT's batch an overdue check (one SQS send,
receive and delete, one FanOutFunction invocation, one consistent GetItem).

Assumptions stated in the output: fixed work per invocation, an SQS-to-Lambda hop of
about 50 ms, and shards running at most ``FanOutMaximumConcurrency`` at once.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

LAMBDA_GB_SECOND = 0.0000133334
LAMBDA_REQUEST = 0.20 / 1e6
WEBSOCKET_MESSAGE = 1.00 / 1e6
SQS_REQUEST = 0.40 / 1e6
DYNAMODB_READ_UNIT = 0.125 / 1e6
DYNAMODB_WRITE_UNIT = 0.625 / 1e6
VCPU_MB = 1769
POSTS_PER_SECOND_QUOTA = 10_000
INDEX_BYTES_PER_MEMBER = 70
QUERY_PAGE_BYTES = 1024 * 1024
QUERY_PAGE_MS = 15.0
FIXED_MS = 25.0
"""Per invocation: GetItem, PutItem, logging, metrics."""
SQS_HOP_MS = 50.0
SEND_BATCH_MS = 10.0
INLINE_MAX = 100
SHARD_SIZE = 100
CONCURRENCY = 100
ROOMS = (100, 1_000, 10_000, 100_000)
MARK_MS = 6.0
"""The hand-off mark: one UpdateItem in the sender's invocation."""
WATCH_MEMORY_GB = 0.25
WATCH_MS = 20.0
"""One DeliveryWatchFunction invocation (a batch; few of its records need a check)."""


@dataclass
class Cost:
    posts: int
    shards: int
    invocations: int
    gb_seconds: float
    dollars_per_million: float
    wall_ms: float
    note: str = ""


def query_ms(members: int) -> float:
    pages = max(1, math.ceil(members * INDEX_BYTES_PER_MEMBER / QUERY_PAGE_BYTES))
    return pages * QUERY_PAGE_MS


def read_units(members: int) -> float:
    return math.ceil(members * INDEX_BYTES_PER_MEMBER / 4096) * 0.5 + 0.5  # + GetItem


def cost(members: int, post_ms: float, memory_gb: float, sharded: bool) -> Cost:
    posts = members - 1
    sender_ms = FIXED_MS + query_ms(members)
    dollars = (posts + 1) * WEBSOCKET_MESSAGE + read_units(members) * DYNAMODB_READ_UNIT
    dollars += DYNAMODB_WRITE_UNIT  # the message stored in the history
    if not sharded:
        duration = sender_ms + posts * post_ms
        gb_s = duration / 1000 * memory_gb
        dollars += gb_s * LAMBDA_GB_SECOND + LAMBDA_REQUEST
        rate_ms = posts / POSTS_PER_SECOND_QUOTA * 1000
        return Cost(posts, 0, 1, gb_s, dollars * 1e6, max(duration, rate_ms))
    shards = math.ceil(posts / SHARD_SIZE)
    batches = math.ceil(shards / 10)
    sender = sender_ms + batches * SEND_BATCH_MS
    shard_ms = FIXED_MS + SHARD_SIZE * post_ms
    gb_s = (sender + shards * shard_ms) / 1000 * memory_gb
    dollars += gb_s * LAMBDA_GB_SECOND + (1 + shards) * LAMBDA_REQUEST
    dollars += (batches + 2 * shards) * SQS_REQUEST
    waves = math.ceil(shards / CONCURRENCY)
    wall = sender + SQS_HOP_MS + waves * shard_ms
    rate_ms = posts / POSTS_PER_SECOND_QUOTA * 1000
    note = "throttle-bound" if rate_ms > wall else ""
    return Cost(posts, shards, 1 + shards, gb_s, dollars * 1e6, max(wall, rate_ms), note)


@dataclass
class GuaranteeCost:
    messages_per_batch: int
    checked_fraction: float
    dollars_per_million: float


def guarantee_cost(
    messages_per_batch: int, checked_fraction: float, sender_memory_gb: float
) -> GuaranteeCost:
    """What the promise adds to one message, in dollars per million messages."""
    dollars = DYNAMODB_WRITE_UNIT  # the mark
    dollars += MARK_MS / 1000 * sender_memory_gb * LAMBDA_GB_SECOND
    watch = LAMBDA_REQUEST + WATCH_MS / 1000 * WATCH_MEMORY_GB * LAMBDA_GB_SECOND
    dollars += watch / messages_per_batch
    check = 3 * SQS_REQUEST + LAMBDA_REQUEST + DYNAMODB_READ_UNIT
    check += FIXED_MS / 1000 * sender_memory_gb * LAMBDA_GB_SECOND
    dollars += checked_fraction * check
    return GuaranteeCost(messages_per_batch, checked_fraction, dollars * 1e6)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--post-cpu-ms", type=float, default=0.10)
    parser.add_argument("--memory-mb", type=int, default=1024)
    args = parser.parse_args()
    memory_gb = args.memory_mb / 1024
    # CPU-bound posting runs at the share of a vCPU the memory buys.
    post_ms = args.post_cpu_ms / min(1.0, args.memory_mb / VCPU_MB)
    print(f"per post {args.post_cpu_ms} ms of CPU -> {post_ms:.2f} ms at {args.memory_mb} MB; "
          f"shards of {SHARD_SIZE}, at most {CONCURRENCY} at once")  # fmt: skip
    header = ("room", "path", "posts", "shards", "invocations", "GB-s",
              "$ per 1M messages", "wall time")  # fmt: skip
    print(" | ".join(header))
    for members in ROOMS:
        for sharded in (False, True):
            c = cost(members, post_ms, memory_gb, sharded)
            path = "sharded" if sharded else "inline"
            if not sharded and members > INLINE_MAX:
                path += " (not used)"
            wall = f"{c.wall_ms / 1000:.2f} s" + (f" ({c.note})" if c.note else "")
            print(f"{members:,} | {path} | {c.posts:,} | {c.shards:,} | {c.invocations:,} | "
                  f"{c.gb_seconds:.3f} | ${c.dollars_per_million:,.0f} | {wall}")  # fmt: skip
    print()
    print("the delivery guarantee, added to every message whatever the room:")
    print("messages per stream batch | share checked | $ per 1M messages")
    for per_batch, checked in ((1, 1.0), (1, 0.05), (20, 0.05), (500, 0.01)):
        g = guarantee_cost(per_batch, checked, memory_gb)
        print(f"{g.messages_per_batch:,} | {g.checked_fraction:.0%} | "
              f"${g.dollars_per_million:,.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
