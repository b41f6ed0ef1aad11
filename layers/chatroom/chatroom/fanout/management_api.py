"""``PostToConnection`` over keep-alive HTTP connections, signed by botocore's SigV4 signer.

botocore's client spends about 1.7 ms of CPU per post (serialisation, hooks, retry
bookkeeping, parsing); the same signed request built with botocore's ``SigV4Auth`` and
its credential chain, sent on a kept-alive ``http.client`` connection per thread, costs
about 0.5 ms (``bench/post_cost.py``). The fan-out is that call repeated for every
member, so this is the hot path. Nothing is signed by hand: the signer, the credentials
(refreshed by their provider) and the CA bundle are botocore's.

It answers as the boto3 client does: a ``ClientError`` with the HTTP status and the
service's error code, ``GoneException`` for 410, a ``BotoCoreError`` when the connection
fails; the caller decides what to retry.
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import ClientError, ConnectionClosedError, NoCredentialsError
from botocore.httpsession import DEFAULT_CA_BUNDLE

from chatroom.budgets import POST
from chatroom.exceptions import ChatError

TIMEOUT_S = POST.attempt_timeout_s
SERVICE = "execute-api"
ENDPOINT_VARIABLE = "AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI"
CUSTOM_ENDPOINT_VARIABLE = "MANAGEMENT_API_ENDPOINT"


class GoneException(ClientError):
    """410: the connection is gone (as ``client.exceptions.GoneException``)."""


class _Exceptions:
    GoneException = GoneException


def signing_region(host: str, default: str) -> str:
    """The region of an ``{api}.execute-api.{region}.amazonaws.com`` host, else the
    session's (custom domains, local endpoints)."""
    labels = host.split(".")
    if len(labels) >= 4 and labels[1] == SERVICE:
        return labels[2]
    return default


class KeepAliveManagementApi:
    """The Management API of one stage: one kept-alive connection per thread, requests
    signed by botocore's SigV4Auth. Thread-safe like a boto3 client."""

    exceptions = _Exceptions

    def __init__(self, endpoint: str, session: Any, timeout_s: float = TIMEOUT_S) -> None:
        """``session``: the function's one boto3 session (its credentials and region)."""
        credentials = session.get_credentials()
        if credentials is None:
            raise NoCredentialsError()
        parts = urlsplit(endpoint.rstrip("/"))
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self.endpoint = f"{self._origin}{parts.path}"
        self._secure = parts.scheme == "https"
        self._netloc = parts.netloc
        self._base_path = parts.path
        self._timeout_s = timeout_s
        region = signing_region(parts.hostname or "", session.region_name or "us-east-1")
        self._signer = SigV4Auth(credentials, SERVICE, region)
        self._ssl = ssl.create_default_context(cafile=DEFAULT_CA_BUNDLE) if self._secure else None
        self._local = threading.local()

    def post_to_connection(
        self, ConnectionId: str, Data: bytes, timeout_s: float | None = None
    ) -> dict[str, Any]:
        """POST ``Data`` to ``@connections/{ConnectionId}``, signed; raise as boto3 does.
        ``timeout_s`` bounds the connect and each read (the caller's budget decides it)."""
        path = f"{self._base_path}/@connections/{quote(ConnectionId, safe='')}"
        request = AWSRequest(method="POST", url=f"{self._origin}{path}", data=Data)
        self._signer.add_auth(request)
        headers = dict(request.headers.items())
        for attempt in (1, 2):
            connection, reused = self._connection(timeout_s or self._timeout_s)
            try:
                connection.request("POST", path, body=Data, headers=headers)
                response = connection.getresponse()
                body = response.read()
                break
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                self._local.connection = None
                # A kept-alive connection the server closed while it was idle fails at
                # once; one new connection is tried (as urllib3 does), then the caller
                # retries with its own backoff. A timeout is not that: it used the time.
                if not (reused and attempt == 1) or isinstance(exc, TimeoutError):
                    raise ConnectionClosedError(endpoint_url=self.endpoint) from exc
        if response.status >= 300:
            raise self._error(response, body)
        return {"ResponseMetadata": {"HTTPStatusCode": response.status}}

    def _connection(self, timeout_s: float) -> tuple[http.client.HTTPConnection, bool]:
        """This thread's connection with ``timeout_s`` set, and whether it was used
        before."""
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is not None:
            connection.timeout = timeout_s
            if connection.sock is not None:
                connection.sock.settimeout(timeout_s)
            return connection, True
        if self._secure:
            connection = http.client.HTTPSConnection(
                self._netloc, timeout=timeout_s, context=self._ssl
            )
        else:
            connection = http.client.HTTPConnection(self._netloc, timeout=timeout_s)
        self._local.connection = connection
        return connection, False

    @staticmethod
    def _error(response: http.client.HTTPResponse, body: bytes) -> ClientError:
        code = (response.getheader("x-amzn-ErrorType") or "").split(":")[0]
        try:
            message = str(json.loads(body or b"{}").get("message", ""))
        except ValueError:
            message = body.decode("utf-8", "replace")
        if not code:
            code = {410: "GoneException", 403: "ForbiddenException",
                    413: "PayloadTooLargeException", 429: "LimitExceededException"}.get(
                response.status, str(response.status))  # fmt: skip
        error = {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": response.status},
        }
        kind = GoneException if response.status == 410 else ClientError
        return kind(error, "PostToConnection")  # type: ignore[arg-type]


def management_endpoint(
    domain_name: str | None, stage: str | None, environ: Mapping[str, str] = os.environ
) -> str:
    """The endpoint to post to: boto3's endpoint variable when set (the local stage sets
    it), else ``MANAGEMENT_API_ENDPOINT`` (custom domains, whose base path is not the
    stage, and functions whose events carry no ``requestContext``), else the event's."""
    for variable in (ENDPOINT_VARIABLE, CUSTOM_ENDPOINT_VARIABLE):
        if environ.get(variable):
            return environ[variable]
    if not domain_name or not stage:
        raise ChatError(f"{CUSTOM_ENDPOINT_VARIABLE} must name the stage's @connections endpoint")
    return f"https://{domain_name}/{stage}"


class ManagementApiClients:
    """One Management API client per endpoint, kept for the execution environment's
    lifetime: botocore's signer on keep-alive connections, ``KeepAliveManagementApi``,
    all signed with the function's one session; endpoints as ``environ`` names them."""

    def __init__(self, session: Any, environ: Mapping[str, str]) -> None:
        self._session = session
        self._environ = environ
        self._clients: dict[str, KeepAliveManagementApi] = {}

    def for_request(self, domain_name: str, stage: str) -> KeepAliveManagementApi:
        """The client for the stage an event came through."""
        return self._client(management_endpoint(domain_name, stage, self._environ))

    def configured(self) -> KeepAliveManagementApi:
        """The client for the endpoint the environment names (no event to read it from)."""
        return self._client(management_endpoint(None, None, self._environ))

    def _client(self, endpoint: str) -> KeepAliveManagementApi:
        client = self._clients.get(endpoint)
        if client is None:
            client = KeepAliveManagementApi(endpoint, self._session)
            self._clients[endpoint] = client
        return client
