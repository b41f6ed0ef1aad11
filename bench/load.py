"""Load benchmark (issue 9): many clients, each sending many messages, through the local
stage with the chat's defaults (acks, clientId claims, the per-connection rate limit).

    .venv/bin/python bench/load.py [--clients 1000] [--messages 20] [--room-size 10]
                                   [--rounds 3]

``wslocal start`` on the project's template; ``--clients`` join rooms of ``--room-size``;
each round, every client sends ``--messages`` messages (each with a clientId), paced to
stay within the rate limit (20 per 10 s). A message is lost when a member of its room
never receives it, or its sender never gets its ack; nothing is waited for past 900 s.
The stage's memory (its process and its workers, without DynamoDB Local's JVM and moto's
server) is read right after each round: growth from round to round would be a leak.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
import uuid

import websockets
from fanout import memory_lines, start_stage

from wslocal.engines.dynamodb import free_port

DEADLINE_S = 900.0


class Client:
    def __init__(self, ws: websockets.ClientConnection, room: str) -> None:
        self.ws = ws
        self.room = room
        self.received: set[str] = set()
        self.acked: set[str] = set()
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for frame in self.ws:
                envelope = json.loads(frame)
                if envelope.get("type") == "newMessage":
                    self.received.add(envelope["payload"])
                elif envelope.get("type") == "ack":
                    self.acked.add(envelope["clientId"])


async def join(url: str, clients: int, room_size: int) -> list[Client]:
    joined: list[Client] = []
    for start in range(0, clients, 50):
        batch = [
            websockets.connect(
                f"{url}?room=load{index // room_size}&name=c{index}",
                max_queue=None,
                ping_interval=None,
                open_timeout=300,
            )
            for index in range(start, min(clients, start + 50))
        ]
        for index, ws in enumerate(await asyncio.gather(*batch), start=start):
            joined.append(Client(ws, f"load{index // room_size}"))
    return joined


async def send_round(clients: list[Client], tag: str, messages: int) -> dict[str, str]:
    """Every client sends ``messages`` messages, one every 0.55 s (under 20 per 10 s).
    Returns each message's text by its clientId."""
    sent: dict[str, str] = {}

    async def sender(index: int, client: Client) -> None:
        await asyncio.sleep((index % 100) * 0.0055)  # spread the clients over the interval
        for number in range(messages):
            client_id = uuid.uuid4().hex
            text = f"{tag}-{index}-{number}"
            sent[client_id] = text
            await client.ws.send(
                json.dumps({"action": "sendMessage", "message": text, "clientId": client_id})
            )
            await asyncio.sleep(0.55)

    await asyncio.gather(*(sender(index, client) for index, client in enumerate(clients)))
    return sent


def missing(clients: list[Client], sent: dict[str, str]) -> tuple[int, int]:
    """(deliveries missing, acks missing) of this round. A text is ``<tag>-<sender
    index>-<number>``."""
    rooms: dict[str, list[Client]] = {}
    for client in clients:
        rooms.setdefault(client.room, []).append(client)
    deliveries = acks = 0
    for client_id, text in sent.items():
        sender = clients[int(text.split("-")[1])]
        acks += client_id not in sender.acked
        deliveries += sum(
            1 for other in rooms[sender.room] if other is not sender and text not in other.received
        )
    return deliveries, acks


async def run(args: argparse.Namespace) -> None:
    port = free_port()
    stage, _ = start_stage(port, [])
    try:
        url = f"ws://127.0.0.1:{port}"
        started = time.perf_counter()
        clients = await join(url, args.clients, args.room_size)
        print(f"{args.clients} clients in rooms of {args.room_size}: joined in "
              f"{time.perf_counter() - started:.1f} s")  # fmt: skip
        expected_per_round = args.clients * args.messages * (args.room_size - 1)
        for round_number in range(1, args.rounds + 1):
            tag = f"r{round_number}"
            started = time.perf_counter()
            sent = await send_round(clients, tag, args.messages)
            sending = time.perf_counter() - started
            deadline = time.monotonic() + DEADLINE_S
            while time.monotonic() < deadline:
                lost, unacked = missing(clients, sent)
                if not lost and not unacked:
                    break
                await asyncio.sleep(1)
            total = time.perf_counter() - started
            memory = memory_lines(stage.pid)
            print(
                f"round {round_number}: {len(sent)} messages, {expected_per_round} deliveries "
                f"expected; sent in {sending:.1f} s, all in {total:.1f} s "
                f"({len(sent) / total:.0f} messages/s, {expected_per_round / total:.0f} "
                f"deliveries/s); lost deliveries {lost}, missing acks {unacked}; "
                f"stage RSS {memory['stage and workers']} MB"
            )
    finally:
        stage.terminate()
        stage.wait(60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--room-size", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
