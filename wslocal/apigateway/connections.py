"""The connection registry: every WebSocket connection the stage holds, by connection id.

The server registers a connection when its handshake arrives (state CONNECTING while
$connect runs), marks it OPEN when $connect accepts it and CLOSED when it ends. The
``@connections`` API reads it. The clock is injected, nothing here is global.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


class ConnectionState(enum.Enum):
    CONNECTING = "connecting"
    OPEN = "open"
    CLOSING = "closing"
    """A ``DELETE`` on ``@connections`` closed it: gone to the API at once, while the
    closing handshake with the client still runs."""
    CLOSED = "closed"


class Outbound(Protocol):
    """How the registry's users reach a client: the server implements it."""

    def send(self, data: bytes) -> None: ...

    def close(self, code: int, reason: str) -> None: ...


@dataclass
class LocalConnection:
    connection_id: str
    connected_at: float
    """Epoch seconds."""
    source_ip: str
    user_agent: str
    outbound: Outbound
    last_active_at: float
    state: ConnectionState = ConnectionState.CONNECTING
    authorizer: Mapping[str, Any] | None = field(default=None)

    @property
    def connected_at_ms(self) -> int:
        return int(self.connected_at * 1000)


class ConnectionRegistry:
    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._connections: dict[str, LocalConnection] = {}

    def register(
        self,
        connection_id: str,
        outbound: Outbound,
        source_ip: str,
        user_agent: str = "",
    ) -> LocalConnection:
        now = self._clock()
        connection = LocalConnection(
            connection_id=connection_id,
            connected_at=now,
            source_ip=source_ip,
            user_agent=user_agent,
            outbound=outbound,
            last_active_at=now,
        )
        self._connections[connection_id] = connection
        return connection

    def get(self, connection_id: str) -> LocalConnection | None:
        return self._connections.get(connection_id)

    def open(self, connection_id: str) -> None:
        self._connections[connection_id].state = ConnectionState.OPEN

    def closing(self, connection_id: str) -> None:
        """The service closes it: from now on ``@connections`` answers 410 for it."""
        connection = self._connections.get(connection_id)
        if connection is not None and connection.state is ConnectionState.OPEN:
            connection.state = ConnectionState.CLOSING

    def touch(self, connection_id: str) -> None:
        """Record client activity (it resets the idle timeout)."""
        connection = self._connections.get(connection_id)
        if connection is not None:
            connection.last_active_at = self._clock()

    def unregister(self, connection_id: str) -> LocalConnection | None:
        connection = self._connections.pop(connection_id, None)
        if connection is not None:
            connection.state = ConnectionState.CLOSED
        return connection

    def __len__(self) -> int:
        return len(self._connections)

    def __iter__(self) -> Iterator[LocalConnection]:
        return iter(list(self._connections.values()))
