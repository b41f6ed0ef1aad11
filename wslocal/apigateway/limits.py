"""API Gateway's WebSocket limits, and the close codes the service uses for them."""

from __future__ import annotations

from dataclasses import dataclass

MESSAGE_TOO_BIG = 1009
GOING_AWAY = 1001


@dataclass(frozen=True)
class Limits:
    """Defaults are API Gateway's; tests shorten the timeouts to seconds."""

    max_message_bytes: int = 128 * 1024
    max_frame_bytes: int = 32 * 1024
    idle_timeout: float = 10 * 60
    max_duration: float = 2 * 60 * 60
    max_post_bytes: int = 128 * 1024
    """Largest @connections POST body; over it the API answers 413."""

    @property
    def websocket_max_size(self) -> tuple[int, int]:
        """``(message, fragment)`` sizes for the WebSocket parser: over either, the
        connection is closed with 1009 as API Gateway does."""
        return (self.max_message_bytes, self.max_frame_bytes)


def seconds_until_timeout(
    limits: Limits, now: float, connected_at: float, last_active_at: float
) -> float:
    """How long the connection may stay as it is; <= 0 means close it with 1001."""
    return min(last_active_at + limits.idle_timeout, connected_at + limits.max_duration) - now


def timeout_reason(limits: Limits, now: float, connected_at: float) -> str:
    """The reason text of the 1001 close: which of the two limits ran out."""
    if now - connected_at >= limits.max_duration:
        return "Going away: maximum connection duration reached"
    return "Going away: idle timeout"
