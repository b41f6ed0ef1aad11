"""A small Debug Adapter Protocol client, as VS Code speaks it to debugpy: JSON messages
behind a ``Content-Length`` header on a TCP socket. Enough to attach, set breakpoints,
see a thread stop and let it go on; every wait has a deadline."""

import contextlib
import json
import socket
import time
from pathlib import Path
from typing import Any


class DapClient:
    def __init__(self, host: str, port: int, timeout: float = 30.0) -> None:
        self._timeout = timeout
        self._socket = self._connect(host, port)
        self._buffer = b""
        self._seq = 0
        self._received: list[dict[str, Any]] = []

    def _connect(self, host: str, port: int) -> socket.socket:
        """The worker may still be starting: try until the deadline."""
        deadline = time.monotonic() + self._timeout
        while True:
            try:
                return socket.create_connection((host, port), timeout=1.0)
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def close(self) -> None:
        self._socket.close()

    def __enter__(self) -> "DapClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, command: str, **arguments: Any) -> int:
        """A request; its ``seq``, to wait for its response."""
        self._seq += 1
        body = json.dumps(
            {"seq": self._seq, "type": "request", "command": command, "arguments": arguments}
        ).encode()
        self._socket.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        return self._seq

    def response(self, seq: int) -> dict[str, Any]:
        """The response to request ``seq``; a failed one raises."""
        message = self._wait(lambda m: m["type"] == "response" and m["request_seq"] == seq)
        if not message["success"]:
            raise AssertionError(f"{message['command']} failed: {message.get('message')}")
        return message

    def event(self, name: str) -> dict[str, Any]:
        """The first event ``name`` not taken yet."""
        return self._wait(lambda m: m["type"] == "event" and m["event"] == name)

    def request(self, command: str, **arguments: Any) -> dict[str, Any]:
        return self.response(self.send(command, **arguments))

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
            self._received.append(self._read(remaining))

    def _read(self, timeout: float) -> dict[str, Any]:
        self._socket.settimeout(timeout)
        while b"\r\n\r\n" not in self._buffer:
            self._fill()
        head, self._buffer = self._buffer.split(b"\r\n\r\n", 1)
        headers = dict(line.split(b":", 1) for line in head.split(b"\r\n"))
        length = int(headers[b"Content-Length"])
        while len(self._buffer) < length:
            self._fill()
        body, self._buffer = self._buffer[:length], self._buffer[length:]
        return json.loads(body)  # type: ignore[no-any-return]

    def _fill(self) -> None:
        chunk = self._socket.recv(65536)
        if not chunk:
            raise ConnectionError("the debug adapter closed the connection")
        self._buffer += chunk


def attach_with_breakpoint(client: DapClient, path: str, line: int) -> None:
    """What VS Code does on an attach: initialize, attach, a breakpoint at ``path:line``
    (verified), configurationDone."""
    client.request(
        "initialize",
        clientID="wslocal-tests",
        adapterID="debugpy",
        linesStartAt1=True,
        columnsStartAt1=True,
        pathFormat="path",
    )
    attach = client.send("attach", justMyCode=False)
    client.event("initialized")
    breakpoints = client.request(
        "setBreakpoints", source={"path": path}, breakpoints=[{"line": line}]
    )["body"]["breakpoints"]
    assert breakpoints[0]["verified"], breakpoints
    client.request("configurationDone")
    client.response(attach)


def breakpoint_line(path: Path, marker: str = "# breakpoint here") -> int:
    """The line of ``path`` marked for the debugging tests' breakpoint."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, 1) if marker in line)


def stop_once(host: str, port: int, path: Path, hold_s: float = 0.0) -> dict[str, Any]:
    """Attach, break on ``path``'s marked line, hold the stopped call ``hold_s``, let it
    go on; the ``stopped`` event's body, with the ``line`` of its top frame."""
    with DapClient(host, port) as client:
        attach_with_breakpoint(client, str(path), breakpoint_line(path))
        stopped: dict[str, Any] = client.event("stopped")["body"]
        frames = client.request("stackTrace", threadId=stopped["threadId"])["body"]
        stopped["line"] = frames["stackFrames"][0]["line"]
        time.sleep(hold_s)
        resumed = client.send("continue", threadId=stopped["threadId"])
        # A worker whose call was the last (wslocal invoke) may end before its answer
        # reaches us: the connection closing is that answer.
        with contextlib.suppress(ConnectionError):
            client.response(resumed)
        return stopped
