"""A fake of the API Gateway Management API client, for the cases moto cannot play:
moto's mock never answers 410 and accepts any connection id, so a test that needs a
GoneException uses this fake (and says so)."""

import threading
from typing import Any

from botocore.exceptions import ClientError


class GoneException(ClientError):
    """Shaped like boto3's: a subclass of ClientError."""


class _Exceptions:
    GoneException = GoneException


class FakeManagementApi:
    """Records posts; answers 410 for ids in ``gone``; thread-safe like a boto3 client."""

    exceptions = _Exceptions

    def __init__(self, gone: set[str] | None = None, failing: set[str] | None = None) -> None:
        self.gone = set(gone or ())
        self.failing = set(failing or ())
        self.posts: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()

    def post_to_connection(
        self, ConnectionId: str, Data: bytes, timeout_s: float | None = None
    ) -> dict[str, Any]:
        if ConnectionId in self.gone:
            raise GoneException(
                {"Error": {"Code": "GoneException", "Message": ""}}, "PostToConnection"
            )
        if ConnectionId in self.failing:
            raise ClientError(
                {"Error": {"Code": "LimitExceededException", "Message": ""}}, "PostToConnection"
            )
        with self._lock:
            self.posts.append((ConnectionId, Data))
        return {}

    def received_by(self, connection_id: str) -> list[bytes]:
        return [data for target, data in self.posts if target == connection_id]
