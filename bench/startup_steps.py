"""Two steps of ``wslocal start`` on the chat, for issue 24's start-up (docs/benchmarks.md,
"Start-up reordered (issue 24)"); run from the tree to measure (PYTHONPATH for another):

    .venv/bin/python bench/startup_steps.py launch       # when DynamoDB Local's JVM is launched
    .venv/bin/python bench/startup_steps.py first-stop   # a stop on a fresh class-data cache

``launch``: ``wslocal.cli.main`` run in this process, stopped as it launches the JVM; prints
the CPU and wall time since the interpreter started. ``first-stop``: a stage on a fresh
per-user cache (``--skip-build``, so nothing is built), SIGINT a second after its banner;
prints how long the stop took and which class-data archives are left.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from wslocal.engines.moto_server import free_port

ROOT = Path.cwd()


class Launched(Exception):
    """Raised by the spy as the JVM is launched."""


def launch() -> None:
    began = time.time()
    real = subprocess.Popen

    class Spy(real):  # type: ignore[misc, valid-type]
        def __init__(self, args, *rest, **options):  # type: ignore[no-untyped-def]
            if any("java" in str(arg) for arg in args):
                raise Launched
            super().__init__(args, *rest, **options)

    subprocess.Popen = Spy  # type: ignore[misc]
    from wslocal.cli import main

    try:
        main(["start", "--port", str(free_port()), "--no-watch"])
    except Launched:
        print(f"JVM launched after {time.process_time() * 1000:.0f} ms of CPU, "
              f"{(time.time() - began) * 1000:.0f} ms since the interpreter ran this; "
              f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip


def first_stop() -> None:
    cache = tempfile.mkdtemp(prefix="wslocal-first-stop-")
    env = {**os.environ, "WSLOCAL_CACHE_DIR": cache}
    stage = subprocess.Popen(
        [sys.executable, "-m", "wslocal.cli", "start", "--port", str(free_port()),
         "--no-watch", "--skip-build"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert stage.stdout is not None
    for line in stage.stdout:
        if "Press Ctrl-C" in line:
            break
    time.sleep(1.0)
    began = time.perf_counter()
    stage.send_signal(signal.SIGINT)
    stage.communicate(timeout=120)
    took = time.perf_counter() - began
    left = sorted(path.name for path in Path(cache).rglob("*.jsa*"))
    print(f"first stop took {took:.2f} s; left in the cache: {left}; "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    subprocess.run(["rm", "-rf", cache], check=False)


if __name__ == "__main__":
    {"launch": launch, "first-stop": first_stop}[sys.argv[1]]()
