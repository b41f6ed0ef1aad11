"""The request an integration sends over HTTP (to a web server, or to a service engine)
and the answer it reads back: plain data the I/O side moves."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from wslocal.apigateway.integrations.parameters import IntegrationParameters

Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class BackendRequest:
    method: str
    url: str
    headers: Headers
    body: bytes
    timeout_s: float


@dataclass(frozen=True)
class BackendResponse:
    status: int
    body: str
    headers: Headers = ()


def backend_url(uri: str, parameters: IntegrationParameters) -> str:
    """The URI with its ``{name}`` placeholders filled from the path parameters and the
    mapped query string added to its own."""
    url = uri
    for name, value in parameters.path.items():
        url = url.replace("{" + name + "}", quote(value, safe=""))
    if not parameters.query:
        return url
    parts = urlsplit(url)
    query = "&".join(part for part in (parts.query, urlencode(parameters.query)) if part)
    return urlunsplit(parts._replace(query=query))


def with_default_content_type(headers: dict[str, str], content_type: str) -> Headers:
    if not any(name.lower() == "content-type" for name in headers):
        headers = {**headers, "Content-Type": content_type}
    return tuple(headers.items())
