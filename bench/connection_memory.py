"""What the stage holds per idle WebSocket connection (issue 24): tracemalloc snapshots of
a stage run in this process, diffed across two numbers of idle connections.

    .venv/bin/python bench/connection_memory.py      # --first 200 --then 1200 --depth 8 --top 25

The stage serves tests/fixtures/echo_app (no engines) on its own event loop in a thread;
the connections are ``bench/growth.py``'s plain members, in a process of their own so that
only the stage's allocations are traced. Printed: the traced bytes per added connection
and the allocation sites that grew most (``--group lineno`` for one line each). The
process's PSS per connection is printed too, but tracemalloc's own bookkeeping inflates
it: ``bench/growth.py`` measures the real thing.
"""

from __future__ import annotations

import argparse
import gc
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.paths import FIXTURES  # noqa: E402
from tests.support.stage import RunningStage  # noqa: E402
from wslocal.server import StageConfig  # noqa: E402
from wslocal.template import build_stage_model, read_template  # noqa: E402

SETTLE_S = 3.0


def pss_kb() -> int:
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--first", type=int, default=200)
    parser.add_argument("--then", type=int, default=1200)
    parser.add_argument("--depth", type=int, default=8, help="frames kept per allocation")
    parser.add_argument("--group", choices=("traceback", "lineno", "filename"), default="traceback")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    app = FIXTURES / "echo_app"
    log = Path("/tmp") / f"connection-memory-{time.time_ns()}.jsonl"
    model = build_stage_model(read_template(app / "template.yaml"), app, {"EventLogPath": str(log)})
    tracemalloc.start(args.depth)
    with (
        open("/dev/null", "w") as quiet,
        RunningStage(model, StageConfig(port=0, max_workers=2, log_stream=quiet)) as running,
    ):
        members = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "growth.py"), "--members-of", running.url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert members.stdin is not None and members.stdout is not None
        try:

            def join(start: int, count: int) -> tracemalloc.Snapshot:
                members.stdin.write(f"join {start} {count}\n")  # type: ignore[union-attr]
                members.stdin.flush()  # type: ignore[union-attr]
                members.stdout.readline()  # type: ignore[union-attr]
                time.sleep(SETTLE_S)
                gc.collect()
                return tracemalloc.take_snapshot()

            first = join(0, args.first)
            first_pss = pss_kb()
            then = join(args.first, args.then - args.first)
            added = args.then - args.first
            diff = then.compare_to(first, args.group)
            traced = sum(stat.size_diff for stat in diff) / added
            print(f"{added} connections added: {traced:,.0f} B traced per connection; "
                  f"PSS {(pss_kb() - first_pss) * 1024 / added:,.0f} B (tracemalloc's own "
                  "bookkeeping included)")  # fmt: skip
            for stat in sorted(diff, key=lambda stat: -stat.size_diff)[: args.top]:
                print(f"{stat.size_diff / added:8.0f} B  {stat.count_diff / added:5.1f} blocks")
                for line in stat.traceback.format()[-6:]:
                    if line.strip():
                        print("          " + line.strip()[:140])
        finally:
            members.kill()
            members.wait()
    log.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
