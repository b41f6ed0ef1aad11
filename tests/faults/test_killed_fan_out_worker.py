"""The delivery guarantee with a FanOutFunction worker really killed (SIGKILL) in the middle
of a broadcast on its one-thread path (first attempts over non-blocking sockets, the local
stage's plain-HTTP ``@connections``): the shard's message was not deleted, so it returns
through SQS after the queue's visibility timeout and the next worker posts it to every
member. A member reached before the kill has it twice; pages show it once, by id."""

import json
import re
import time
from contextlib import ExitStack

import pytest
from websockets.sync.client import connect

from tests.support.paths import ROOT
from tests.support.stage import chat_on_engines_of_its_own, chat_template_with

pytestmark = pytest.mark.integration

OTHERS = 4
"""Members besides the sender: more than the room size posted inline, so in a shard."""
VISIBILITY_TIMEOUT_S = 5
"""The fan-out queue's, shortened from the template's 180 s so the test waits less."""

KILLED_MID_BROADCAST = '''"""FanOut; its worker kills itself (SIGKILL) once, on the
one-thread path, when the first answer of a "midway" message comes in while the rest of
its shard is still to be posted (two posts in flight at most, so two of four are not
started). A marker file says it happened, and how many posts had started."""

import importlib.util
import os
import signal
from pathlib import Path

from chatroom.fanout.management_api import KeepAliveManagementApi

_spec = importlib.util.spec_from_file_location("real_fan_out", {app!r})
_real = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_real)
_real.fan_out._fan_out._broadcaster.max_workers = 2
_MARKER = Path({marker!r})
_exchange_all = KeepAliveManagementApi.exchange_all


def _exchange_all_or_die(self, requests, answered, *args, **kwargs):
    midway = set()

    def watched():
        for item in requests:
            if item is not None and b"midway" in item[1]:
                midway.add(item[0])
            yield item

    def answered_or_die(key, response):
        answered(key, response)
        if key in midway and not _MARKER.exists():
            _MARKER.write_text(str(len(midway)))
            os.kill(os.getpid(), signal.SIGKILL)

    return _exchange_all(self, watched(), answered_or_die, *args, **kwargs)


KeepAliveManagementApi.exchange_all = _exchange_all_or_die
lambda_handler = _real.lambda_handler
'''


@pytest.fixture(scope="module")
def killing_stage(tmp_path_factory):
    """The chat with FanOutFunction wrapped, rooms of more than 2 in shards and the
    fan-out queue's visibility timeout short, on its own DynamoDB Local and SQS."""
    app = tmp_path_factory.mktemp("killed_fan_out_app")
    wrapper = app / "fan_out"
    wrapper.mkdir()
    marker = app / "killed"
    source = KILLED_MID_BROADCAST.format(
        app=str(ROOT / "functions" / "fan_out" / "app.py"), marker=str(marker)
    )
    (wrapper / "app.py").write_text(source)
    text = chat_template_with("fan_out", wrapper)
    text, inline = re.subn(r"(InlineFanOutMax:\n\s+Type: Number\n\s+Default:) 100", r"\1 2", text)
    text, visibility = re.subn(
        r"(FanOutQueue:\n(?:.*\n)*?\s+VisibilityTimeout:) 180", rf"\1 {VISIBILITY_TIMEOUT_S}", text
    )
    assert (inline, visibility) == (1, 1), "the template's parameter or queue moved"
    with chat_on_engines_of_its_own(app, text) as running:
        running.marker = marker
        yield running


def message_ids(socket, until_s: float) -> set[str]:
    """The ids of the newMessages the socket gets before ``until_s`` (monotonic), a
    second copy included (it would come within a few seconds of the first)."""
    seen: set[str] = set()
    while (left := until_s - time.monotonic()) > 0:
        try:
            envelope = json.loads(socket.recv(timeout=left))
        except TimeoutError:
            break
        if envelope.get("type") == "newMessage":
            seen.add(envelope["id"])
            until_s = min(until_s, time.monotonic() + VISIBILITY_TIMEOUT_S + 5)
    return seen


def test_a_fan_out_worker_killed_mid_broadcast_reaches_every_member_through_sqs(killing_stage):
    url = killing_stage.url
    with ExitStack() as sockets:
        alice = sockets.enter_context(connect(f"{url}?room=killed&name=alice"))
        others = [
            sockets.enter_context(connect(f"{url}?room=killed&name=m{index}"))
            for index in range(OTHERS)
        ]
        body = {"action": "sendMessage", "message": "midway", "clientId": "c-killed"}
        alice.send(json.dumps(body))
        while (ack := json.loads(alice.recv(timeout=30))).get("type") != "ack":
            pass
        until = time.monotonic() + 60
        reached = [message_ids(member, until) for member in others]
    # the worker died on the one-thread path with members of the shard not yet posted
    assert int(killing_stage.marker.read_text()) < OTHERS
    # and every member has the message, once by id, from the shard SQS gave back
    assert reached == [{ack["id"]}] * OTHERS
