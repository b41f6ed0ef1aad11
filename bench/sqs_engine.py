"""The SQS engine's CPU for the fan-out's shards, and any other engine beside it.

    .venv/bin/python bench/sqs_engine.py [--messages 40] [--rounds 5] [--check]
        [--servers] [--fauxqs node_modules/fauxqs]

Starts each engine on a free port of 127.0.0.1: moto's whole server and the stage's engine
(moto's SQS app alone, ``wslocal.engines.moto_server.start_moto_sqs_server``, as the stage
starts it); with ``--servers``, moto's SQS served other ways (``bench/moto_sqs_servers.py``:
its request handler without Flask on werkzeug, the Flask app or the handler on granian,
which must be installed by hand); with ``--fauxqs``, the npm package ``fauxqs`` (installed
by hand for the comparison, as ``bench/fauxqs_server.py`` says) served by node on
127.0.0.1. In each it creates the fan-out queue and its dead-letter queue as the
template declares them, then, per round and engine in turn (the order reversed every other
round), what ``--messages`` messages to a room of 500 cost the queue on the stage: one
SendMessageBatch of five shards (100 members each, the body ``Shard.body`` writes), and per
shard the poller's ReceiveMessage (one message, long poll, every attribute) and its
DeleteMessageBatch. Printed: the engine's CPU per call of each kind and per shard (user +
system of its processes, from /proc; medians of the rounds), each engine's per message
against the stage's engine in the same round (the median of the rounds' ratios: the VM's
speed moves between rounds), what an empty long poll costs it, and its memory. ``--check``
first tries, on each engine, what the stage relies on: the visibility timeout, the receive
count, redrive to the dead-letter queue, DelaySeconds, a batch's failed entry, and several
long polls waiting at once.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from fanout import memory_mb
from fauxqs_server import serve_fauxqs
from profiles import cpu_seconds, process_tree

from wslocal.engines.dynamodb import client as engine_client
from wslocal.engines.moto_server import (
    free_port,
    start_moto_server,
    start_moto_sqs_server,
    stop_process,
)

SHARDS_PER_MESSAGE = 5
MEMBERS_PER_SHARD = 100


@contextlib.contextmanager
def moto() -> Iterator[tuple[int, str]]:
    started = start_moto_server()
    if started is None:
        raise SystemExit("moto's server is not installed")
    process, endpoint = started
    try:
        yield process.pid, endpoint
    finally:
        stop_process(process)


@contextlib.contextmanager
def stage_engine() -> Iterator[tuple[int, str]]:
    """moto's SQS app alone, as the stage starts it (its lifeline watcher counts with it)."""
    started = start_moto_sqs_server()
    if started is None:
        raise SystemExit("moto's server is not installed")
    process, endpoint, _ = started
    try:
        yield process.pid, endpoint
    finally:
        stop_process(process)


@contextlib.contextmanager
def moto_served(server: str, app: str) -> Iterator[tuple[int, str]]:
    """moto's SQS served by ``bench/moto_sqs_servers.py`` (``server``, ``app``)."""
    port = free_port()
    script = Path(__file__).with_name("moto_sqs_servers.py")
    process = subprocess.Popen(
        [sys.executable, str(script), str(port), server, app],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        endpoint = f"http://127.0.0.1:{port}"
        probe = engine_client(endpoint, "us-east-1", service="sqs")
        while True:
            try:
                probe.list_queues()
                break
            except Exception:
                if process.poll() is not None:
                    raise SystemExit(f"{server} serving {app} did not start") from None
                time.sleep(0.1)
        yield process.pid, endpoint
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # granian's worker goes with it
        process.wait(10)


def engine_cpu_seconds(pid: int) -> float:
    """CPU time of an engine's process and its children (granian's worker, the lifeline's
    watcher)."""
    return sum(cpu_seconds(process) for process in process_tree(pid))


def engine_memory(pid: int) -> str:
    processes = process_tree(pid)
    rss = sum(memory_mb(process) for process in processes)
    pss = sum(memory_mb(process, "Pss:") for process in processes)
    return f"{rss:.0f} MB (PSS {pss:.0f}, {len(processes)} processes)"


def shard_body(message: int, shard: int) -> str:
    """A shard as ``chatroom.fanout.shards.Shard.body`` writes it."""
    data = json.dumps({"type": "newMessage", "payload": {"text": f"message {message}"}})
    recipients = [
        [f"S{shard:02d}{member:05d}cFiA=", 1_764_748_800_000 + member]
        for member in range(MEMBERS_PER_SHARD)
    ]
    origin = {"id": f"m{message}", "from": "Sender00cFiA=", "clientId": f"c{message}"}
    body = {"v": 1, "room": "large", "data": data, "attempt": 1, "to": recipients}
    return json.dumps({**body, "origin": origin}, separators=(",", ":"))


def make_queues(sqs: Any) -> str:
    """The fan-out queue and its dead-letter queue, with the template's attributes."""
    dead = sqs.create_queue(
        QueueName="FanOutDeadLetterQueue", Attributes={"MessageRetentionPeriod": "1209600"}
    )["QueueUrl"]
    dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return str(
        sqs.create_queue(
            QueueName="FanOutQueue",
            Attributes={
                "VisibilityTimeout": "180",
                "MessageRetentionPeriod": "14400",
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dead_arn, "maxReceiveCount": "5"}
                ),
            },
        )["QueueUrl"]
    )


def receive(sqs: Any, url: str, wait_s: int = 1, most: int = 1) -> list[dict[str, Any]]:
    """What the stage's poller asks (``wslocal.eventsources.sqs_queues``)."""
    return list(
        sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=most, WaitTimeSeconds=wait_s,
            MessageSystemAttributeNames=["All"], MessageAttributeNames=["All"],
        ).get("Messages", [])
    )  # fmt: skip


def check(sqs: Any, label: str) -> list[str]:
    """What the stage relies on, tried on the engine: each line says what held."""
    seen: list[str] = []

    def expect(what: str, holds: bool) -> None:
        seen.append(f"{label}: {'ok  ' if holds else 'FAIL'} {what}")

    dead = sqs.create_queue(QueueName="CheckDead")["QueueUrl"]
    dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    url = sqs.create_queue(
        QueueName="Check",
        Attributes={
            "VisibilityTimeout": "1",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dead_arn, "maxReceiveCount": "2"}),
        },
    )["QueueUrl"]
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "first"}])
    first = receive(sqs, url)
    expect("received, with ApproximateReceiveCount 1", bool(first) and
           first[0]["Attributes"].get("ApproximateReceiveCount") == "1")  # fmt: skip
    expect("invisible until its visibility timeout", receive(sqs, url, wait_s=0) == [])
    time.sleep(1.2)
    second = receive(sqs, url)
    expect("visible again after it, ApproximateReceiveCount 2", bool(second) and
           second[0]["Attributes"].get("ApproximateReceiveCount") == "2")  # fmt: skip
    time.sleep(1.2)
    expect("past maxReceiveCount: not received again", receive(sqs, url, wait_s=0) == [])
    moved = receive(sqs, dead)
    expect("moved to the dead-letter queue", [m["Body"] for m in moved] == ["first"])
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": "d", "MessageBody": "later", "DelaySeconds": 2}]
    )
    expect("DelaySeconds: not before its delay", receive(sqs, url, wait_s=1) == [])
    time.sleep(1.2)
    later = receive(sqs, url, wait_s=2)
    expect("DelaySeconds: received after it", [m["Body"] for m in later] == ["later"])
    deleted = sqs.delete_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "0", "ReceiptHandle": later[0]["ReceiptHandle"] if later else "x"},
            {"Id": "1", "ReceiptHandle": "not-a-handle"},
        ],
    )
    expect(
        "DeleteMessageBatch: the good handle deleted, the bad one in Failed",
        [s["Id"] for s in deleted.get("Successful", [])] == ["0"]
        and [f["Id"] for f in deleted.get("Failed", [])] == ["1"],
    )
    expect(
        f"{LONG_POLLS} long polls waiting at once: each brings a message sent meanwhile",
        concurrent_long_polls(sqs, url) == LONG_POLLS,
    )
    for queue in (url, dead):
        sqs.delete_queue(QueueUrl=queue)
    return seen


LONG_POLLS = 8
"""As many receives as a mapping's receivers and the handlers' calls hold at once on the
chat (8 slots): each long poll holds a thread of the engine's."""


def concurrent_long_polls(sqs: Any, url: str) -> int:
    """How many of ``LONG_POLLS`` receives, all waiting (5 s long polls) when the messages
    are sent, one per receive, come back with one within the wait."""
    brought: list[int] = []
    receivers = [
        threading.Thread(target=lambda: brought.append(len(receive(sqs, url, wait_s=5))))
        for _ in range(LONG_POLLS)
    ]
    for receiver in receivers:
        receiver.start()
    time.sleep(1.0)  # every receive is waiting
    started = time.monotonic()
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": str(n), "MessageBody": "m"} for n in range(LONG_POLLS)]
    )
    for receiver in receivers:
        receiver.join()
    in_time = time.monotonic() - started < 4.0
    return sum(brought) if in_time else 0


def one_round(pid: int, sqs: Any, url: str, messages: int) -> dict[str, float]:
    """The queue's part of ``messages`` messages to a room of 500, one message at a time
    as on the stage (its five shards sent, received, deleted), the engine's CPU summed
    by kind of call."""
    spent = {"send": 0.0, "receive": 0.0, "delete": 0.0}
    shards = 0
    for message in range(messages):
        entries = [
            {"Id": str(shard), "MessageBody": shard_body(message, shard), "DelaySeconds": 0}
            for shard in range(SHARDS_PER_MESSAGE)
        ]
        before = engine_cpu_seconds(pid)
        sqs.send_message_batch(QueueUrl=url, Entries=entries)
        middle = engine_cpu_seconds(pid)
        received: list[dict[str, Any]] = []
        while len(received) < SHARDS_PER_MESSAGE:
            received.extend(receive(sqs, url))
        after = engine_cpu_seconds(pid)
        for taken in received:
            sqs.delete_message_batch(
                QueueUrl=url, Entries=[{"Id": "0", "ReceiptHandle": taken["ReceiptHandle"]}]
            )
        spent["send"] += middle - before
        spent["receive"] += after - middle
        spent["delete"] += engine_cpu_seconds(pid) - after
        shards += len(received)
    costs = {
        "SendMessageBatch (5 shards)": spent["send"] / messages * 1000,
        "ReceiveMessage (1 shard)": spent["receive"] / shards * 1000,
        "DeleteMessageBatch (1 entry)": spent["delete"] / shards * 1000,
    }
    costs["per shard (a fifth of a send, a receive, a delete)"] = (
        sum(spent.values()) / shards * 1000
    )
    costs["per message to 499 (5 shards)"] = sum(spent.values()) / messages * 1000
    return costs


def per_call(pid: int, calls: int, work: Callable[[], None]) -> float:
    """The engine's ms of CPU per call while ``work`` makes ``calls`` calls."""
    before = engine_cpu_seconds(pid)
    work()
    return (engine_cpu_seconds(pid) - before) / calls * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=40, help="messages to 499 per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--empty-polls", type=int, default=5, help="1 s long polls, empty")
    parser.add_argument("--servers", action="store_true", help="moto's SQS served other ways")
    parser.add_argument("--fauxqs", type=Path, default=None, help="the fauxqs package folder")
    parser.add_argument("--check", action="store_true", help="try the behaviours first")
    args = parser.parse_args()
    engines: dict[str, Callable[[], Any]] = {
        "moto's server": moto, "the stage's engine": stage_engine,
    }  # fmt: skip
    if args.servers:
        engines["handler, werkzeug"] = lambda: moto_served("werkzeug", "handler")
        engines["Flask app, granian"] = lambda: moto_served("granian", "flask")
        engines["handler, granian"] = lambda: moto_served("granian", "handler")
    if args.fauxqs is not None:
        engines["fauxqs"] = lambda: serve_fauxqs(args.fauxqs)
    with contextlib.ExitStack() as stack:
        running = {}
        for name, start in engines.items():
            pid, endpoint = stack.enter_context(start())
            sqs = engine_client(endpoint, "us-east-1", service="sqs")
            if args.check:
                for line in check(sqs, name):
                    print(line, flush=True)
            url = make_queues(sqs)
            one_round(pid, sqs, url, 5)  # warm-up
            running[name] = (pid, sqs, url)
        results: dict[str, list[dict[str, float]]] = {name: [] for name in running}
        for number in range(args.rounds):
            order = list(running.items())
            for name, (pid, sqs, url) in order[::-1] if number % 2 else order:
                results[name].append(one_round(pid, sqs, url, args.messages))
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"{args.rounds} rounds of {args.messages} messages to 499; load average {load}")
        per_message = "per message to 499 (5 shards)"
        baseline = [result[per_message] for result in results["the stage's engine"]]
        for name, (pid, sqs, url) in running.items():
            empty = per_call(pid, args.empty_polls, lambda sqs=sqs, url=url: [
                receive(sqs, url) for _ in range(args.empty_polls)])  # fmt: skip
            for kind in results[name][0]:
                values = [result[kind] for result in results[name]]
                print(f"{name:20} {kind:52} {statistics.median(values):6.2f} ms of CPU "
                      f"(rounds: {' '.join(f'{v:.2f}' for v in values)})")  # fmt: skip
            ratios = [r[per_message] / b for r, b in zip(results[name], baseline, strict=True)]
            spread = f"({min(ratios):.2f}-{max(ratios):.2f})"
            print(f"{name:20} {'per message, against the stage engine, same round':52} "
                  f"{statistics.median(ratios):6.2f} x {spread}")  # fmt: skip
            print(f"{name:20} {'ReceiveMessage, empty, 1 s long poll':52} {empty:6.2f} ms of CPU")
            print(f"{name:20} {'memory':52} {engine_memory(pid)}")


if __name__ == "__main__":
    main()
