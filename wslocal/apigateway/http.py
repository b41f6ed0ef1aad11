"""Just enough HTTP/1.1 for the stage's own endpoints: parse a request head, build a
response. The WebSocket handshake itself is parsed by the websockets library."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import parse_qsl, urlsplit

MAX_HEAD_BYTES = 16 * 1024


class HttpError(ValueError):
    """A request the stage answers with ``status`` and closes."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class HttpRequest:
    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    version: str = "HTTP/1.1"

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None

    @property
    def path(self) -> str:
        return urlsplit(self.target).path or "/"

    @property
    def query(self) -> list[tuple[str, str]]:
        return parse_qsl(urlsplit(self.target).query, keep_blank_values=True)

    @property
    def is_websocket_upgrade(self) -> bool:
        upgrade = (self.header("Upgrade") or "").lower()
        return self.method == "GET" and upgrade == "websocket"

    @property
    def keep_alive(self) -> bool:
        """HTTP/1.1 keeps the connection unless told to close; HTTP/1.0 closes it
        unless told to keep it."""
        connection = (self.header("Connection") or "").lower()
        if self.version == "HTTP/1.0":
            return connection == "keep-alive"
        return connection != "close"

    @property
    def chunked(self) -> bool:
        """The body comes in chunks (``Transfer-Encoding: chunked``), its length known
        once read; other transfer codings are 501."""
        coding = self.header("Transfer-Encoding")
        if coding is None:
            return False
        if coding.strip().lower() != "chunked":
            raise HttpError(501, f"Transfer-Encoding {coding!r}: only chunked is accepted")
        return True

    @property
    def content_length(self) -> int:
        """The declared length; 0 for a chunked body (whose Content-Length, if any, is
        ignored, as HTTP/1.1 says)."""
        if self.chunked:
            return 0
        value = self.header("Content-Length") or "0"
        if not value.isdigit():
            raise HttpError(400, "bad Content-Length")
        return int(value)


_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")


def chunk_size(line: bytes) -> int:
    """The size a chunk's first line announces (hex; ``;extensions`` ignored); the
    caller reads that many bytes and a CRLF, until a chunk of 0."""
    digits = line.split(b";", 1)[0].strip()
    if not _CHUNK_SIZE.fullmatch(digits):
        raise HttpError(400, "malformed chunk size")
    return int(digits, 16)


def parse_request_head(head: bytes) -> HttpRequest:
    """Parse the request line and headers (everything up to the blank line)."""
    if len(head) > MAX_HEAD_BYTES:
        raise HttpError(431, "request head too large")
    try:
        lines = head.decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ")
    except ValueError:
        raise HttpError(400, "malformed request line") from None
    if not version.startswith("HTTP/1."):
        raise HttpError(505, "HTTP/1.x only")
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        name, separator, value = line.partition(":")
        if not separator or not name.strip():
            raise HttpError(400, "malformed header line")
        headers.append((name.strip(), value.strip()))
    return HttpRequest(method=method, target=target, headers=tuple(headers), version=version)


def response_bytes(
    status: int,
    body: bytes = b"",
    headers: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
    *,
    keep_alive: bool = True,
    head_only: bool = False,
) -> bytes:
    """A response; ``headers`` as a map, or as pairs when a name repeats (Set-Cookie).
    Content-Length and Connection are the stage's own."""
    reason = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else ""
    pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers or [])
    own = {"content-length", "connection"}
    lines = [f"HTTP/1.1 {status} {reason}", f"Content-Length: {len(body)}"]
    lines.extend(f"{name}: {value}" for name, value in pairs if name.lower() not in own)
    if not keep_alive:
        lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
    return head if head_only else head + body
