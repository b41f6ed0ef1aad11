"""A JSON-protocol client of one engine's API on the stage's event loop: requests from
``aws_json`` written to kept-alive HTTP/1.1 connections, answers parsed as they arrive.

No thread and no botocore on a poller's path: a call is one ``write`` and the answer's
bytes, read by an ``asyncio.Protocol``. Idle connections are kept for the next call (one
per receive in flight, at most); a kept-alive connection found closed before the request
is written is replaced once at no cost of an attempt, as urllib3 does for botocore; once
written, a lost request costs an attempt (the server may have processed it: a
ReceiveMessage sent again would hide messages until their visibility timeout). Failed
calls are tried again as botocore's standard retry mode does (three attempts, throttling,
5xx and connection errors, backing off).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping
from typing import Any, cast
from urllib.parse import urlsplit

from wslocal.eventsources.aws_json import (
    AwsCallError,
    EndpointError,
    JsonRequests,
    MalformedResponseError,
    Response,
    ServiceError,
    answer,
    backoff_s,
    parse_response,
)

CONNECT_TIMEOUT_S = 2.0
READ_TIMEOUT_S = 60.0
"""botocore's defaults (the stage's clients set ``connect_timeout=2``)."""
ATTEMPTS = 3


class _DroppedWhileIdle(Exception):
    """A kept-alive connection the server closed: the request was not written, or its
    write failed (the server has none of it)."""


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: one exchange at a time."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        self._answer: asyncio.Future[Response] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        self._settle(ended=False)

    def eof_received(self) -> bool:
        self.closed = True
        self._settle(ended=True)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._settle(ended=True)

    def _settle(self, ended: bool) -> None:
        waiting = self._answer
        if waiting is None or waiting.done():
            return
        try:
            response = parse_response(self._buffer, ended)
        except MalformedResponseError as exc:
            waiting.set_exception(exc)
            return
        if response is not None:
            waiting.set_result(response)
        elif ended:
            waiting.set_exception(ConnectionResetError("closed before a whole answer"))

    async def exchange(self, request: bytes, timeout_s: float) -> Response:
        assert self._transport is not None
        if self.closed or self._transport.is_closing():
            raise _DroppedWhileIdle
        self._answer = asyncio.get_running_loop().create_future()
        self._transport.write(request)
        if self._transport.is_closing() and not self._buffer:
            self._answer = None
            raise _DroppedWhileIdle  # the send failed at once
        try:
            async with asyncio.timeout(timeout_s):
                response = await self._answer
        finally:
            self._answer = None
        if response.closes:
            self.close()
        return response

    @property
    def buffered(self) -> bool:
        """Bytes came that no request asked for: the connection is not reused."""
        return bool(self._buffer)

    def close(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.close()


class AwsJsonClient:
    """Calls of one service's JSON actions at one endpoint."""

    def __init__(
        self,
        endpoint_url: str,
        *,
        region: str,
        service: str,
        target_prefix: str,
        credentials: Any,
        query_compatible: bool = False,
        attempts: int = ATTEMPTS,
        random_fraction: Callable[[], float] = random.random,
    ) -> None:
        self._endpoint_url = endpoint_url
        parts = urlsplit(endpoint_url)
        self._address = (
            parts.hostname or "localhost",
            parts.port or (443 if parts.scheme == "https" else 80),
        )
        self._tls = parts.scheme == "https"
        self._requests = JsonRequests(
            endpoint_url,
            region=region,
            service=service,
            target_prefix=target_prefix,
            credentials=credentials,
            query_compatible=query_compatible,
        )
        self._attempts = attempts
        self._random_fraction = random_fraction
        self._idle: list[_Connection] = []

    @classmethod
    def like(cls, client: Any, target_prefix: str) -> AwsJsonClient:
        """A client of the endpoint, region, service and credentials of botocore's
        ``client`` (the stage makes those, with the engines' keys or the user's)."""
        return cls(
            client.meta.endpoint_url,
            region=client.meta.region_name,
            service=client.meta.service_model.signing_name,
            target_prefix=target_prefix,
            credentials=client._get_credentials(),
            query_compatible=client.meta.service_model.is_query_compatible,
        )

    async def call(self, operation: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """The action's output; ``AwsCallError`` once its attempts are spent."""
        retries = 0
        while True:
            try:
                return answer(operation, await self._exchange(operation, payload))
            except AwsCallError as exc:
                if not exc.retryable:
                    raise
                if retries + 1 >= self._attempts:
                    if isinstance(exc, ServiceError):
                        exc.retries = retries
                    raise
            retries += 1
            await asyncio.sleep(backoff_s(retries, self._random_fraction()))

    async def _exchange(self, operation: str, payload: Mapping[str, Any]) -> Response:
        request = self._requests.request(operation, payload)
        while self._idle:
            connection = self._idle.pop()
            if connection.closed:
                continue
            try:
                return await self._exchanged(connection, request)
            except _DroppedWhileIdle:
                break  # once more, on a new connection
        connection = await self._connect()
        try:
            return await self._exchanged(connection, request)
        except _DroppedWhileIdle:
            raise self._closed_early() from None

    async def _exchanged(self, connection: _Connection, request: bytes) -> Response:
        try:
            response = await connection.exchange(request, READ_TIMEOUT_S)
        except _DroppedWhileIdle:
            connection.close()
            raise
        except TimeoutError:
            connection.close()
            raise EndpointError(f'Read timeout on endpoint URL: "{self._endpoint_url}"') from None
        except (OSError, MalformedResponseError):
            connection.close()
            raise self._closed_early() from None
        except BaseException:
            connection.close()
            raise
        if not connection.closed and not connection.buffered:
            self._idle.append(connection)
        return response

    def _closed_early(self) -> EndpointError:
        return EndpointError(
            "Connection was closed before we received a valid response from endpoint "
            f'URL: "{self._endpoint_url}".'
        )

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                _, connection = await loop.create_connection(
                    _Connection, *self._address, ssl=self._tls or None
                )
        except (OSError, TimeoutError):
            raise EndpointError(
                f'Could not connect to the endpoint URL: "{self._endpoint_url}"'
            ) from None
        return connection

    def close(self) -> None:
        """Close the idle connections (those in use close when their call is cancelled)."""
        while self._idle:
            self._idle.pop().close()
