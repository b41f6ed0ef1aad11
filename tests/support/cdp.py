"""A small Chrome DevTools Protocol client, as VS Code's Node debugger speaks it to Node's
inspector: JSON messages on the WebSocket that ``/json/list`` names. Enough to attach,
set a breakpoint by the file's URL, let a waiting worker run, see the call pause and let
it go on; every wait has a deadline."""

import contextlib
import json
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect


def debugger_url(host: str, port: int, timeout: float) -> str:
    """The inspector's WebSocket URL; the worker may still be starting: ask until the
    deadline."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://{host}:{port}/json/list", timeout=2) as answer:
                return str(json.loads(answer.read())[0]["webSocketDebuggerUrl"])
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@contextmanager
def attached(host: str, port: int, timeout: float = 30.0) -> Iterator["CdpClient"]:
    """A client of the inspector listening on ``host:port``, closed on leaving."""
    url = debugger_url(host, port, timeout)
    with connect(url, open_timeout=timeout, max_size=None) as connection:
        yield CdpClient(connection, timeout)


class CdpClient:
    def __init__(self, connection: ClientConnection, timeout: float) -> None:
        self._connection = connection
        self._timeout = timeout
        self._id = 0
        self._received: list[dict[str, Any]] = []

    def send(self, method: str, **params: Any) -> int:
        """A command; its ``id``, to wait for its result."""
        self._id += 1
        self._connection.send(json.dumps({"id": self._id, "method": method, "params": params}))
        return self._id

    def result(self, command_id: int) -> dict[str, Any]:
        """The result of command ``command_id``; an error raises."""
        message = self._wait(lambda m: m.get("id") == command_id)
        if "error" in message:
            raise AssertionError(f"command {command_id} failed: {message['error']}")
        return message["result"]  # type: ignore[no-any-return]

    def command(self, method: str, **params: Any) -> dict[str, Any]:
        return self.result(self.send(method, **params))

    def event(self, method: str) -> dict[str, Any]:
        """The parameters of the first event ``method`` not taken yet."""
        return self._wait(lambda m: m.get("method") == method)["params"]  # type: ignore[no-any-return]

    def event_of(self, *methods: str) -> dict[str, Any]:
        """The first event, whole, of any of ``methods`` not taken yet."""
        return self._wait(lambda m: m.get("method") in methods)

    def _wait(self, wanted: Any) -> dict[str, Any]:
        deadline = time.monotonic() + self._timeout
        while True:
            for message in self._received:
                if wanted(message):
                    self._received.remove(message)
                    return message
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no such message; received {self._received}")
            self._received.append(json.loads(self._connection.recv(timeout=remaining)))


def stop_once(host: str, port: int, path: Path, line: int, hold_s: float = 0.0) -> dict[str, Any]:
    """What VS Code's ``"type": "node"`` attach does, then one stop: enable the debugger,
    a breakpoint on ``path:line`` by its file URL, tell a worker waiting for a debugger to
    run (now, and again if it says it waits later: ``NodeRuntime.waitingForDebugger``);
    the call pauses there, is held ``hold_s``, resumed. The ``Debugger.paused`` event's
    parameters, with the ``line`` (1-based) of its top frame and whether it is the
    breakpoint set (``at_breakpoint``)."""
    with attached(host, port) as client:
        client.command("Runtime.enable")
        client.command("Debugger.enable")
        breakpoint = client.command(
            "Debugger.setBreakpointByUrl", lineNumber=line - 1, url=path.resolve().as_uri()
        )
        client.command("NodeRuntime.enable")
        client.command("Runtime.runIfWaitingForDebugger")
        while True:
            message = client.event_of("Debugger.paused", "NodeRuntime.waitingForDebugger")
            if message["method"] == "Debugger.paused":
                break
            client.command("Runtime.runIfWaitingForDebugger")
        paused: dict[str, Any] = message["params"]
        paused["line"] = paused["callFrames"][0]["location"]["lineNumber"] + 1
        paused["at_breakpoint"] = breakpoint["breakpointId"] in paused.get("hitBreakpoints", [])
        time.sleep(hold_s)
        resumed = client.send("Debugger.resume")
        # A worker whose call was the last (wslocal invoke) may end before its answer
        # reaches us: the connection closing is that answer.
        with contextlib.suppress(ConnectionClosed):
            client.result(resumed)
        return paused
