"""wscat, the client the README tells people to use, against the chat on the stage."""

import json
import queue
import subprocess
import threading
import time

import pytest

from tests.support.paths import ROOT
from wslocal.apigateway.connections import ConnectionState

pytestmark = pytest.mark.integration

WSCAT = ROOT / "node_modules" / ".bin" / "wscat"


class Wscat:
    """wscat in a subprocess; stdin stays open (wscat exits when it closes). A thread
    reads its output, so a silent wscat fails the test instead of hanging it."""

    def __init__(self, url: str) -> None:
        assert WSCAT.exists(), "wscat is missing: run `npm ci` (make test does)"
        self.process = subprocess.Popen(
            [str(WSCAT), "--no-color", "-c", url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def send(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()

    def expect(self, predicate, timeout: float = 15) -> dict:
        """The first JSON line wscat prints (``< {...}``) that satisfies ``predicate``."""
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            seen.append(line)
            start = line.find("{")
            if start >= 0:
                envelope = json.loads(line[start:])
                if predicate(envelope):
                    return envelope
        raise AssertionError(f"wscat printed nothing that matched: {seen}")

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def wait_for_open_connections(stage, count: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while sum(c.state is ConnectionState.OPEN for c in stage.stage.registry) < count:
        assert time.monotonic() < deadline, "wscat did not connect"
        time.sleep(0.05)


def test_two_wscat_sessions_in_one_room_exchange_messages(chat_stage, room):
    before = sum(c.state is ConnectionState.OPEN for c in chat_stage.stage.registry)
    alice = Wscat(f"{chat_stage.url}?room={room}&name=alice")
    try:
        wait_for_open_connections(chat_stage, before + 1)
        bob = Wscat(f"{chat_stage.url}?room={room}&name=bob")
        try:
            alice.expect(lambda e: e.get("type") == "presence" and "bob" in e["joined"])
            # The join is announced during bob's $connect; wscat drops what it reads on
            # stdin before its connection opens, so wait for that too.
            wait_for_open_connections(chat_stage, before + 2)
            bob.send('{"action":"sendMessage","message":"Hello world"}')
            got = alice.expect(lambda e: e.get("type") == "newMessage")
            assert (got["payload"], got["sender"]) == ("Hello world", "bob")
            alice.send('{"action":"sendMessage","message":"hi bob"}')
            assert bob.expect(lambda e: e.get("type") == "newMessage")["payload"] == "hi bob"
        finally:
            bob.close()
    finally:
        alice.close()
