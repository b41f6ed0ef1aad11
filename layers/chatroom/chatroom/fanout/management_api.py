"""``PostToConnection`` over keep-alive HTTP connections, signed with SigV4 as botocore signs.

botocore's client spends about 1.7 ms of CPU per post (serialisation, hooks, retry
bookkeeping, parsing). Issue 8 replaced it with botocore's ``SigV4Auth`` and its
credential chain on a kept-alive ``http.client`` connection per thread (about 0.4 ms);
issue 24 took out what that still redid per post: the signature's parts that change only
daily or with the credentials (``sigv4.PostSigner``, the same headers as ``SigV4Auth``,
byte for byte) and ``http.client``'s request and answer objects (``http1``: the request
built whole, one ``sendall``, a small answer reader): 0.08-0.10 ms a post where the
same runs took 0.30-0.51 ms before (``bench/post_cost.py``). For a broadcast, what is
the same for every member in a second (the body, the date, the head around the path and
the signature, ``_SignedPosts``) is made once: a member's request is its quoted id, one
SHA-256, one HMAC from kept states and one join (about 2 µs). The credentials are still
botocore's (refreshed by their provider, read per post) and so is the CA bundle. A
plain-HTTP endpoint (the local stage) also takes many requests at once from one thread
(``exchange_all``, the broadcast's first attempts).

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
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar
from urllib.parse import SplitResult, quote, urlsplit

from botocore.exceptions import ClientError, ConnectionClosedError, NoCredentialsError
from botocore.httpsession import DEFAULT_CA_BUNDLE

from chatroom.budgets import POST
from chatroom.exceptions import ChatError
from chatroom.fanout.http1 import KeptAliveConnection, Response
from chatroom.fanout.kept_alive_sockets import KeptAliveSockets, Waker
from chatroom.fanout.sigv4 import BodySignature, PostSigner, canonical_uri

TIMEOUT_S = POST.attempt_timeout_s
SERVICE = "execute-api"
ENDPOINT_VARIABLE = "AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI"
CUSTOM_ENDPOINT_VARIABLE = "MANAGEMENT_API_ENDPOINT"
DEFAULT_PORTS = {"http": 80, "https": 443}

Key = TypeVar("Key")


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


def host_header(parts: SplitResult) -> str:
    """The Host header botocore signs: the host in lower case, the port unless it is the
    scheme's default."""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None and parts.port != DEFAULT_PORTS.get(parts.scheme):
        host = f"{host}:{parts.port}"
    return host


class _SignedPosts:
    """A member's signed request for one ``BodySignature`` (one body, one second): the
    request's bytes around the path and the signature are made once, so a post is its
    quoted id, the signature and one join. Immutable."""

    __slots__ = ("_after_path", "_canonical_path", "_path", "_start", "_tail", "signature")

    def __init__(
        self,
        signature: BodySignature,
        connections_path: str,
        canonical_connections_path: bytes,
        host: str,
        length: int,
    ) -> None:
        self.signature = signature
        token = signature.security_token
        self._path = connections_path
        self._canonical_path = canonical_connections_path
        self._start = f"POST {connections_path}".encode("latin-1")
        self._after_path = (
            f" HTTP/1.1\r\nHost: {host}\r\nAccept-Encoding: identity\r\n"
            f"Content-Length: {length}\r\nX-Amz-Date: {signature.amz_date}\r\n"
            + (f"X-Amz-Security-Token: {token}\r\n" if token else "")
            + f"Authorization: {signature.authorization_prefix}"
        ).encode("latin-1")
        self._tail = b"\r\n\r\n" + signature.body

    def request(self, connection_id: str) -> bytes:
        """The POST to ``@connections/{connection_id}``: the id is a path segment
        (``quote`` with nothing safe), encoded again in the canonical URI. An id of
        letters, digits and ``=`` (API Gateway's, ``=`` anywhere) is quoted by replacing
        ``=``; any
        other id goes through ``canonical_uri`` (dot segments, ``%``)."""
        encoded = connection_id.encode()
        if encoded.replace(b"=", b"").isalnum():
            quoted = encoded.replace(b"=", b"%3D")
            canonical = self._canonical_path + encoded.replace(b"=", b"%253D")
        else:
            segment = quote(connection_id, safe="")
            quoted = segment.encode()
            canonical = canonical_uri(self._path + segment).encode()
        return b"".join(
            (self._start, quoted, self._after_path, self.signature.signature(canonical), self._tail)
        )


def error_type(response: Response) -> str:
    """The service's error code an answer names (``x-amzn-ErrorType``), or nothing."""
    return response.headers.get("x-amzn-errortype", "").split(":")[0]


class KeepAliveManagementApi:
    """The Management API of one stage: one kept-alive connection per thread, requests
    signed with the session's credentials. Thread-safe like a boto3 client."""

    exceptions = _Exceptions

    def __init__(
        self,
        endpoint: str,
        session: Any,
        timeout_s: float = TIMEOUT_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``session``: the function's one boto3 session (its credentials and region);
        ``clock``: the signatures' time."""
        credentials = session.get_credentials()
        if credentials is None:
            raise NoCredentialsError()
        parts = urlsplit(endpoint.rstrip("/"))
        self.endpoint = f"{parts.scheme}://{parts.netloc}{parts.path}"
        self._connections_path = f"{parts.path}/@connections/"
        self._canonical_connections_path = canonical_uri(self._connections_path).encode()
        self._host = host_header(parts)
        self._address = (parts.hostname or "", parts.port or DEFAULT_PORTS[parts.scheme])
        self._timeout_s = timeout_s
        region = signing_region(parts.hostname or "", session.region_name or "us-east-1")
        self._signer = PostSigner(credentials, self._host, region, SERVICE, clock)
        self._tls = (
            ssl.create_default_context(cafile=DEFAULT_CA_BUNDLE)
            if parts.scheme == "https"
            else None
        )
        self._local = threading.local()
        self._sockets = KeptAliveSockets(*self._address) if self._tls is None else None
        self._posts: _SignedPosts | None = None

    @property
    def drives_sockets(self) -> bool:
        """Whether ``exchange_all`` can post (plain HTTP, the local stage's endpoint)."""
        return self._sockets is not None

    def exchange_all(
        self,
        requests: Iterator[tuple[Key, bytes] | None],
        answered: Callable[[Key, Response | None], None],
        most: int,
        timeout_s: float = TIMEOUT_S,
        waker: Waker | None = None,
    ) -> None:
        """Call ``answered`` with the answer to each ``request_bytes`` request (``None``
        when it got none), up to ``most`` at once, from this one thread
        (``KeptAliveSockets``). Plain HTTP only: https endpoints post with
        ``post_to_connection``."""
        if self._sockets is None:
            raise ValueError(f"{self.endpoint} is not plain HTTP")
        self._sockets.exchange_all(requests, answered, most, timeout_s, waker)

    def post_to_connection(
        self, ConnectionId: str, Data: bytes, timeout_s: float | None = None
    ) -> dict[str, Any]:
        """POST ``Data`` to ``@connections/{ConnectionId}``, signed; raise as boto3 does.
        ``timeout_s`` bounds the connect and each read (the caller's budget decides it)."""
        request = self.request_bytes(ConnectionId, Data)
        connection = self._connection()
        for attempt in (1, 2):
            reused = connection.is_open
            try:
                response = connection.exchange(request, timeout_s or self._timeout_s)
                break
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                # A kept-alive connection the server closed while it was idle fails at
                # once; one new connection is tried (as urllib3 does), then the caller
                # retries with its own backoff. A timeout is not that: it used the time.
                if not (reused and attempt == 1) or isinstance(exc, TimeoutError):
                    raise ConnectionClosedError(endpoint_url=self.endpoint) from exc
        if response.status >= 300:
            raise self._error(response)
        return {"ResponseMetadata": {"HTTPStatusCode": response.status}}

    def request_bytes(self, connection_id: str, data: bytes) -> bytes:
        """The signed request, head and body, as ``http.client`` would write it with
        botocore's headers (the same names, values and order)."""
        signature = self._signer.for_body(data)
        posts = self._posts
        if posts is None or posts.signature is not signature:
            posts = self._posts = _SignedPosts(
                signature,
                self._connections_path,
                self._canonical_connections_path,
                self._host,
                len(data),
            )
        return posts.request(connection_id)

    def _connection(self) -> KeptAliveConnection:
        """This thread's connection."""
        connection: KeptAliveConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = KeptAliveConnection(*self._address, tls=self._tls)
            self._local.connection = connection
        return connection

    @staticmethod
    def _error(response: Response) -> ClientError:
        code = error_type(response)
        try:
            message = str(json.loads(response.body or b"{}").get("message", ""))
        except ValueError:
            message = response.body.decode("utf-8", "replace")
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
    lifetime: signed keep-alive connections, ``KeepAliveManagementApi``, all signed with
    the function's one session; endpoints as ``environ`` names them."""

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
