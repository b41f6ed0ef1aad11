"""The keep-alive Management API client: signed exactly as botocore signs, answering
errors as boto3 does, reconnecting after a dropped connection."""

import datetime
import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, urlsplit

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.exceptions import BotoCoreError, ClientError

from chatroom.fanout.management_api import GoneException, KeepAliveManagementApi, signing_region

FROZEN = datetime.datetime(2026, 11, 28, 12, 0, 0, tzinfo=datetime.UTC)
CONNECTION = "L0SM9cOFvHcCIhw="


class _Recorder(BaseHTTPRequestHandler):
    """Records each POST; answers ``status`` (and closes when told)."""

    protocol_version = "HTTP/1.1"
    requests: list
    status = 200
    error_type = ""
    close = False
    drop_idle = False
    """Close the connection after answering without saying so, as a server does to a
    kept-alive connection left idle past its timeout."""

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.requests.append((self.path, dict(self.headers), body))
        answer = b"" if self.status == 200 else b'{"message":"nope"}'
        self.send_response(self.status)
        if self.error_type:
            self.send_header("x-amzn-ErrorType", self.error_type)
        self.send_header("Content-Length", str(len(answer)))
        if self.close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(answer)
        if self.drop_idle:
            self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture
def stub():
    _Recorder.requests, _Recorder.status, _Recorder.error_type = [], 200, ""
    _Recorder.close = _Recorder.drop_idle = False
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/dev"
    server.shutdown()


@pytest.fixture
def session():
    return boto3.session.Session(
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        aws_session_token="token",
        region_name="eu-west-1",
    )


def test_a_post_is_signed_exactly_as_botocores_client_signs_it(stub, session, monkeypatch):
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: FROZEN)
    boto_client = session.client("apigatewaymanagementapi", endpoint_url=stub)
    boto_client.post_to_connection(ConnectionId=CONNECTION, Data=b"hello")
    api = KeepAliveManagementApi(stub, session, clock=FROZEN.timestamp)
    api.post_to_connection(ConnectionId=CONNECTION, Data=b"hello")
    (boto_path, boto_headers, boto_body), (path, headers, body) = _Recorder.requests
    assert (
        (path, body) == (boto_path, boto_body) == ("/dev/@connections/L0SM9cOFvHcCIhw%3D", b"hello")
    )
    for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token", "Host"):
        assert headers[name] == boto_headers[name], name
    assert "/eu-west-1/execute-api/aws4_request" in headers["Authorization"]


class _Capture:
    """A socket for ``http.client`` that keeps what it is sent."""

    def __init__(self):
        self.sent = bytearray()

    def sendall(self, data):
        self.sent += data


class _EmptyBody:
    def stream(self):
        yield b""


def http_client_bytes(endpoint, connection_id, data, credentials, region):
    """What the layer wrote before issue 24: botocore's ``SigV4Auth`` headers through
    ``http.client``."""
    parts = urlsplit(endpoint)
    path = f"{parts.path}/@connections/{quote(connection_id, safe='')}"
    request = AWSRequest(method="POST", url=f"{parts.scheme}://{parts.netloc}{path}", data=data)
    SigV4Auth(credentials, "execute-api", region).add_auth(request)
    connection = http.client.HTTPConnection(parts.hostname, parts.port or 443)
    if parts.scheme == "https":
        connection.default_port = 443
    connection.sock = capture = _Capture()
    connection.request("POST", path, body=data, headers=dict(request.headers.items()))
    return bytes(capture.sent)


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://127.0.0.1:3001/local",
        "https://abc123.execute-api.eu-west-1.amazonaws.com/production",
        "https://chat.example.com:8443/v1/chat",
    ],
)
@pytest.mark.parametrize(
    "connection_id",
    ["L0SM9cOFvHcCIhw=", "a/b+c", "with space", "é~_.-", "%41", ".", "..", "a/../b", ""],
)
@pytest.mark.parametrize("token", ["session-token", None])
def test_the_request_is_the_one_http_client_wrote_with_botocores_signature(
    monkeypatch, endpoint, connection_id, token
):
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: FROZEN)
    session = boto3.session.Session(
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        aws_session_token=token,
        region_name="eu-west-1",
    )
    api = KeepAliveManagementApi(endpoint, session, clock=FROZEN.timestamp)
    expected = http_client_bytes(
        endpoint, connection_id, b"hello", session.get_credentials(), "eu-west-1"
    )
    assert api.request_bytes(connection_id, b"hello") == expected


def test_a_broadcasts_requests_are_each_botocores_across_members_and_seconds(monkeypatch):
    """One body signed for many members in one second, then in the next: the parts kept
    for the body and the second sign each member's path as botocore does."""
    session = boto3.session.Session(
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        aws_session_token="session-token",
        region_name="eu-west-1",
    )
    endpoint = "https://abc123.execute-api.eu-west-1.amazonaws.com/production"
    moments = [FROZEN, FROZEN + datetime.timedelta(seconds=1)]
    now = moments[0]
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: now)
    api = KeepAliveManagementApi(endpoint, session, clock=lambda: now.timestamp())
    body = b'{"type":"newMessage"}'
    for now in moments:
        for connection_id in ["L0SM9cOFvHcCIhw=", "Zm9vYmFyYmF6cXV4", "a=b", "==", ".", "x%y"]:
            expected = http_client_bytes(
                endpoint, connection_id, body, session.get_credentials(), "eu-west-1"
            )
            assert api.request_bytes(connection_id, body) == expected, (now, connection_id)


def test_an_https_post_is_signed_as_botocores_client_signs_it(session, monkeypatch):
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: FROZEN)
    endpoint = "https://abc123.execute-api.eu-west-1.amazonaws.com/production"
    sent = []

    def answer(request, **kwargs):
        sent.append(dict(request.headers.items()))
        return AWSResponse(request.url, 200, {}, _EmptyBody())

    boto_client = session.client("apigatewaymanagementapi", endpoint_url=endpoint)
    boto_client.meta.events.register("before-send", answer)
    boto_client.post_to_connection(ConnectionId=CONNECTION, Data=b"hello")
    api = KeepAliveManagementApi(endpoint, session, clock=FROZEN.timestamp)
    head = api.request_bytes(CONNECTION, b"hello").split(b"\r\n\r\n")[0].decode()
    headers = dict(line.split(": ", 1) for line in head.split("\r\n")[1:])
    (boto_headers,) = sent
    for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token"):
        value = boto_headers[name]
        assert headers[name] == (value.decode() if isinstance(value, bytes) else value), name
    assert "X-Amz-Content-SHA256" not in boto_headers


def test_the_region_of_an_execute_api_host_is_the_signing_region():
    assert signing_region("abc.execute-api.ap-south-1.amazonaws.com", "us-east-1") == "ap-south-1"
    assert signing_region("chat.example.com", "us-east-1") == "us-east-1"


def test_a_410_is_a_gone_exception(stub, session):
    _Recorder.status, _Recorder.error_type = 410, "GoneException"
    api = KeepAliveManagementApi(stub, session)
    with pytest.raises(api.exceptions.GoneException) as raised:
        api.post_to_connection(ConnectionId=CONNECTION, Data=b"x")
    assert isinstance(raised.value, ClientError) and isinstance(raised.value, GoneException)


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (403, "ForbiddenException"),
        (413, "PayloadTooLargeException"),
        (429, "LimitExceededException"),
    ],
)
def test_an_error_status_is_a_client_error_with_its_code_and_status(stub, session, status, code):
    _Recorder.status = status
    with pytest.raises(ClientError) as raised:
        KeepAliveManagementApi(stub, session).post_to_connection(ConnectionId=CONNECTION, Data=b"x")
    assert raised.value.response["Error"]["Code"] == code
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status


def test_a_connection_closed_by_the_server_is_opened_again(stub, session):
    _Recorder.close = True
    api = KeepAliveManagementApi(stub, session)
    for _ in range(3):
        api.post_to_connection(ConnectionId=CONNECTION, Data=b"x")
    assert len(_Recorder.requests) == 3


def test_a_kept_alive_connection_the_server_dropped_is_replaced_without_an_error(stub, session):
    _Recorder.drop_idle = True
    api = KeepAliveManagementApi(stub, session)
    for _ in range(3):
        api.post_to_connection(ConnectionId=CONNECTION, Data=b"x")
    assert len(_Recorder.requests) == 3


def test_an_endpoint_that_does_not_answer_is_a_botocore_error(session):
    api = KeepAliveManagementApi("http://127.0.0.1:9/dev", session)
    with pytest.raises(BotoCoreError):
        api.post_to_connection(ConnectionId=CONNECTION, Data=b"x")
