"""Framed messages between the stage and its worker processes: a 4-byte big-endian
length, then that many bytes of UTF-8 JSON. The handler's own stdout and stderr are its
logs and never carry a frame."""

from __future__ import annotations

import json
import struct
from typing import Any

HEADER = struct.Struct(">I")
MAX_FRAME_BYTES = 64 * 1024 * 1024


class FramingError(ValueError):
    """A frame was too large or not a JSON object."""


def encode_frame(message: dict[str, Any]) -> bytes:
    payload = json.dumps(message, separators=(",", ":")).encode("utf-8")
    if len(payload) > MAX_FRAME_BYTES:
        raise FramingError(f"frame of {len(payload)} bytes is over {MAX_FRAME_BYTES}")
    return HEADER.pack(len(payload)) + payload


def frame_length(header: bytes) -> int:
    (length,) = HEADER.unpack(header)
    if length > MAX_FRAME_BYTES:
        raise FramingError(f"frame of {length} bytes is over {MAX_FRAME_BYTES}")
    return int(length)


def decode_payload(payload: bytes) -> dict[str, Any]:
    message = json.loads(payload.decode("utf-8"))
    if not isinstance(message, dict):
        raise FramingError("a frame must hold a JSON object")
    return message
