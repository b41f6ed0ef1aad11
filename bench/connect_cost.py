"""``$connect``'s CPU per join: ConnectFunction's handler alone, on DynamoDB Local.

    .venv/bin/python bench/connect_cost.py [--joins 300] [--code DIR] [--profile FILE]
        [--python PATH --site DIRS] [--runs N]
    .venv/bin/python bench/connect_cost.py --row-only [--joins 2000] [--python PATH --site DIRS]

DynamoDB Local (the stage's JVM options) with the template's tables; then a child process
imports ``functions/connect/app.py`` as a forked worker does (the fork server's preload
and warm boto3 session first, ``wslocal.runtime.forkserver``; the function's folder and
the layer on its path, its environment as the stage gives it) and invokes the handler
``--joins`` times after 3 warm-up joins, each a new connection joining one room (the
sample ``$connect`` event, its connection id changed). Printed: the handler's init (CPU),
its first join, the CPU of a join (median; user and system of the whole process, every
thread) and each AWS call's (``time.thread_time`` around botocore's
``BaseClient._make_api_call``: serialising, hooks, endpoint rules, signing, HTTP,
parsing). The chat's code is imported from ``--code`` (default this checkout; an export
of another commit for a "before" run). ``--profile FILE`` runs the measured joins under
cProfile, on the CPU clock (``time.thread_time``: a wait for DynamoDB costs nothing), and
prints the top functions by their own time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from send_cost import (  # noqa: E402
    TIMED_API_CALLS,
    chat_tables_on_dynamodb_local,
    function_environment,
)

from wslocal.template import build_stage_model, read_template  # noqa: E402

CHILD = """
import cProfile, json, os, pstats, sys, time, importlib.util

code, joins, warm_up, profile_path, stage_root = (
    sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5])
sys.path[:0] = [f"{code}/functions/connect", f"{code}/layers/chatroom"]
sys.path.append(stage_root)
from wslocal.runtime.forkserver import preload, warm_boto3
preload(["boto3", "aws_lambda_powertools", "aws_lambda_powertools.metrics"])
warm_boto3(dict(os.environ))

import botocore.client

# the botocore calls timed: TIMED_API_CALLS

init = time.process_time()
spec = importlib.util.spec_from_file_location("app", f"{code}/functions/connect/app.py")
app = importlib.util.module_from_spec(spec)
spec.loader.exec_module(app)
inited = time.process_time()
event = json.load(open(f"{code}/events/connect.json"))
event["queryStringParameters"] = {"room": "bench", "name": "someone"}

class Context:
    function_name = "ConnectFunction"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:ConnectFunction"
    aws_request_id = "bench"
    def get_remaining_time_in_millis(self):
        return 10_000

def join(number):
    event["requestContext"]["connectionId"] = f"join{os.getpid()}{number:08d}="
    answer = app.lambda_handler(event, Context())
    assert answer["statusCode"] == 200, answer

out = sys.stdout
sys.stdout = open(os.devnull, "w")  # Powertools' logs and metrics: written, not shown
join(0)
first = time.process_time()
first_calls = calls[:]
for number in range(1, warm_up):
    join(number)
calls.clear()
profiler = cProfile.Profile(time.thread_time) if profile_path else None
before = os.times()
if profiler:
    profiler.enable()
each = []
for number in range(warm_up, warm_up + joins):
    started = time.process_time()
    join(number)
    each.append(time.process_time() - started)
if profiler:
    profiler.disable()
    profiler.dump_stats(profile_path)
after = os.times()
out.write(json.dumps({
    "user": after.user - before.user, "system": after.system - before.system,
    "calls": calls, "each": each, "init": inited - init, "first": first - inited,
    "first_calls": first_calls}) + "\\n")
""".replace("# the botocore calls timed: TIMED_API_CALLS\n", TIMED_API_CALLS)


ROW_ONLY = """
import statistics, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import boto3
sys.path.insert(0, f"{sys.argv[1]}/layers/chatroom")
from chatroom.connections import Connection, row

class Stub(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")
    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Stub)
threading.Thread(target=server.serve_forever, daemon=True).start()
endpoint = f"http://127.0.0.1:{server.server_address[1]}"
session = boto3.session.Session(
    aws_access_key_id="a", aws_secret_access_key="b", region_name="us-east-1")
table = session.resource("dynamodb", endpoint_url=endpoint).Table("t")
plain = session.client("dynamodb", endpoint_url=endpoint)

def resource(c):
    table.put_item(Item={"connectionId": c.connection_id, "room": c.room, "name": c.name,
        "connectedAt": c.connected_at, "sourceIp": c.source_ip,
        "senderKey": c.sender_key, "ttl": c.expires_at})

def raw(c):
    plain.put_item(TableName="t", Item=row(c))

spent = {resource: [], raw: []}
for number in range(20 + int(sys.argv[2])):
    for put in spent:
        joined = Connection(f"conn{number:012d}=", "lobby", "alice", 1732447824000, "203.0.113.10")
        started = time.thread_time()
        put(joined)
        if number >= 20:
            spent[put].append(time.thread_time() - started)
for put, times in spent.items():
    print(f"PutItem through the {'resource' if put is resource else 'plain client'}: "
          f"{statistics.median(times) * 1e6:.0f} µs of the client's CPU (median of {len(times)})")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--joins", type=int, default=300)
    parser.add_argument("--code", default=str(ROOT), help="the chat's code (a checkout)")
    parser.add_argument("--profile", default="")
    parser.add_argument("--runs", type=int, default=1, help="children, one after another")
    parser.add_argument("--python", default=sys.executable, help="the handler's interpreter")
    parser.add_argument("--site", default="", help="the libraries of --python, a PYTHONPATH")
    parser.add_argument("--row-only", action="store_true", help="the PutItem alone (above)")
    args = parser.parse_args()
    if args.row_only:
        environ = {**os.environ, "PYTHONPATH": args.site} if args.site else dict(os.environ)
        subprocess.run(
            [args.python, "-c", ROW_ONLY, args.code, str(args.joins)], env=environ, check=True
        )
        return

    model = build_stage_model(read_template(ROOT / "template.yaml"), ROOT)
    function = model.functions["ConnectFunction"]
    with chat_tables_on_dynamodb_local(model) as (dynamodb, names):
        variables = {key: str(value) for key, value in function.environment.items()}
        variables.update(
            CONNECTIONS_TABLE=names["ConnectionsTable"], MESSAGES_TABLE=names["MessagesTable"]
        )
        environ = function_environment(variables, dynamodb.endpoint, "http://127.0.0.1:9", "")
        environ["AWS_LAMBDA_FUNCTION_NAME"] = "ConnectFunction"
        if args.site:
            environ["PYTHONPATH"] = args.site
        print(f"{args.joins} joins, code {args.code}, python {args.python}")
        for run in range(args.runs):
            profile = f"{args.profile}.{run}" if args.profile and args.runs > 1 else args.profile
            done = subprocess.run(
                [args.python, "-c", CHILD, args.code, str(args.joins), "3", profile, str(ROOT)],
                env=environ, capture_output=True, text=True, check=False,
            )  # fmt: skip
            if done.returncode != 0:
                raise SystemExit(f"the handler's process failed:\n{done.stderr[-3000:]}")
            report(json.loads(done.stdout.strip().splitlines()[-1]), args.joins)
            if profile:
                import pstats

                pstats.Stats(profile).sort_stats("tottime").print_stats(25)


def report(measured: dict, joins: int) -> None:
    median_ms = statistics.median(measured["each"]) * 1000
    first = ", ".join(f"{name} {spent * 1000:.1f}" for name, spent in measured["first_calls"])
    print(
        f"init {measured['init'] * 1000:.0f} ms of CPU, first join "
        f"{measured['first'] * 1000:.1f} ms ({first}); load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}: CPU {median_ms:.2f} ms a join "
        f"(median; mean {(measured['user'] + measured['system']) * 1000 / joins:.2f}: user "
        f"{measured['user'] * 1000 / joins:.2f}, system {measured['system'] * 1000 / joins:.2f})"
    )
    by_call: dict[str, list[float]] = {}
    for name, spent in measured["calls"]:
        by_call.setdefault(name, []).append(spent)
    for name, spent in by_call.items():
        print(
            f"  {name}: {len(spent) / joins:.1f} a join, "
            f"{statistics.median(spent) * 1000:.2f} ms of CPU a call (median)"
        )


if __name__ == "__main__":
    main()
