"""The keep-alive Management API client: signed exactly as botocore signs, answering
errors as boto3 does, reconnecting after a dropped connection."""

import datetime
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
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
    KeepAliveManagementApi(stub, session).post_to_connection(ConnectionId=CONNECTION, Data=b"hello")
    (boto_path, boto_headers, boto_body), (path, headers, body) = _Recorder.requests
    assert (
        (path, body) == (boto_path, boto_body) == ("/dev/@connections/L0SM9cOFvHcCIhw%3D", b"hello")
    )
    for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token", "Host"):
        assert headers[name] == boto_headers[name], name
    assert "/eu-west-1/execute-api/aws4_request" in headers["Authorization"]


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
