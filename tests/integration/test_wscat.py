"""wscat, the client the README tells people to use, against the chat on the stage."""

import json
import subprocess
import time

import pytest

from tests.support.paths import ROOT

pytestmark = pytest.mark.integration

WSCAT = ROOT / "node_modules" / ".bin" / "wscat"


class Wscat:
    """wscat in a subprocess; stdin stays open (wscat exits when it closes)."""

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

    def send(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()

    def expect(self, predicate, timeout: float = 15) -> dict:
        """The first JSON line wscat prints (``< {...}``) that satisfies ``predicate``."""
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
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


def wait_for_connections(stage, count: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while len(stage.stage.registry) < count:
        assert time.monotonic() < deadline, "wscat did not connect"
        time.sleep(0.05)


def test_two_wscat_sessions_in_one_room_exchange_messages(chat_stage, room):
    before = len(chat_stage.stage.registry)
    alice = Wscat(f"{chat_stage.url}?room={room}&name=alice")
    try:
        wait_for_connections(chat_stage, before + 1)
        bob = Wscat(f"{chat_stage.url}?room={room}&name=bob")
        try:
            alice.expect(lambda e: e.get("type") == "presence" and e["name"] == "bob")
            bob.send('{"action":"sendMessage","message":"Hello world"}')
            got = alice.expect(lambda e: e.get("type") == "newMessage")
            assert (got["payload"], got["sender"]) == ("Hello world", "bob")
            alice.send('{"action":"sendMessage","message":"hi bob"}')
            assert bob.expect(lambda e: e.get("type") == "newMessage")["payload"] == "hi bob"
        finally:
            bob.close()
    finally:
        alice.close()
