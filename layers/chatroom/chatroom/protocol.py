"""The chat's wire protocol: what clients may send, and every envelope the server sends.

Every handler parses and builds messages through this module only, so the protocol is
written down once (the README's "Wire protocol" section describes the same thing).
"""

from __future__ import annotations

import json
import re
import secrets
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chatroom.exceptions import InvalidJoinError, InvalidMessageError, ProtocolError

DEFAULT_ROOM = "lobby"
ROOM_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
CLIENT_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
NAME_MAX_CHARS = 32
NAME_REFUSED_CATEGORIES: tuple[str, ...] = ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs")
"""Unicode categories refused in names (the ASCII space excepted): controls; format
characters (zero-width joiners and spaces, bidi overrides and isolates, which spoof);
surrogates; private use; unassigned; separators other than the plain space. The page's
``rules.js`` has the same table; a test keeps them equal."""
KNOWN_ACTIONS: tuple[str, ...] = ("sendMessage", "history")
DEFAULT_MESSAGE_MAX_BYTES = 16 * 1024
MEMBER_LIST_LIMIT = 200
POST_MAX_BYTES = 128 * 1024
"""The largest payload ``@connections`` accepts (PostToConnection answers 413 above)."""
"""Names listed in a members snapshot; the count is always whole."""

Envelope = dict[str, Any]


@dataclass(frozen=True)
class Join:
    """Where a new connection goes and what it is called, from its connect URL."""

    room: str
    name: str


def generated_name(token: Callable[[int], str] = secrets.token_hex) -> str:
    """A display name for a client that did not give one."""
    return f"guest-{token(2)}"


_OPAQUE_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
DISPLAY_CLAIMS = ("preferred_username", "name", "email", "cognito:username", "username")
"""A verified user's name, from the first of these that makes a name (an e-mail's local
part; a user name only when it is not an opaque id, as in pools where people sign in with
their e-mail or phone)."""


def fit_name(text: str) -> str | None:
    """``text`` made to pass the name rule: the characters it refuses dropped, spaces
    collapsed, cut to NAME_MAX_CHARS; None when nothing is left."""
    kept = "".join(
        char
        for char in text
        if char == " " or unicodedata.category(char) not in NAME_REFUSED_CATEGORIES
    )
    name = " ".join(kept.split())[:NAME_MAX_CHARS].strip()
    return name or None


def display_name(claims: Mapping[str, Any]) -> str:
    """The name a verified user is shown by: never refused for the shape of their id
    (an e-mail pool's ``cognito:username`` is a 36-character UUID), never an opaque id
    when the token has a name meant for display; else ``user-`` and their id's start."""
    for claim in DISPLAY_CLAIMS:
        value = claims.get(claim)
        if not isinstance(value, str):
            continue
        if claim == "email":
            value = value.split("@", 1)[0]
        elif claim in ("cognito:username", "username") and _OPAQUE_ID.fullmatch(value):
            continue
        name = fit_name(value)
        if name is not None:
            return name
    subject = re.sub(r"[^A-Za-z0-9]", "", str(claims.get("sub", "")))
    return f"user-{subject[:8] or secrets.token_hex(4)}"


def parse_join(
    query: Mapping[str, str] | None,
    name_factory: Callable[[], str] = generated_name,
    verified_name: str | None = None,
) -> Join:
    """Read ``?room=&name=`` of a connect request; raise InvalidJoinError with the reason.
    A ``verified_name`` (the authorizer's, from a token) is the name, whatever ``?name=``
    says."""
    query = query or {}
    room = query.get("room", DEFAULT_ROOM)
    if not ROOM_PATTERN.fullmatch(room):
        raise InvalidJoinError(
            "invalid_room", "room must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-'"
        )
    name = verified_name if verified_name is not None else query.get("name")
    if name is None:
        return Join(room=room, name=name_factory())
    name = name.strip(" ")
    if not 1 <= len(name) <= NAME_MAX_CHARS:
        raise InvalidJoinError("invalid_name", f"name must be 1-{NAME_MAX_CHARS} characters")
    if any(char != " " and unicodedata.category(char) in NAME_REFUSED_CATEGORIES for char in name):
        raise InvalidJoinError(
            "invalid_name",
            "name must not have invisible, control or bidi characters, or spaces other than "
            "the plain space",
        )
    return Join(room=room, name=name)


def parse_body(body: str | None) -> dict[str, Any]:
    """Decode an inbound frame; it must be a JSON object."""
    try:
        decoded = json.loads(body or "")
    except ValueError:
        raise InvalidMessageError("invalid_body", "the message must be a JSON object") from None
    if not isinstance(decoded, dict):
        raise InvalidMessageError("invalid_body", "the message must be a JSON object")
    return decoded


@dataclass(frozen=True)
class ChatMessage:
    """A ``sendMessage`` frame's text, and the id its sender gave it (if any)."""

    text: str
    client_id: str | None = None


def parse_client_id(decoded: Mapping[str, Any]) -> str | None:
    """The optional ``clientId``: the sender's own id for a message, which makes a retry
    of it safe (the message is stored and delivered once)."""
    client_id = decoded.get("clientId")
    if client_id is None:
        return None
    if not isinstance(client_id, str) or not CLIENT_ID_PATTERN.fullmatch(client_id):
        raise InvalidMessageError(
            "invalid_client_id", "'clientId' must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-'"
        )
    return client_id


def parse_chat_message(body: str | None, max_bytes: int) -> ChatMessage:
    """Read a ``sendMessage`` frame, or raise with the rule it broke (and its clientId)."""
    decoded = parse_body(body)
    client_id = parse_client_id(decoded)
    message = decoded.get("message")

    def refuse(code: str, why: str) -> InvalidMessageError:
        return InvalidMessageError(code, why, client_id)

    if not isinstance(message, str):
        raise refuse("invalid_message", "'message' must be a string")
    if not message.strip():
        raise refuse("empty_message", "'message' must not be empty")
    try:
        size = len(message.encode("utf-8"))
    except UnicodeEncodeError:
        # JSON's \ud800 escapes decode to lone surrogates, which no UTF-8 can carry.
        raise refuse(
            "invalid_message", "'message' has a lone surrogate: it is not valid Unicode"
        ) from None
    if size > max_bytes:
        raise refuse(
            "message_too_large", f"'message' is {size} bytes of UTF-8; the limit is {max_bytes}"
        )
    return ChatMessage(message, client_id)


def check_envelope_size(envelope: Envelope) -> None:
    """Refuse what would be posted over ``@connections``' 128 KB limit: the envelope as
    encoded (JSON escapes included), not the text as typed."""
    size = len(encode(envelope))
    if size > POST_MAX_BYTES:
        raise InvalidMessageError(
            "message_too_large",
            f"the message encodes to {size} bytes; a post carries at most {POST_MAX_BYTES}",
            envelope.get("clientId"),
        )


def unknown_action_error(body: str | None) -> InvalidMessageError:
    """The error for a frame no route took: bad JSON, or an action we do not know."""
    decoded = parse_body(body)
    action = decoded.get("action")
    known = ", ".join(KNOWN_ACTIONS)
    if action is None:
        return InvalidMessageError("unknown_action", f"missing 'action'; known actions: {known}")
    return InvalidMessageError(
        "unknown_action", f"unknown action {json.dumps(action)}; known actions: {known}"
    )


def not_joined_error() -> InvalidMessageError:
    """The error for a connection the store no longer has (its row expired or was lost)."""
    return InvalidMessageError("not_joined", "this connection is not in a room; reconnect")


def rate_limited_error(rate: Any, client_id: str | None = None) -> ProtocolError:
    """The error for a message over the sender's rate (``rate``: a RateLimit); nothing
    was stored, and sending it again later works."""
    return ProtocolError(
        "rate_limited",
        f"at most {rate.limit} messages every {rate.window_s} s; wait a moment and send again",
        client_id,
    )


def delivery_failed_error(client_id: str | None = None) -> ProtocolError:
    """The error for a message that was stored but could not be sent to the whole room."""
    return ProtocolError(
        "delivery_failed",
        "your message was stored but could not be sent to everyone; it is in the history",
        client_id,
    )


def delivery_failed(client_id: str | None, message_id: str) -> Envelope:
    """The failure notice of a stored message (``delivery_failed``, naming both ids), to
    every connection of its sender."""
    problem = delivery_failed_error(client_id)
    return {**error(problem.code, problem.message, client_id), "messageId": message_id}


def iso_timestamp(epoch_ms: int) -> str:
    """UTC ISO-8601 with milliseconds and a Z, the form every envelope uses."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def new_message(
    *,
    message_id: str,
    room: str,
    sender: str,
    payload: str,
    sent_at_ms: int,
    client_id: str | None = None,
    delivery: str | None = None,
) -> Envelope:
    """A message; ``delivery`` only in a history reply to its own sender, with
    ``"mine": true`` (``pending``, ``handedOff`` or ``failed``: its Retry is offered)."""
    envelope: Envelope = {
        "type": "newMessage",
        "id": message_id,
        "room": room,
        "sender": sender,
        "payload": payload,
        "sentAt": iso_timestamp(sent_at_ms),
    }
    if client_id is not None:
        envelope["clientId"] = client_id
    if delivery is not None:
        envelope["mine"] = True
        envelope["delivery"] = delivery
    return envelope


def ack(
    *, client_id: str | None, message_id: str, sent_at_ms: int, duplicate: bool = False
) -> Envelope:
    """To the sender: its message is stored under ``id`` (``duplicate``: it had been
    already, by an earlier try of the same ``clientId``, and was not stored again)."""
    return {
        "type": "ack",
        "clientId": client_id,
        "id": message_id,
        "sentAt": iso_timestamp(sent_at_ms),
        "duplicate": duplicate,
    }


def members_snapshot(
    names: Sequence[str], as_of_ms: int, limit: int = MEMBER_LIST_LIMIT
) -> Envelope:
    """Who is in the room at ``as_of_ms``: the first ``limit`` names in alphabetical order
    and the whole count. A client keeps the snapshot with the latest ``asOf``."""
    ordered = sorted(names, key=lambda name: (name.casefold(), name))
    return {
        "names": ordered[:limit],
        "count": len(ordered),
        "truncated": len(ordered) > limit,
        "asOf": iso_timestamp(as_of_ms),
    }


def presence(
    room: str,
    *,
    joined: Sequence[str],
    left: Sequence[str],
    members: Envelope,
    ids: tuple[Sequence[str], Sequence[str]] | None = None,
) -> Envelope:
    """Who joined and who left the room since the last announcement, and who is here.
    ``ids`` (``joinedIds``, ``leftIds``): one id per change, the same each time the
    change is announced, so a page shows it once."""
    envelope: Envelope = {
        "type": "presence",
        "room": room,
        "joined": list(joined),
        "left": list(left),
        "members": members,
    }
    if ids is not None:
        envelope["joinedIds"], envelope["leftIds"] = list(ids[0]), list(ids[1])
    return envelope


def history(
    room: str, messages: Sequence[Envelope], members: Envelope, limit: int = POST_MAX_BYTES
) -> Envelope:
    """The room's history, oldest first, cut to the newest messages that fit ``limit``
    bytes once encoded (a route response is a message to the caller: 128 KB at most);
    ``more`` says that older ones were left out."""
    kept = list(messages)
    envelope = {
        "type": "history",
        "room": room,
        "messages": kept,
        "members": members,
        "more": False,
    }
    size = len(encode(envelope))
    while kept and size > limit:
        size -= len(encode(kept[0])) + 1  # the message and its comma
        kept.pop(0)
        envelope["more"] = True
    while kept and len(encode(envelope)) > limit:  # the estimate's last byte or two
        kept.pop(0)
    return envelope


def error(code: str, message: str, client_id: str | None = None) -> Envelope:
    envelope: Envelope = {"type": "error", "code": code, "message": message}
    if client_id is not None:
        envelope["clientId"] = client_id
    return envelope


def encode(envelope: Envelope) -> bytes:
    """Serialise an envelope for the wire: compact JSON in UTF-8."""
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
