"""Client CPU per ``PostToConnection``: botocore's client against a signed keep-alive path.

    .venv/bin/python bench/post_cost.py [--posts 2000] [--pieces]

A stub ``@connections`` endpoint runs in a process of its own (so its CPU is not counted);
this process posts to it serially and reports its own CPU time (``time.process_time``)
per post for:

- botocore's ``apigatewaymanagementapi`` client, signed (what runs on AWS);
- the same client unsigned (what the local stage's bootstrap does);
- botocore's ``SigV4Auth`` signer and credential chain with a ``urllib3`` keep-alive pool,
  and with one ``http.client`` keep-alive connection (the candidate "cheaper posts": no
  hand-written signing);
- the layer's own ``KeepAliveManagementApi`` (issue 24: ``sigv4.PostSigner``, the same
  headers with the day's key kept, and ``http1.KeptAliveConnection``), imported from
  ``PYTHONPATH`` when it names a layer (an export of another commit), else this checkout.

Issue 8 adopts the signed keep-alive path only if it is at least 2x cheaper per post.
``--pieces`` prints a post's two halves instead (signing; writing and reading the answer),
before and after issue 24 (this checkout's layer).
"""

from __future__ import annotations

import argparse
import http.client
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import boto3
import urllib3
from botocore import UNSIGNED
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config

STUB = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class Ok(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
server = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
print(server.server_port, flush=True)
server.serve_forever()
"""

DATA = (
    b'{"type":"newMessage","id":"01JDQ2V6M1W9Y7M1C2Z3X4Y5Z6","room":"bench","sender":"alice",'
    b'"payload":"hello, room","sentAt":"2024-11-24T12:10:24.000Z"}'
)
CONNECTION = "L0SM9cOFvHcCIhw="


def cpu_per_call_ms(post: Callable[[], None], count: int) -> float:
    for _ in range(50):  # warm: connections, caches, lazy imports
        post()
    started = time.process_time()
    for _ in range(count):
        post()
    return (time.process_time() - started) / count * 1000


def botocore_post(endpoint: str, signed: bool) -> Callable[[], None]:
    config = Config(retries={"mode": "standard", "total_max_attempts": 1})
    if not signed:
        config = config.merge(Config(signature_version=UNSIGNED))
    client = boto3.client(
        "apigatewaymanagementapi", endpoint_url=endpoint, region_name="us-east-1", config=config
    )
    return lambda: client.post_to_connection(ConnectionId=CONNECTION, Data=DATA)


def signed_pool_post(endpoint: str) -> Callable[[], None]:
    """botocore's credential chain and SigV4 signer, urllib3's keep-alive pool."""
    credentials = boto3.Session().get_credentials()
    signer = SigV4Auth(credentials, "execute-api", "us-east-1")
    pool = urllib3.PoolManager(maxsize=32)
    url = f"{endpoint}/@connections/{CONNECTION.replace('=', '%3D')}"

    def post() -> None:
        request = AWSRequest(method="POST", url=url, data=DATA)
        signer.add_auth(request)
        response = pool.request("POST", url, body=DATA, headers=dict(request.headers.items()))
        if response.status != 200:
            raise RuntimeError(response.status)

    return post


def signed_connection_post(endpoint: str) -> Callable[[], None]:
    """botocore's credential chain and SigV4 signer, one ``http.client`` keep-alive
    connection (what one thread of the broadcaster's pool would hold)."""
    credentials = boto3.Session().get_credentials()
    signer = SigV4Auth(credentials, "execute-api", "us-east-1")
    parts = urllib3.util.parse_url(endpoint)
    connection = http.client.HTTPConnection(parts.host, parts.port)
    path = f"{parts.path}/@connections/{CONNECTION.replace('=', '%3D')}"
    url = f"{endpoint}/@connections/{CONNECTION.replace('=', '%3D')}"

    def post() -> None:
        request = AWSRequest(method="POST", url=url, data=DATA)
        signer.add_auth(request)
        connection.request("POST", path, body=DATA, headers=dict(request.headers.items()))
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(response.status)

    return post


def layer_post(endpoint: str) -> Callable[[], None]:
    """The layer's ``KeepAliveManagementApi``, as the fan-out's handlers post."""
    sys.path.append(str(Path(__file__).resolve().parent.parent / "layers" / "chatroom"))
    from chatroom.fanout.management_api import KeepAliveManagementApi

    client = KeepAliveManagementApi(endpoint, boto3.Session())

    def post() -> None:
        client.post_to_connection(ConnectionId=CONNECTION, Data=DATA)

    return post


def pieces(endpoint: str) -> list[tuple[str, Callable[[], object]]]:
    """A post's two halves, before (botocore's signer, ``http.client``) and after issue 24
    (the layer's ``request_bytes``, ``KeptAliveConnection.exchange``)."""
    from chatroom.fanout.http1 import KeptAliveConnection
    from chatroom.fanout.management_api import KeepAliveManagementApi

    signer = SigV4Auth(boto3.Session().get_credentials(), "execute-api", "us-east-1")
    path = f"/dev/@connections/{CONNECTION.replace('=', '%3D')}"
    url = endpoint.removesuffix("/dev") + path

    def botocore_headers() -> dict[str, str]:
        request = AWSRequest(method="POST", url=url, data=DATA)
        signer.add_auth(request)
        return dict(request.headers.items())

    headers = botocore_headers()
    parts = urllib3.util.parse_url(endpoint)
    connection = http.client.HTTPConnection(parts.host or "", parts.port)

    def http_client_exchange() -> None:
        connection.request("POST", path, body=DATA, headers=headers)
        connection.getresponse().read()

    client = KeepAliveManagementApi(endpoint, boto3.Session())
    request = client.request_bytes(CONNECTION, DATA)
    kept_alive = KeptAliveConnection(parts.host or "", parts.port or 80)
    return [
        ("sign: AWSRequest + SigV4Auth.add_auth", botocore_headers),
        ("sign: the layer's request_bytes", lambda: client.request_bytes(CONNECTION, DATA)),
        ("write, answer: http.client", http_client_exchange),
        ("write, answer: KeptAliveConnection", lambda: kept_alive.exchange(request, 3.0)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument(
        "--pieces", action="store_true", help="only a post's halves, before and after issue 24"
    )
    args = parser.parse_args()
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "bench")  # the stub checks no signature
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    stub = subprocess.Popen([sys.executable, "-c", STUB], stdout=subprocess.PIPE, text=True)
    try:
        assert stub.stdout is not None
        endpoint = f"http://127.0.0.1:{stub.stdout.readline().strip()}/dev"
        if args.pieces:
            sys.path.append(str(Path(__file__).resolve().parent.parent / "layers" / "chatroom"))
            for name, piece in pieces(endpoint):
                print(f"{name:<42} {cpu_per_call_ms(piece, args.posts) * 1000:>8.1f} µs")
            return
        rows = [
            ("botocore client, signed (AWS)", botocore_post(endpoint, signed=True)),
            ("botocore client, unsigned (local stage)", botocore_post(endpoint, signed=False)),
            ("SigV4Auth + urllib3 keep-alive pool", signed_pool_post(endpoint)),
            ("SigV4Auth + http.client keep-alive", signed_connection_post(endpoint)),
            ("the layer's KeepAliveManagementApi", layer_post(endpoint)),
        ]
        results = [(name, cpu_per_call_ms(post, args.posts)) for name, post in rows]
    finally:
        stub.terminate()
    base = results[0][1]
    print(f"client CPU per PostToConnection, {args.posts} serial posts to a local stub")
    print(f"{'path':<42} {'ms/post':>8} {'vs botocore signed':>20}")
    for name, cost in results:
        print(f"{name:<42} {cost:>8.3f} {base / cost:>19.2f}x")


if __name__ == "__main__":
    main()
