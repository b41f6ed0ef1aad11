"""API Gateway's limits (WebSocket, @connections, REST and HTTP payloads), and the close
codes the service uses for them."""

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
    max_proxy_payload_bytes: int = 10 * 1024 * 1024
    """Largest request body of a REST or HTTP API (API Gateway's 10 MB); over it, 413."""
    max_inflight_messages: int = 100
    """Messages of one connection being handled at once; more are answered "Too Many
    Requests" (the stage's bound: API Gateway's throttling is per route and account)."""
    send_buffer_bytes: int = 4 * 1024 * 1024
    """Bytes waiting for a client that does not read; over it the connection is closed."""
    request_head_timeout: float = 10.0
    """Seconds for an HTTP request's head (and body) to arrive; else 408."""
    keep_alive_idle: float = 60.0
    """Seconds an idle keep-alive HTTP connection stays open between requests."""

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
