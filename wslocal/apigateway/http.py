"""Just enough HTTP/1.1 for the stage's own endpoints: parse a request head, build a
response. The WebSocket handshake itself is parsed by the websockets library."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import NamedTuple
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
    by_name: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    """Lower-cased names to their first value: the hot loop asks for several headers of
    every request, so they are indexed once (by the parser as it reads them, else here)."""
    path: str = field(init=False, repr=False, compare=False)
    """The target's path (no query, no fragment, no scheme and authority)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", request_path(self.target))
        if self.headers and not self.by_name:
            for key, value in self.headers:
                self.by_name.setdefault(key.lower(), value)

    def header(self, name: str) -> str | None:
        """The first value of a header, whatever the case of its name."""
        return self.by_name.get(name.lower())

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
        if not (value.isascii() and value.isdigit()):  # "²" is a digit to isdigit()
            raise HttpError(400, "bad Content-Length")
        return int(value)


def request_path(target: str) -> str:
    """A request target's path (no query, no fragment, no scheme and authority)."""
    if target[:1] == "/" and target[:2] != "//" and "?" not in target and "#" not in target:
        return target  # origin form, nothing to split off (the hot loop's targets)
    return urlsplit(target).path or "/"


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
    request_line, _, fields = head.decode("latin-1").partition("\r\n")
    parts = request_line.split(" ")
    if len(parts) != 3:
        raise HttpError(400, "malformed request line")
    method, target, version = parts
    if not version.startswith("HTTP/1."):
        raise HttpError(505, "HTTP/1.x only")
    headers = []
    by_name: dict[str, str] = {}
    for line in fields.split("\r\n"):
        if not line:
            continue
        name, separator, value = line.partition(":")
        name = name.strip()
        if not separator or not name:
            raise HttpError(400, "malformed header line")
        value = value.strip()
        headers.append((name, value))
        by_name.setdefault(name.lower(), value)
    return HttpRequest(method, target, tuple(headers), version, by_name)


class PlainHead(NamedTuple):
    """What ``parse_plain_head`` reads of a request: all that answering an
    ``@connections`` call needs."""

    method: str
    path: str
    content_length: int
    keep_alive: bool


_NOT_A_FIELD_LINE = re.compile(r"\r\n(?![!#$%&'*+.^_`|~0-9A-Za-z-]+:)")
"""A header line that does not start with a token and a colon (searched for, never
found in a plain head)."""
_CONTENT_LENGTH = "\r\ncontent-length:"
_CONNECTION = "\r\nconnection:"


def parse_plain_head(buffer: bytes, head_end: int) -> PlainHead | None:
    """The head ``buffer[:head_end]`` read as ``parse_request_head`` reads it, if it has
    the plain shape every HTTP client sends (a three-part request line of HTTP/1.x, each
    header line a token and a colon, no Transfer-Encoding or Upgrade, a Content-Length of
    digits); else None, and ``parse_request_head`` reads it. It builds neither the header
    list nor their index: the names it needs are found in the lower-cased head, which is
    exact because a plain head's names are its lines' first characters."""
    if head_end > MAX_HEAD_BYTES:
        return None
    text = buffer[:head_end].decode("latin-1")
    line_end = text.find("\r\n")
    parts = text[:line_end].split(" ")
    if len(parts) != 3:
        return None
    method, target, version = parts
    if not version.startswith("HTTP/1.") or _NOT_A_FIELD_LINE.search(text, line_end, head_end - 4):
        return None
    lowered = text.lower()
    if "\r\ntransfer-encoding:" in lowered or "\r\nupgrade:" in lowered:
        return None
    # The two fields the answer needs, found inline: this runs for every post.
    start = lowered.find(_CONTENT_LENGTH)
    if start < 0:
        length = 0
    else:
        start += len(_CONTENT_LENGTH)
        value = lowered[start : lowered.find("\r\n", start)].strip()
        if not value:
            length = 0
        elif value.isascii() and value.isdigit():
            length = int(value)
        else:
            return None
    start = lowered.find(_CONNECTION)
    if start < 0:
        connection = None
    else:
        start += len(_CONNECTION)
        connection = lowered[start : lowered.find("\r\n", start)].strip()
    keep_alive = connection == "keep-alive" if version == "HTTP/1.0" else connection != "close"
    return PlainHead(method, request_path(target), length, keep_alive)


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
