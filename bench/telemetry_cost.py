"""CPU per invocation of FanOutFunction's logs and metrics, warm and with cold caches (issue 24).

    .venv/bin/python bench/telemetry_cost.py [--invocations 400]

What a FanOut invocation runs of Powertools and of the stage's runtime lines, without the
posts: the layer's ``queue_handler`` (``inject_lambda_context``, ``log_metrics`` and its EMF
flush) around what ``ShardPoster.post_shard`` logs (five ``count`` calls, one
``logger.info`` with the shard's fields), then the runtime's START, END and REPORT lines
(``wslocal.runtime.bootstrap._log``). Each line goes to a pipe that another process
drains, as a worker's stdout does on the stage, buffered as the bootstrap sets it. Each
kind is timed two ways, CPU per invocation (``time.process_time_ns``, median): in a warm
loop, and with the caches evicted before each invocation (32 MiB touched and some
unrelated Python run, as a shard's 100 posts and the other processes on the core do
between two invocations). Each row runs in a process of its own with Powertools'
variables as the template sets them (``quiet``: logs at WARNING and
``POWERTOOLS_METRICS_DISABLED``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EVICTED_BYTES = 32 << 20
KINDS = ("as deployed", "quiet", "runtime lines")
FIELDS = {"recipients": 100, "delivered": 100, "gone": 0, "failed": 0, "shards": 0}


class Context:
    """The fields of the Lambda context Powertools reads."""

    function_name = "FanOutFunction"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:FanOutFunction"
    aws_request_id = "0b3e6f55-2f8e-4a57-9d0e-6a1c2b3d4e5f"

    def get_remaining_time_in_millis(self) -> int:
        return 9000


def powertools_invocation() -> Callable[[], Any]:
    """One FanOut invocation's Powertools work, through the layer's own wrapper."""
    sys.path.insert(0, str(ROOT / "layers" / "chatroom"))
    from chatroom.telemetry import Remaining, count, logger, metrics, queue_handler

    def consume(event: dict[str, Any], remaining: Remaining) -> dict[str, Any]:
        logger.append_keys(room="bench")
        for name, value in (("Shards", 1), ("Deliveries", 100), ("GoneConnectionsRemoved", 0),
                            ("FailedDeliveries", 0), ("ShardsRequeued", 0)):  # fmt: skip
            count(metrics, name, value)
        logger.info("shard posted", extra={**FIELDS, "fanout_ms": 4.2, "attempt": 1})
        return {"batchItemFailures": []}

    handler = queue_handler(consume)
    return lambda: handler({"Records": []}, Context())


def runtime_lines() -> Callable[[], Any]:
    """The START, END and REPORT lines a worker's bootstrap writes around each invocation,
    as ``serve`` writes them."""
    from wslocal.runtime.bootstrap import LOG_PREFIX, _log

    prefix = os.environ.get(LOG_PREFIX, "")

    def lines() -> None:
        _log(
            "START RequestId: 0b3e6f55-2f8e-4a57-9d0e-6a1c2b3d4e5f Version: $LATEST", prefix=prefix
        )
        _log(
            "END RequestId: 0b3e6f55-2f8e-4a57-9d0e-6a1c2b3d4e5f",
            "REPORT RequestId: 0b3e6f55-2f8e-4a57-9d0e-6a1c2b3d4e5f\tDuration: 4.21 ms\t"
            "Billed Duration: 5 ms\tMemory Size: 256 MB\tMax Memory Used: 61 MB",
            prefix=prefix,
        )

    return lines


def evict(buffer: bytearray) -> None:
    """Touch every cache line of ``buffer`` and run some unrelated Python."""
    for offset in range(0, len(buffer), 64):
        buffer[offset] ^= 1
    {str(n): n for n in range(20_000)}


def measure(kind: str, invocations: int, cold: bool) -> float:
    """Median CPU µs of one invocation of ``kind``, in this process, its stdout as a
    worker's bootstrap sets it."""
    from wslocal.runtime.bootstrap import write_whole_lines

    write_whole_lines(sys.stdout)
    invocation = runtime_lines() if kind == "runtime lines" else powertools_invocation()
    buffer = bytearray(EVICTED_BYTES)
    spent = []
    for _ in range(invocations):
        if cold:
            evict(buffer)
        started = time.process_time_ns()
        invocation()
        spent.append(time.process_time_ns() - started)
    return statistics.median(spent[5:]) / 1000


def run_row(kind: str, invocations: int, cold: bool) -> float:
    """``measure`` in a child process whose stdout is a pipe that ``cat`` drains."""
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",  # as the stage starts a worker
        "PYTHONPATH": str(ROOT),
        "POWERTOOLS_SERVICE_NAME": "chat",
        "POWERTOOLS_METRICS_NAMESPACE": "ServerlessChat",
        "POWERTOOLS_LOG_LEVEL": "WARNING" if kind == "quiet" else "INFO",
        "WSLOCAL_LOG_PREFIX": "[FanOutFunction] ",
    }
    if kind == "quiet":
        env["POWERTOOLS_METRICS_DISABLED"] = "true"
    drain = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    try:
        child = subprocess.run(
            [sys.executable, __file__, "--child", kind, str(invocations), str(int(cold))],
            env=env, stdout=drain.stdin, stderr=subprocess.PIPE, text=True, check=True,
        )  # fmt: skip
    finally:
        assert drain.stdin is not None
        drain.stdin.close()
        drain.wait()
    return float(child.stderr.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invocations", type=int, default=400)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, invocations, cold = args.child
        print(measure(kind, int(invocations), cold == "1"), file=sys.stderr)
        return
    print(f"{sys.executable} ({sys.version.split()[0]}), {args.invocations} invocations a row")
    print("| per invocation, CPU µs (median) | warm loop | caches evicted before each |")
    print("| --- | ---: | ---: |")
    for kind in KINDS:
        warm = run_row(kind, args.invocations, cold=False)
        cold = run_row(kind, args.invocations, cold=True)
        print(f"| {kind} | {warm:.1f} | {cold:.1f} |")
    print(f"load average: {' '.join(f'{load:.2f}' for load in os.getloadavg())}")


if __name__ == "__main__":
    main()
