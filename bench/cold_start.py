"""Cold starts of the chat's functions: workers started from scratch against forked ones.

    .venv/bin/python bench/cold_start.py [--workers 8] [--function ConnectFunction ...]

For each function, with and without the fork server: one pool on the function's prepared
runtime (its declared Python and requirements, as ``wslocal start`` runs it), its first
worker, then ``--workers`` more started one after another (what a burst of calls adds).
Prints the wall time of each start, the CPU of each of the next workers and of all the
processes (workers and fork server, from /proc) and their memory (RSS summed, and PSS,
which counts a page shared by forks once).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from pathlib import Path

from fanout import memory_mb
from profiles import cpu_seconds

from wslocal.cache import cache_dir
from wslocal.runtime import builds
from wslocal.runtime.settings import RuntimeSettings
from wslocal.runtime.workers import WorkerPool
from wslocal.template.reader import build_stage_model, read_template

ROOT = Path(__file__).resolve().parent.parent
ENDPOINTS = {
    "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:9",
    "AWS_ENDPOINT_URL_SQS": "http://127.0.0.1:9",
    "AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI": "http://127.0.0.1:9/local",
}


async def add_worker(pool: WorkerPool) -> None:
    """One more worker, started as a call that finds none idle starts it (``prewarm``
    starts a pool's first only)."""
    async with pool._available:
        pool._size += 1
    await pool._release(await pool._start())


async def measure(function: str, workers: int, fork: bool) -> str:
    model = build_stage_model(read_template(ROOT / "template.yaml"), ROOT)
    runtimes = await asyncio.to_thread(builds.prepare, model, cache_dir())
    with open(os.devnull, "w") as logs:
        settings = RuntimeSettings(
            region=model.region,
            account_id=model.account_id,
            endpoints=ENDPOINTS,
            runtimes=runtimes,
            max_workers=workers + 1,
            log_stream=logs,
            fork_workers=fork,
        )
        pool = WorkerPool(model.functions[function], settings)
        try:
            began = time.perf_counter()
            await pool.prewarm()
            first = time.perf_counter() - began
            began = time.perf_counter()
            for _ in range(workers):
                await add_worker(pool)
            each = (time.perf_counter() - began) / workers
            pids = pool.idle_pids()
            next_cpu = sum(cpu_seconds(pid) for pid in pids[1:]) / workers  # idle: in order
            server = pool.fork_server
            processes = [*pids, server.process.pid] if server else pids
            cpu = sum(cpu_seconds(pid) for pid in processes)
            rss = round(sum(memory_mb(pid) for pid in processes))
            pss = round(sum(memory_mb(pid, "Pss:") for pid in processes))
        finally:
            await pool.close()
    how = "forked" if fork else "from scratch"
    return (
        f"{function:<20} {how:<13} first {first * 1000:5.0f} ms, next {workers} "
        f"{each * 1000:4.0f} ms each ({next_cpu * 1000:3.0f} ms of CPU); CPU {cpu:5.2f} s; "
        f"RSS {rss} MB, PSS {pss} MB "
        f"({len(processes)} processes)"
    )


async def run(args: argparse.Namespace) -> None:
    for function in args.function:
        for fork in (False, True):
            print(await measure(function, args.workers, fork), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--function", nargs="+", default=["ConnectFunction", "SendMessageFunction"])
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
