"""What the engines spend per message on the stage: DynamoDB Local's JVM and the SQS
engine, beside the stage and its workers, and what DynamoDB Local spends it on.

    .venv/bin/python bench/engine_share.py [--clients 500] [--messages 20] [--jfr FILE]
        [--jvm-options ...]

``wslocal start`` on the chat's template (as ``bench/fanout.py`` starts it); ``--clients``
join one room; after two warm-up messages and 5 s of quiet (its idle CPU is noted), one
client sends ``--messages`` messages one at a time, each waited for until every other
client has it. Printed: the CPU (user + system, from /proc) of DynamoDB Local's JVM, of
the SQS engine and of the stage with its workers, per message, and how much of that
each would spend idle (measured over 5 s before the messages). ``--jfr FILE`` records
the JVM during the messages (``jcmd PID JFR.start``) and prints its samples by DynamoDB
operation (the dispatcher on the HTTP thread's stack) and thread. ``--jvm-options=...``
replaces the stage's ``JVM_OPTIONS`` for this run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from fanout import (
    ROOT,
    WARM_UP,
    close_all,
    connect_all,
    cpu_seconds,
    settle,
    wait_for,
)
from profiles import engine_of

from wslocal.engines.dynamodb import free_port

IDLE_S = 5.0
STAGE = """
import sys
from wslocal.engines import dynamodb
dynamodb.JVM_OPTIONS = tuple(sys.argv[1].split())
from wslocal.cli import main
sys.argv = ["wslocal", *sys.argv[2:]]
main()
"""


def process_tree(root: int) -> list[int]:
    """A process and its descendants, by each process's parent (a child started from
    another thread than the main one is not in the main thread's ``children``)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, pending = [], [root]
    while pending:
        current = pending.pop()
        found.append(current)
        pending.extend(parents.get(current, []))
    return found


def kind_of(pid: int) -> str:
    command = Path(f"/proc/{pid}/cmdline").read_bytes()
    engine = engine_of(command)
    if engine == "jvm":
        return "DynamoDB Local (JVM)"
    if engine == "sqs":
        return "SQS engine"
    if engine == "moto":
        return "moto's server (DynamoDB)"
    return "stage and workers"


def cpu_by_kind(stage: int) -> dict[str, float]:
    spent: Counter[str] = Counter()
    for pid in process_tree(stage):
        try:
            spent[kind_of(pid)] += cpu_seconds(pid)
        except (FileNotFoundError, ProcessLookupError):
            continue
    return dict(spent)


def start(port: int, jvm_options: str | None) -> subprocess.Popen[str]:
    arguments = ["start", "--port", str(port), "--parameter-overrides", "MessageRateLimit=0"]
    command = (
        [sys.executable, "-c", STAGE, jvm_options, *arguments]
        if jvm_options is not None
        else [sys.executable, "-m", "wslocal.cli", *arguments]
    )
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert process.stdout is not None
    for line in process.stdout:
        if "Press Ctrl-C" in line:
            # Read on, or the stage blocks writing its log.
            threading.Thread(target=process.stdout.readlines, daemon=True).start()
            return process
    raise SystemExit("the stage did not start")


def jfr_by_operation(recording: Path) -> list[str]:
    printed = subprocess.run(
        ["jfr", "print", "--json", "--stack-depth", "96", "--events", "jdk.ExecutionSample",
         str(recording)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    by_operation: Counter[str] = Counter()
    for event in json.loads(printed.stdout)["recording"]["events"]:
        thread = event["values"]["sampledThread"]["javaName"] or "?"
        names = [
            f["method"]["type"]["name"].replace("/", ".")
            for f in event["values"]["stackTrace"]["frames"]
        ]
        dispatcher = next((n.rsplit(".", 1)[1] for n in names if ".dispatchers." in n), None)
        if thread.startswith("SQLiteQueue"):
            by_operation["SQLite's job thread (every operation's reads and writes)"] += 1
        elif dispatcher:
            by_operation[dispatcher.removesuffix("Dispatcher")] += 1
        else:
            by_operation[f"other ({thread.split('-')[0]})"] += 1
    total = sum(by_operation.values()) or 1
    return [f"    {n / total:6.1%}  {what}" for what, n in by_operation.most_common(14)]


async def run(args: argparse.Namespace) -> None:
    port = free_port()
    stage = start(port, args.jvm_options)
    try:
        receivers = await connect_all(f"ws://127.0.0.1:{port}", args.clients)
        await settle(receivers, 2.0)
        tag = f"{os.getpid()}"
        for index in range(WARM_UP):
            await receivers[0].client.send(
                json.dumps({"action": "sendMessage", "message": f"bench-{tag}-w{index}"})
            )
            await wait_for(receivers[1:], [f"bench-{tag}-w{index}"], time.perf_counter())
        await settle(receivers, 2.0)
        idle_before = cpu_by_kind(stage.pid)
        await asyncio.sleep(IDLE_S)
        before = cpu_by_kind(stage.pid)
        java = [pid for pid in process_tree(stage.pid) if kind_of(pid).startswith("DynamoDB")]
        if args.jfr:
            subprocess.run(["jcmd", str(java[0]), "JFR.start", "name=share", "settings=profile"],
                           capture_output=True, check=True)  # fmt: skip
        began, lost = time.perf_counter(), 0
        for index in range(args.messages):
            marker = f"bench-{tag}-{index}"
            await receivers[0].client.send(json.dumps({"action": "sendMessage", "message": marker}))
            lost += (await wait_for(receivers[1:], [marker], time.perf_counter()))[1]
        elapsed = time.perf_counter() - began
        after = cpu_by_kind(stage.pid)
        if args.jfr:
            stop = [
                "jcmd",
                str(java[0]),
                "JFR.stop",
                "name=share",
                f"filename={args.jfr.resolve()}",
            ]
            subprocess.run(stop, capture_output=True, check=True)
        await close_all(receivers)
    finally:
        stage.terminate()
        stage.wait(60)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{args.messages} messages to {args.clients - 1}, one at a time, in {elapsed:.1f} s; "
          f"{lost} deliveries lost; JVM options: {args.jvm_options or 'the stage own'}; "
          f"load average {load}")  # fmt: skip
    for kind in sorted(after):
        idle = (before.get(kind, 0.0) - idle_before.get(kind, 0.0)) / IDLE_S
        spent = after[kind] - before.get(kind, 0.0)
        print(f"  {kind:22} {spent / args.messages * 1000:7.1f} ms of CPU per message "
              f"(of which idle, at the {idle * 1000:.0f} ms per s it spent before: "
              f"{idle * elapsed / args.messages * 1000:.1f})")  # fmt: skip
    if args.jfr:
        print(f"  DynamoDB Local's samples by operation ({args.jfr}):")
        for line in jfr_by_operation(args.jfr):
            print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--jfr", type=Path, default=None)
    parser.add_argument("--jvm-options", default=None, help="e.g. '-XX:+UseSerialGC'")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
