"""The stage's own JSON-protocol requests: signed as botocore signs them, answers read
whole however they arrive, errors said as botocore says them."""

import datetime
import json

import botocore.auth
import botocore.exceptions
import botocore.session
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from wslocal.eventsources.aws_json import (
    EndpointError,
    JsonRequests,
    MalformedResponseError,
    NoCredentialsError,
    Response,
    ServiceError,
    answer,
    backoff_s,
    host_header,
    parse_response,
)

DYNAMODB = "com.amazonaws.dynamodb.v20120810"
NOW = 1_796_295_147.0  # 2026-12-03T10:52:27Z


def requests(credentials: Credentials | None) -> JsonRequests:
    return JsonRequests(
        "http://127.0.0.1:4566",
        region="eu-west-1",
        service="sqs",
        target_prefix="AmazonSQS",
        credentials=credentials,
        clock=lambda: NOW,
    )


def botocore_signed(credentials: Credentials, body: bytes) -> dict[str, str]:
    request = AWSRequest(
        method="POST",
        url="http://127.0.0.1:4566/",
        data=body,
        headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": "AmazonSQS.ReceiveMessage",
        },
    )
    SigV4Auth(credentials, "sqs", "eu-west-1").add_auth(request)
    return {name.lower(): value for name, value in request.headers.items()}


def head_of(request: bytes) -> tuple[dict[str, str], bytes]:
    head, _, body = request.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST / HTTP/1.1"
    return {k.lower(): v for k, v in (line.split(": ", 1) for line in lines[1:])}, body


@pytest.mark.parametrize("token", [None, "a-session-token"])
def test_a_request_is_signed_as_botocore_signs_it(token, monkeypatch):
    now = datetime.datetime.fromtimestamp(NOW, datetime.UTC).replace(tzinfo=None)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: now)
    credentials = Credentials("AKIDLOCAL", "secret", token)
    headers, body = head_of(requests(credentials).request("ReceiveMessage", {"QueueUrl": "q"}))
    expected = botocore_signed(credentials, body)
    assert headers["authorization"] == expected["authorization"]
    assert headers["x-amz-date"] == expected["x-amz-date"]
    assert headers.get("x-amz-security-token") == expected.get("x-amz-security-token")


class _Sent(Exception):
    """Stops botocore's client once its request is signed, before it is sent."""


def botocore_client_sent(service: str, operation: str, monkeypatch) -> tuple[dict, bytes]:
    """The headers and body botocore's own client sends for ``operation``, at ``NOW``."""
    now = datetime.datetime.fromtimestamp(NOW, datetime.UTC).replace(tzinfo=None)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: now)
    client = botocore.session.get_session().create_client(
        service,
        region_name="eu-west-1",
        endpoint_url="http://127.0.0.1:4566",
        aws_access_key_id="AKIDLOCAL",
        aws_secret_access_key="secret",
    )
    sent: dict = {}

    def capture(request, **_: object) -> None:
        sent.update(headers=dict(request.headers), body=request.body)
        raise _Sent

    client.meta.events.register("before-send", capture)
    with pytest.raises(_Sent):
        getattr(client, operation)(QueueUrl="q")
    headers = {name.lower(): value for name, value in sent["headers"].items()}
    return {k: v.decode() if isinstance(v, bytes) else v for k, v in headers.items()}, sent["body"]


def test_an_sqs_request_says_query_mode_as_botocores_client_does(monkeypatch):
    sent, _ = botocore_client_sent("sqs", "receive_message", monkeypatch)
    query_compatible = JsonRequests(
        "http://127.0.0.1:4566", region="eu-west-1", service="sqs", target_prefix="AmazonSQS",
        credentials=Credentials("AKIDLOCAL", "secret"), query_compatible=True,
    )  # fmt: skip
    headers, _ = head_of(query_compatible.request("ReceiveMessage", {"QueueUrl": "q"}))
    assert headers["x-amzn-query-mode"] == sent["x-amzn-query-mode"] == "true"


def test_an_sqs_request_is_signed_as_botocores_client_signs_it(monkeypatch):
    sent, body = botocore_client_sent("sqs", "receive_message", monkeypatch)
    query_compatible = JsonRequests(
        "http://127.0.0.1:4566", region="eu-west-1", service="sqs", target_prefix="AmazonSQS",
        credentials=Credentials("AKIDLOCAL", "secret"), query_compatible=True, clock=lambda: NOW,
    )  # fmt: skip
    signed = dict(query_compatible.signature("AmazonSQS.ReceiveMessage", body))
    assert signed["Authorization"] == sent["authorization"]


def test_a_request_without_credentials_is_refused_as_botocore_refuses_it():
    with pytest.raises(NoCredentialsError) as raised:
        requests(None).request("ReceiveMessage", {"QueueUrl": "q"})
    assert str(raised.value) == str(botocore.exceptions.NoCredentialsError())


def test_a_request_names_its_action_and_carries_its_json():
    headers, body = head_of(requests(Credentials("a", "b")).request("DeleteMessageBatch", {"A": 1}))
    assert headers["x-amz-target"] == "AmazonSQS.DeleteMessageBatch"
    assert headers["content-type"] == "application/x-amz-json-1.0"
    assert headers["host"] == "127.0.0.1:4566"
    assert int(headers["content-length"]) == len(body) and json.loads(body) == {"A": 1}


def test_the_host_is_signed_without_a_default_port():
    assert host_header("http://Engine.Local:80/") == "engine.local"
    assert host_header("https://sqs.eu-west-1.amazonaws.com:443") == "sqs.eu-west-1.amazonaws.com"
    assert host_header("http://127.0.0.1:9324") == "127.0.0.1:9324"


def test_an_answer_with_a_length_is_read_once_whole_and_taken_out():
    buffer = bytearray(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{")
    assert parse_response(buffer) is None
    buffer += b"}HTTP/1.1 200"
    response = parse_response(buffer)
    assert response == Response(200, {"content-length": "2"}, b"{}", closes=False)
    assert buffer == bytearray(b"HTTP/1.1 200")


def test_a_chunked_answer_is_read_whole():
    buffer = bytearray(b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{"a\r\n')
    assert parse_response(buffer) is None
    buffer += b'4;x=y\r\n":1}\r\n0\r\n\r\n'
    response = parse_response(buffer)
    assert response is not None and response.body == b'{"a":1}' and buffer == bytearray()


def test_an_interim_answer_is_skipped():
    buffer = bytearray(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n")
    response = parse_response(buffer)
    assert response is not None and response.status == 204


@pytest.mark.parametrize(
    "head",
    [b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
     b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"],
)  # fmt: skip
def test_an_answer_that_closes_its_connection_says_so(head):
    response = parse_response(bytearray(head))
    assert response is not None and response.closes


def test_a_body_without_a_length_ends_with_the_connection():
    buffer = bytearray(b"HTTP/1.0 200 OK\r\n\r\n{}")
    assert parse_response(buffer) is None
    response = parse_response(buffer, ended=True)
    assert response is not None and response.body == b"{}" and response.closes


def test_what_is_not_http_is_said():
    with pytest.raises(MalformedResponseError):
        parse_response(bytearray(b"SSH-2.0-OpenSSH\r\n\r\n"))


def error(status: int, body: dict, headers: dict | None = None) -> Response:
    return Response(status, headers or {}, json.dumps(body).encode(), closes=False)


def test_a_successful_answer_is_the_actions_output():
    assert answer("ReceiveMessage", error(200, {"Messages": []})) == {"Messages": []}
    assert answer("DeleteMessageBatch", Response(200, {}, b"", closes=False)) == {}


def test_an_error_is_coded_by_its_type_without_its_namespace():
    with pytest.raises(ServiceError) as raised:
        answer("GetRecords", error(400, {"__type": f"{DYNAMODB}#ExpiredIteratorException",
                                         "message": "too old"}))  # fmt: skip
    assert (raised.value.code, raised.value.message) == ("ExpiredIteratorException", "too old")


def test_an_sqs_error_keeps_its_query_code_as_botocore_reads_it():
    answered = error(
        400,
        {"__type": "com.amazonaws.sqs#QueueDoesNotExist",
         "Message": "The specified queue does not exist."},
        {"x-amzn-query-error": "AWS.SimpleQueueService.NonExistentQueue;Sender"},
    )  # fmt: skip
    with pytest.raises(ServiceError) as raised:
        answer("ReceiveMessage", answered)
    botocore_error = ClientError(
        {"Error": {"Code": "AWS.SimpleQueueService.NonExistentQueue",
                   "Message": "The specified queue does not exist."}},
        "ReceiveMessage",
    )  # fmt: skip
    assert str(raised.value) == str(botocore_error)


def test_an_error_given_up_on_after_retries_says_so_as_botocore_does():
    botocore_error = ClientError(
        {"Error": {"Code": "ThrottlingException", "Message": "slow down"},
         "ResponseMetadata": {"RetryAttempts": 2, "MaxAttemptsReached": True}},
        "ReceiveMessage",
    )  # fmt: skip
    given_up = ServiceError("ReceiveMessage", "ThrottlingException", "slow down", 400, retries=2)
    assert str(given_up) == str(botocore_error)


@pytest.mark.parametrize(
    ("code", "status", "retried"),
    [("ThrottlingException", 400, True), ("ProvisionedThroughputExceededException", 400, True),
     ("RequestTimeout", 400, True), ("InternalFailure", 500, True), ("Unavailable", 503, True),
     ("AWS.SimpleQueueService.NonExistentQueue", 400, False), ("ValidationException", 400, False)],
)  # fmt: skip
def test_throttling_and_transient_errors_are_tried_again(code, status, retried):
    assert ServiceError("ReceiveMessage", code, "", status).retryable is retried


def test_no_answer_is_tried_again():
    assert EndpointError('Could not connect to the endpoint URL: "http://x"').retryable


def test_retries_back_off_as_botocores_standard_mode():
    assert [backoff_s(retry, 1.0) for retry in (1, 2, 3, 6, 7)] == [1, 2, 4, 20, 20]
    assert backoff_s(2, 0.5) == 1
