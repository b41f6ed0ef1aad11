"""HTTP requests with exactly the headers a test gives (repeated ones too), for the REST
and HTTP APIs the stage serves."""

import http.client
import urllib.error
import urllib.request
from urllib.parse import urlsplit


def call(url, method="GET", path="", headers=(), body=b""):
    """One request with exactly these headers (repeated ones too); (status, headers, body)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    connection.putrequest(method, parts.path.rstrip("/") + path, skip_accept_encoding=True)
    for name, value in headers:
        connection.putheader(name, value)
    if body:
        connection.putheader("Content-Length", str(len(body)))
    connection.endheaders(body or None)
    response = connection.getresponse()
    answer = (response.status, response.getheaders(), response.read())
    connection.close()
    return answer


def header_values(headers, name):
    return [value for key, value in headers if key.lower() == name.lower()]


def answered(url, body=None, headers=None, method="GET", timeout=20):
    """One request through urllib; (status, headers as a dict, text), an error status too."""
    request = urllib.request.Request(url, data=body, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()
