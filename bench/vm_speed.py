"""How fast this machine runs a fixed piece of Python right now, in CPU time.

    .venv/bin/python bench/vm_speed.py [--rounds 5]

The CPU benches here divide CPU time by work done; on a VM whose cores change speed (the
host's other tenants, its frequency), the same work costs more CPU at one moment than at
the next. This times one fixed piece of work (JSON round trips and a sort, about the size
of a post's handling) in ``time.process_time``, so a bench's run can be read beside it.
"""

from __future__ import annotations

import argparse
import json
import time

PAYLOAD = {"action": "sendMessage", "data": "x" * 100, "ids": [f"id{n}" for n in range(50)]}


def fixed_work_ms() -> float:
    """CPU milliseconds of one round of the fixed work."""
    started = time.process_time()
    for _ in range(200):
        json.loads(json.dumps(PAYLOAD))
        sorted(str(n) for n in range(100))
    return (time.process_time() - started) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    fixed_work_ms()  # warm
    rounds = [fixed_work_ms() for _ in range(args.rounds)]
    print(f"{time.strftime('%H:%M:%S')} fixed work, CPU ms per round: "
          + " ".join(f"{r:.1f}" for r in rounds))  # fmt: skip


if __name__ == "__main__":
    main()
