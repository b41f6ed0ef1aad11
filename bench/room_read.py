"""The room's read per message: CPU of SendMessage's Query of its room, with and without
the layer's ``before-parse`` hook (``chatroom.query_items``), interleaved.

    .venv/bin/python bench/room_read.py [--members 500] [--rounds 40] [--reads 5]

DynamoDB Local is started as the stage starts it, with the template's tables; a room of
``--members`` connections is written (``bench/send_cost.py``'s rows). Then one process reads
the room as SendMessageFunction does (``ConnectionStore.members(with_names=False)``: the
``room-index`` Query, ``connectionId, connectedAt``, every page) through two DynamoDB
clients made from one session with the stores' configuration: "botocore" parses the
answer with botocore's parser alone (main before the seventh pass), "hook" is the client
``AwsClients.dynamodb`` makes (the hook takes scalar items as answered). Each round reads
``--reads`` times with each, in turn; printed: the median thread CPU of one read (the
room's read per message) and per recipient, and the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "chatroom"), str(ROOT / "bench")]

from send_cost import REGION, ROOM, chat_tables_on_dynamodb_local, seed_room  # noqa: E402

from wslocal.template import build_stage_model, read_template  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--members", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--reads", type=int, default=5, help="reads per client per round")
    args = parser.parse_args()
    model = build_stage_model(read_template(ROOT / "template.yaml"), ROOT)
    with chat_tables_on_dynamodb_local(model) as (dynamodb, table):
        seed_room(dynamodb.endpoint, table["ConnectionsTable"], args.members)
        measure(dynamodb.endpoint, table["ConnectionsTable"], args)


def measure(endpoint: str, table_name: str, args: argparse.Namespace) -> None:
    os.environ.update(
        AWS_ENDPOINT_URL_DYNAMODB=endpoint,
        AWS_ACCESS_KEY_ID="wslocal",
        AWS_SECRET_ACCESS_KEY="wslocal",
        AWS_SESSION_TOKEN="wslocal",
        AWS_DEFAULT_REGION=REGION,
    )
    import boto3

    from chatroom import budgets
    from chatroom.connections import ConnectionStore
    from chatroom.environment import AwsClients

    session = boto3.session.Session()
    aws = AwsClients(session, {"CONNECTIONS_TABLE": table_name})
    stores = {
        "botocore": ConnectionStore(
            aws.connections_table,
            raw_client=session.client("dynamodb", config=budgets.BEFORE_THE_STORE),
        ),
        "hook": ConnectionStore(aws.connections_table, raw_client=aws.dynamodb),
    }
    read = {name: store.members(ROOM, with_names=False) for name, store in stores.items()}
    assert read["botocore"] == read["hook"] and len(read["hook"]) == args.members
    cpu: dict[str, list[float]] = {name: [] for name in stores}
    load = os.getloadavg()
    for _ in range(args.rounds):
        for name, store in stores.items():
            for _ in range(args.reads):
                started = time.thread_time()
                store.members(ROOM, with_names=False)
                cpu[name].append(time.thread_time() - started)
    load_after = os.getloadavg()
    print(
        f"{args.members} members, {args.rounds} rounds of {args.reads} reads each, "
        f"python {sys.version.split()[0]}, load average {load[0]:.2f} -> {load_after[0]:.2f}"
    )
    recipients = args.members - 1
    for name, times in cpu.items():
        median = statistics.median(times)
        print(
            f"{name:>9}: {median * 1e3:.2f} ms of CPU a read (median; mean "
            f"{statistics.mean(times) * 1e3:.2f}), {median * 1e6 / recipients:.1f} µs a recipient"
        )


if __name__ == "__main__":
    main()
