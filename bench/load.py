"""Load benchmark: many clients, each sending many messages, through the local stage with
the chat's defaults (acks, clientId claims, the delivery guarantee), optionally with faults
injected at random.

    .venv/bin/python bench/load.py [--clients 1000] [--messages 20] [--room-size 10]
                                   [--rounds 3] [--faults kill=0.01,post-500=0.01]
                                   [--big-room 150] [--reconnect 0.05]

``wslocal start`` on the project's template; ``--clients`` join rooms of ``--room-size``
(the first ``--big-room`` of them one room over the inline limit, posted in shards);
each round, every client sends ``--messages`` messages (each with a clientId), one every
0.55 s. ``--faults`` is passed to ``wslocal start --inject-faults``: that share of all
invocations (every function: $connect, sendMessage, FanOut, presence, the watch...) has
its worker killed at a random moment of the call, and that share of ``@connections``
posts is answered 500.

Each client behaves as the page does: a message without an ack after 10 s (then 20, 40...),
or in flight when one of API Gateway's own frames arrives ("Internal server error", "Too
Many Requests"), or answered ``delivery_failed``, is sent again with the same clientId
(the page's Retry), at most six times in all; a handshake refused is tried again. A
``--reconnect`` share of the clients drops its connection in the middle of each round and
comes back under the same name, as a reloaded page: it asks for the history, and a message
of its own marked ``failed`` there counts as told and is sent again (the Retry). A client
that reconnects is counted as a sender only (it was away for part of the round). What is
counted, per round:

- lost without the sender told: a member that never got a message that was acknowledged
  and whose sender never got ``delivery_failed`` for it (the promise broken); a message
  never acknowledged (every send refused, killed or unanswered) is shown failed on its
  page, and counted apart;
- duplicates shown: a member that got one message (one clientId) under two ids (the page
  shows each id once, so only this would show twice);
- missing acks, and the frames received more than once (shown once by the page).

Nothing is waited for past 900 s. The stage's memory (its process and its workers) is
read after each round.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
import uuid
from dataclasses import dataclass, field

import websockets
from fanout import memory_lines, start_stage

from wslocal.engines.dynamodb import free_port

DEADLINE_S = 900.0
ACK_TIMEOUT_S = 10.0
MOST_SENDS = 6


@dataclass
class Outgoing:
    text: str
    sends: int = 0
    sent_at: float = 0.0
    acked: bool = False
    told: bool = False


@dataclass
class Client:
    ws: websockets.ClientConnection
    room: str
    index: int
    received: dict[str, set[str]] = field(default_factory=dict)
    """clientId -> the message ids it arrived under."""
    frames: int = 0
    outbox: dict[str, Outgoing] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None
    closed_by: str | None = None
    """Why the stage closed this connection, if it did (then nothing more is owed to it)."""
    url: str = ""
    reconnects: int = 0

    def start(self) -> None:
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            await self._frames()
        except websockets.ConnectionClosed as closed:
            self.closed_by = f"{closed.rcvd.code if closed.rcvd else 1006}"
        else:
            self.closed_by = f"{self.ws.close_code}"

    async def _frames(self) -> None:
        async for frame in self.ws:
            envelope = json.loads(frame)
            kind = envelope.get("type")
            if kind == "newMessage":
                self.frames += 1
                self.received.setdefault(envelope.get("clientId") or "", set()).add(envelope["id"])
            elif kind == "history":
                for message in envelope["messages"]:
                    entry = self.outbox.get(message.get("clientId") or "")
                    if entry is not None and message.get("mine"):
                        entry.acked = True  # stored: the page finds it by clientId
                        if message.get("delivery") == "failed":
                            entry.told = True
                            await self.send(message["clientId"])  # the page's Retry
            elif kind == "ack":
                entry = self.outbox.get(envelope["clientId"])
                if entry is not None:
                    entry.acked = True
            elif kind == "error" and envelope.get("code") == "delivery_failed":
                entry = self.outbox.get(envelope.get("clientId"))
                if entry is not None:
                    entry.told = True
                    await self.send(envelope["clientId"])  # the page's Retry
            elif kind is None and isinstance(envelope.get("message"), str):
                # API Gateway's own frame ("Internal server error", "Too Many
                # Requests") names no message: the page fails those in flight, Retry.
                for entry in self.outbox.values():
                    if not entry.acked and time.monotonic() - entry.sent_at < ACK_TIMEOUT_S:
                        entry.sent_at -= ACK_TIMEOUT_S  # due again now
                await self.resend_unacked()

    async def reconnect(self) -> None:
        """Drop the connection and come back under the same name (a reloaded page), then
        ask for the history."""
        self.reconnects += 1
        with contextlib.suppress(websockets.ConnectionClosed):
            await self.ws.close()
        if self.task is not None:
            await self.task
        for attempt in range(MOST_SENDS):
            try:
                self.ws = await websockets.connect(
                    self.url, max_queue=None, ping_interval=None, open_timeout=300
                )
                break
            except websockets.InvalidStatus:
                await asyncio.sleep(0.2 * (attempt + 1))
        self.closed_by = None
        self.start()
        with contextlib.suppress(websockets.ConnectionClosed):
            await self.ws.send(json.dumps({"action": "history"}))

    async def send(self, client_id: str) -> None:
        entry = self.outbox[client_id]
        if entry.sends >= MOST_SENDS:
            return
        entry.sends += 1
        entry.sent_at = time.monotonic()
        body = {"action": "sendMessage", "message": entry.text, "clientId": client_id}
        with contextlib.suppress(websockets.ConnectionClosed):
            await self.ws.send(json.dumps(body))

    async def resend_unacked(self) -> None:
        """Send again what has no ack, after 10 s, then 20, 40...: a user's Retry."""
        for client_id, entry in list(self.outbox.items()):
            wait = ACK_TIMEOUT_S * 2 ** max(0, entry.sends - 1)
            if not entry.acked and time.monotonic() - entry.sent_at > wait:
                await self.send(client_id)


def room_of(index: int, room_size: int, big_room: int) -> str:
    if index < big_room:
        return "big"
    return f"load{(index - big_room) // room_size}"


async def connect(url: str, index: int, room_size: int, big_room: int = 0) -> Client:
    """Join, trying again when the handshake is refused (its $connect may be killed)."""
    room = room_of(index, room_size, big_room)
    address = f"{url}?room={room}&name=c{index}"
    for attempt in range(MOST_SENDS):
        try:
            ws = await websockets.connect(
                address,
                max_queue=None,
                ping_interval=None,
                open_timeout=300,
            )
        except websockets.InvalidStatus:
            await asyncio.sleep(0.2 * (attempt + 1))
            continue
        client = Client(ws, room, index, url=address)
        client.start()
        return client
    raise SystemExit(f"client {index} could not join")


async def join(url: str, clients: int, room_size: int, big_room: int = 0) -> list[Client]:
    joined: list[Client] = []
    for start in range(0, clients, 50):
        batch = [
            connect(url, index, room_size, big_room)
            for index in range(start, min(clients, start + 50))
        ]
        joined += await asyncio.gather(*batch)
    return joined


async def send_round(
    clients: list[Client], tag: str, messages: int, reconnecting: set[int] = frozenset()
) -> dict[str, Client]:
    """Every client sends ``messages`` messages, one every 0.55 s; those ``reconnecting``
    drop their connection and come back halfway. Returns each message's sender by its
    clientId."""
    sent: dict[str, Client] = {}

    async def sender(client: Client) -> None:
        await asyncio.sleep((client.index % 100) * 0.0055)  # spread the clients
        for number in range(messages):
            if client.index in reconnecting and number == messages // 2:
                await client.reconnect()
            client_id = uuid.uuid4().hex
            client.outbox[client_id] = Outgoing(f"{tag}-{client.index}-{number}")
            sent[client_id] = client
            await client.send(client_id)
            await asyncio.sleep(0.55)

    await asyncio.gather(*(sender(client) for client in clients))
    return sent


@dataclass
class Count:
    lost_untold: int = 0
    """Members without an acknowledged message whose sender was never told: the promise
    broken."""
    lost_told: int = 0
    """Members without a message whose sender got delivery_failed."""
    not_acked_missing: int = 0
    """Members without a message never acknowledged (its page shows it failed)."""
    duplicates_shown: int = 0
    unacked: int = 0
    told: int = 0


def count(clients: list[Client], sent: dict[str, Client]) -> Count:
    rooms: dict[str, list[Client]] = {}
    for client in clients:
        rooms.setdefault(client.room, []).append(client)
    result = Count()
    for client_id, sender in sent.items():
        entry = sender.outbox[client_id]
        if sender.closed_by is not None and not entry.acked:
            continue  # its page lost the connection: it sends again after reconnecting
        result.unacked += not entry.acked
        result.told += entry.told
        for other in rooms[sender.room]:
            if other is sender or other.closed_by is not None or other.reconnects:
                continue  # a member the stage disconnected, or away a while, is owed nothing
            ids = other.received.get(client_id, set())
            if not ids:
                if entry.told:
                    result.lost_told += 1
                elif entry.acked:
                    result.lost_untold += 1
                else:
                    result.not_acked_missing += 1
            result.duplicates_shown += len(ids) > 1
    return result


async def run(args: argparse.Namespace) -> None:
    port = free_port()
    options = ["--inject-faults", args.faults] if args.faults else []
    injected = {"killed": 0, "answered 500": 0}

    def tally(line: str) -> None:
        if "fault injected: worker killed" in line:
            injected["killed"] += 1
        elif "fault injected:" in line and "answered 500" in line:
            injected["answered 500"] += 1

    stage, _ = start_stage(port, [], options, tally)
    try:
        url = f"ws://127.0.0.1:{port}"
        started = time.perf_counter()
        clients = await join(url, args.clients, args.room_size, args.big_room)
        print(f"{args.clients} clients in rooms of {args.room_size} (and one of "
              f"{args.big_room}): joined in {time.perf_counter() - started:.1f} s; faults "
              f"{args.faults or 'none'}; reconnecting {args.reconnect:.0%} a round")  # fmt: skip
        rooms: dict[str, int] = {}
        for client in clients:
            rooms[client.room] = rooms.get(client.room, 0) + 1
        expected_per_round = args.messages * sum(n * (n - 1) for n in rooms.values())
        every = max(1, round(1 / args.reconnect)) if args.reconnect else 0
        for round_number in range(1, args.rounds + 1):
            tag = f"r{round_number}"
            started = time.perf_counter()
            frames_before = sum(c.frames for c in clients)
            reconnecting = (
                {c.index for c in clients if (c.index + round_number) % every == 0}
                if every
                else set()
            )
            sent = await send_round(clients, tag, args.messages, reconnecting)
            sending = time.perf_counter() - started
            deadline = time.monotonic() + DEADLINE_S
            said = time.monotonic()
            while time.monotonic() < deadline:
                result = count(clients, sent)
                missing = result.lost_untold + result.lost_told + result.not_acked_missing
                if not missing and not result.unacked:
                    break
                if time.monotonic() - said > 60:
                    said = time.monotonic()
                    print(f"  after {time.perf_counter() - started:.0f} s: {result}", flush=True)
                await asyncio.gather(*(client.resend_unacked() for client in clients))
                await asyncio.sleep(1)
            total = time.perf_counter() - started
            frames = sum(c.frames for c in clients) - frames_before
            shown = sum(len(ids) for c in clients for k, ids in c.received.items() if k in sent)
            memory = memory_lines(stage.pid)
            print(
                f"round {round_number}: {len(sent)} messages, {expected_per_round} deliveries "
                f"expected; sent in {sending:.1f} s, all in {total:.1f} s "
                f"({len(sent) / total:.0f} messages/s); lost without the sender told "
                f"{result.lost_untold}, lost and told {result.lost_told}, missing and never "
                f"acknowledged {result.not_acked_missing}, duplicates shown "
                f"{result.duplicates_shown}, missing acks {result.unacked}, senders told "
                f"{result.told}, frames received twice {frames - shown}, connections the "
                f"stage closed {sum(c.closed_by is not None for c in clients)} "
                f"({sorted({c.closed_by for c in clients if c.closed_by})}); "
                f"stage RSS {memory['stage and workers']} MB; faults so far: "
                f"{injected['killed']} workers killed, {injected['answered 500']} posts "
                f"answered 500; reconnects {len(reconnecting)}"
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
    parser.add_argument(
        "--faults", help="wslocal start --inject-faults, e.g. kill=0.01,post-500=0.01"
    )
    parser.add_argument(
        "--big-room", type=int, default=0, help="this many clients in one room, sharded"
    )
    parser.add_argument(
        "--reconnect", type=float, default=0.0, help="share of clients reconnecting a round"
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
