"""AWS's JSON 1.0 protocol, as the stage's pollers speak it to the engines (pure: no I/O).

botocore in a thread spent about 40 µs of the stage's CPU per delivery on the SQS pollers'
calls (its request building, hooks, endpoint rules and parsing, and the GIL contended by
a thread beside the event loop). A poller's calls are few and fixed (ReceiveMessage,
DeleteMessageBatch), so the stage speaks the protocol itself: a POST to ``/`` of a JSON
body naming its action in ``X-Amz-Target``, signed with SigV4 as botocore signs it (the
engines read the access key and region from the signature: DynamoDB Local names its
database by them). This module builds the request's bytes, reads the answer's
(``Content-Length`` or chunked, RFC 9112), maps an error answer to its code and message as
botocore does, and says what is tried again as botocore's standard retry mode would.
``wslocal.eventsources.aws_client`` moves the bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

JSON_CONTENT_TYPE = "application/x-amz-json-1.0"
ALGORITHM = "AWS4-HMAC-SHA256"
MOST_HEAD_BYTES = 64 * 1024
LONGEST_BACKOFF_S = 20.0

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)
"""botocore's standard retry mode's throttling codes (``botocore.retries.standard``)."""
TRANSIENT_CODES = frozenset(
    {"RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete"}
)
TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})


class AwsCallError(Exception):
    """A call that failed: the service's error answer, or no answer."""

    retryable = False


class ServiceError(AwsCallError):
    """The service's error answer; said as botocore's ``ClientError`` says it."""

    def __init__(
        self, operation: str, code: str, message: str, status: int, retries: int = 0
    ) -> None:
        self.operation = operation
        self.code = code
        self.message = message
        self.status = status
        self.retries = retries
        """Retries made before giving up (botocore's ``reached max retries``)."""
        self.retryable = code in THROTTLING_CODES or code in TRANSIENT_CODES
        self.retryable |= status in TRANSIENT_STATUSES
        super().__init__()

    def __str__(self) -> str:
        tried = f" (reached max retries: {self.retries})" if self.retries else ""
        return (
            f"An error occurred ({self.code}) when calling the {self.operation} "
            f"operation{tried}: {self.message}"
        )


class EndpointError(AwsCallError):
    """No answer: refused, dropped or timed out; said as botocore's connection errors
    (``EndpointConnectionError`` and its kin), always tried again."""

    retryable = True


class NoCredentialsError(AwsCallError):
    """No credentials to sign with: said as botocore's ``NoCredentialsError``, which
    raises where an unsigned request would be refused."""

    def __init__(self) -> None:
        super().__init__("Unable to locate credentials")


class MalformedResponseError(Exception):
    """The bytes read are not an HTTP/1.1 answer."""


def backoff_s(retry: int, random: float) -> float:
    """botocore's standard mode: a random part of 1, 2, 4 ... s, at most 20 s, before
    retry number ``retry`` (from 1)."""
    return random * min(LONGEST_BACKOFF_S, 2.0 ** (retry - 1))


def host_header(endpoint_url: str) -> str:
    """The Host header as botocore signs it: lower case, without a scheme's default port."""
    scheme, _, rest = endpoint_url.partition("://")
    host = rest.split("/", 1)[0].lower()
    default = {"http": ":80", "https": ":443"}.get(scheme.lower(), "")
    return host[: -len(default)] if default and host.endswith(default) else host


@dataclass(frozen=True)
class _DayKey:
    """What changes only with the credentials and the day (UTC)."""

    credentials: Any
    day: str
    key: bytes
    credential: str
    scope: str


class JsonRequests:
    """POSTs of one service's JSON actions to one endpoint, signed with SigV4 (botocore's
    canonical request for them: ``content-type;host;x-amz-date;x-amz-target``, the
    session token when there is one, and ``x-amzn-query-mode`` for a query-compatible
    service such as SQS, which botocore sends so that errors keep their query codes); the
    signing key is derived once per secret key and day. Credentials are botocore's
    (``get_frozen_credentials`` on every request, so a refreshed key is used from the
    next one)."""

    def __init__(
        self,
        endpoint_url: str,
        *,
        region: str,
        service: str,
        target_prefix: str,
        credentials: Any,
        query_compatible: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._host = host_header(endpoint_url)
        self._query_compatible = query_compatible
        self._region = region
        self._service = service
        self._target_prefix = target_prefix
        self._credentials = credentials
        self._clock = clock
        self._day_key: _DayKey | None = None

    def request(self, operation: str, payload: Mapping[str, Any]) -> bytes:
        """The request's bytes, head and body."""
        body = json.dumps(payload, separators=(",", ":")).encode()
        target = f"{self._target_prefix}.{operation}"
        head = [
            "POST / HTTP/1.1",
            f"Host: {self._host}",
            f"Content-Type: {JSON_CONTENT_TYPE}",
            f"X-Amz-Target: {target}",
            f"Content-Length: {len(body)}",
        ]
        if self._query_compatible:
            head.append("x-amzn-query-mode: true")
        for name, value in self.signature(target, body):
            head.append(f"{name}: {value}")
        return ("\r\n".join(head) + "\r\n\r\n").encode() + body

    def signature(self, target: str, body: bytes) -> list[tuple[str, str]]:
        """The headers that sign a POST of ``body`` to ``/`` for ``target``, now."""
        if self._credentials is None:
            raise NoCredentialsError
        frozen = self._credentials.get_frozen_credentials()
        amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self._clock()))
        day_key = self._day_key
        if day_key is None or day_key.credentials != frozen or day_key.day != amz_date[:8]:
            day_key = self._derive(frozen, amz_date[:8])
        token = frozen.token
        signed_headers = "content-type;host;x-amz-date"
        canonical_headers = (
            f"content-type:{JSON_CONTENT_TYPE}\nhost:{self._host}\nx-amz-date:{amz_date}\n"
        )
        if token:
            signed_headers += ";x-amz-security-token"
            canonical_headers += f"x-amz-security-token:{' '.join(token.split())}\n"
        signed_headers += ";x-amz-target"
        canonical_headers += f"x-amz-target:{target}\n"
        if self._query_compatible:
            signed_headers += ";x-amzn-query-mode"
            canonical_headers += "x-amzn-query-mode:true\n"
        canonical_request = (
            f"POST\n/\n\n{canonical_headers}\n{signed_headers}\n{hashlib.sha256(body).hexdigest()}"
        )
        string_to_sign = (
            f"{ALGORITHM}\n{amz_date}\n{day_key.scope}\n"
            f"{hashlib.sha256(canonical_request.encode()).hexdigest()}"
        )
        signature = hmac.digest(day_key.key, string_to_sign.encode(), "sha256").hex()
        headers = [("X-Amz-Date", amz_date)]
        if token:
            headers.append(("X-Amz-Security-Token", token))
        headers.append(
            (
                "Authorization",
                f"{ALGORITHM} Credential={day_key.credential}, "
                f"SignedHeaders={signed_headers}, Signature={signature}",
            )
        )
        return headers

    def _derive(self, frozen: Any, day: str) -> _DayKey:
        key = f"AWS4{frozen.secret_key}".encode()
        for part in (day, self._region, self._service, "aws4_request"):
            key = hmac.digest(key, part.encode(), "sha256")
        scope = f"{day}/{self._region}/{self._service}/aws4_request"
        self._day_key = _DayKey(frozen, day, key, f"{frozen.access_key}/{scope}", scope)
        return self._day_key


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    """Lower-cased names."""
    body: bytes
    closes: bool
    """The server closes the connection after it: the next request needs a new one."""


def parse_response(buffer: bytearray, ended: bool = False) -> Response | None:
    """The answer at the start of ``buffer``, its bytes taken out; None while it is
    incomplete (``ended``: the server closed, a body without a length ends there).
    Interim 1xx answers are skipped."""
    while True:
        head_end = buffer.find(b"\r\n\r\n")
        if head_end < 0:
            if len(buffer) > MOST_HEAD_BYTES:
                raise MalformedResponseError("an answer's head longer than 64 KiB")
            return None
        lines = bytes(buffer[:head_end]).decode("latin-1").split("\r\n")
        version, _, rest = lines[0].partition(" ")
        try:
            status = int(rest[:3])
        except ValueError:
            raise MalformedResponseError(f"not a status line: {lines[0][:80]!r}") from None
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            value = value.strip()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        if 100 <= status < 200:
            del buffer[: head_end + 4]
            continue
        break
    connection = headers.get("connection", "").lower()
    closes = "close" in connection or (version == "HTTP/1.0" and "keep-alive" not in connection)
    start = head_end + 4
    if status in (204, 304):
        body, end = b"", start
    elif "chunked" in headers.get("transfer-encoding", "").lower():
        chunked = _chunked_body(buffer, start)
        if chunked is None:
            return None
        body, end = chunked
    elif "content-length" in headers:
        end = start + int(headers["content-length"])
        if len(buffer) < end:
            return None
        body = bytes(buffer[start:end])
    else:
        if not ended:
            return None
        body, end, closes = bytes(buffer[start:]), len(buffer), True
    del buffer[:end]
    return Response(status, headers, body, closes)


def _chunked_body(buffer: bytearray, start: int) -> tuple[bytes, int] | None:
    """A chunked body from ``start``, and where it ends; None while incomplete."""
    body = bytearray()
    at = start
    while True:
        line_end = buffer.find(b"\r\n", at)
        if line_end < 0:
            return None
        try:
            size = int(bytes(buffer[at:line_end]).split(b";", 1)[0], 16)
        except ValueError:
            raise MalformedResponseError("a chunk size that is not hexadecimal") from None
        at = line_end + 2
        if size == 0:
            trailer_end = buffer.find(b"\r\n\r\n", at - 2)
            if trailer_end < 0:
                return None
            return bytes(body), trailer_end + 4
        if len(buffer) < at + size + 2:
            return None
        body += buffer[at : at + size]
        at += size + 2


def answer(operation: str, response: Response) -> dict[str, Any]:
    """The action's output, or its ``ServiceError``: the code from ``__type`` (after any
    ``#`` namespace), or from ``x-amzn-query-error`` for a service that kept its Query
    API's codes (SQS: ``AWS.SimpleQueueService.NonExistentQueue``), as botocore reads it."""
    try:
        document = json.loads(response.body) if response.body else {}
    except ValueError:
        document = {}
    if not isinstance(document, dict):
        document = {}
    if response.status < 300:
        return document
    code = str(document.get("__type") or response.status)
    code = code.split(":", 1)[0].rsplit("#", 1)[-1]
    query_code, _, fault = response.headers.get("x-amzn-query-error", "").partition(";")
    if query_code and fault:
        code = query_code
    message = str(document.get("message", document.get("Message", "")))
    raise ServiceError(operation, code, message, response.status)
