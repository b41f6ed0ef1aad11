import pytest
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayWebSocketConnectEventModel,
    APIGatewayWebSocketDisconnectEventModel,
    APIGatewayWebSocketMessageEventModel,
)

from wslocal.apigateway import events

STAGE = events.StageContext(api_id="abcdefghij", stage="local", domain_name="127.0.0.1:3001")
CONNECTION = events.ConnectionContext(
    connection_id="L0SM9cOFvHcCIhw=", connected_at=1731324924000, source_ip="127.0.0.1"
)
NOW = 1731324925123
HEADERS = [("Host", "127.0.0.1:3001"), ("Sec-WebSocket-Key", "k"), ("Sec-WebSocket-Version", "13")]


def connect(query=()):
    headers = events.handshake_headers(HEADERS, source_ip="127.0.0.1", server_port=3001, trace="t")
    return events.connect_event(
        STAGE, CONNECTION, headers=headers, query=list(query), request_id="r1", now_ms=NOW
    )


def message(data):
    return events.message_event(
        STAGE,
        CONNECTION,
        route_key="sendMessage",
        data=data,
        request_id="r2",
        message_id="m2",
        now_ms=NOW,
    )


def disconnect():
    return events.disconnect_event(
        STAGE,
        CONNECTION,
        status_code=1005,
        reason="x",
        host="127.0.0.1:3001",
        request_id="r3",
        now_ms=NOW,
    )


def test_request_time_is_in_api_gateways_format():
    assert events.request_time(1731324924000) == "11/Nov/2024:11:35:24 +0000"


def test_ids_look_like_api_gateways():
    ident = events.api_gateway_id()
    assert len(ident) == 16 and ident.endswith("=") and "/" not in ident and "+" not in ident
    assert events.api_gateway_id() != ident


def test_common_request_context_fields():
    context = message("{}")["requestContext"]
    assert context == {
        "routeKey": "sendMessage",
        "eventType": "MESSAGE",
        "extendedRequestId": "r2",
        "requestTime": events.request_time(NOW),
        "messageDirection": "IN",
        "stage": "local",
        "connectedAt": 1731324924000,
        "requestTimeEpoch": NOW,
        "identity": {"sourceIp": "127.0.0.1"},
        "requestId": "r2",
        "domainName": "127.0.0.1:3001",
        "connectionId": "L0SM9cOFvHcCIhw=",
        "apiId": "abcdefghij",
        "messageId": "m2",
    }


def test_connect_event_carries_handshake_and_forwarding_headers_and_no_body():
    event = connect()
    assert event["headers"]["Sec-WebSocket-Key"] == "k"
    assert event["headers"]["X-Forwarded-For"] == "127.0.0.1"
    assert event["headers"]["X-Forwarded-Port"] == "3001"
    assert event["headers"]["X-Amzn-Trace-Id"] == "t"
    assert event["multiValueHeaders"]["Host"] == ["127.0.0.1:3001"]
    assert event["requestContext"]["eventType"] == "CONNECT"
    assert "body" not in event and "messageId" not in event["requestContext"]
    assert event["isBase64Encoded"] is False


def test_connect_event_has_query_fields_only_when_a_query_was_sent():
    assert "queryStringParameters" not in connect()
    event = connect([("room", "a"), ("tag", "x"), ("tag", "y")])
    assert event["queryStringParameters"] == {"room": "a", "tag": "y"}
    assert event["multiValueQueryStringParameters"] == {"room": ["a"], "tag": ["x", "y"]}


def test_text_message_body_is_the_text():
    event = message('{"action":"sendMessage"}')
    assert (event["body"], event["isBase64Encoded"]) == ('{"action":"sendMessage"}', False)
    assert "headers" not in event


def test_disconnect_event_has_status_reason_and_placeholder_headers():
    event = disconnect()
    assert event["requestContext"]["disconnectStatusCode"] == 1005
    assert event["requestContext"]["disconnectReason"] == "x"
    assert event["headers"] == {
        "Host": "127.0.0.1:3001",
        "x-api-key": "",
        "X-Forwarded-For": "",
        "x-restapi": "",
    }
    assert "messageId" not in event["requestContext"]


def test_authorizer_context_reaches_every_event():
    connection = events.ConnectionContext("c", 0, "127.0.0.1", authorizer={"principalId": "u"})
    event = events.message_event(
        STAGE, connection, route_key="r", data="{}", request_id="r", message_id="m", now_ms=NOW
    )
    assert event["requestContext"]["authorizer"] == {"principalId": "u"}


def test_authorizer_event_is_a_request_authorizers():
    event = events.authorizer_event(
        STAGE, CONNECTION, region="us-east-1", account_id="123456789012",
        headers=HEADERS, query=[("token", "t")], request_id="r", now_ms=NOW,
    )  # fmt: skip
    assert event["type"] == "REQUEST"
    assert (
        event["methodArn"] == "arn:aws:execute-api:us-east-1:123456789012:abcdefghij/local/$connect"
    )
    assert event["queryStringParameters"] == {"token": "t"}
    assert event["requestContext"]["routeKey"] == "$connect"


@pytest.mark.parametrize(
    ("build", "model"),
    [
        (lambda: connect([("room", "a")]), APIGatewayWebSocketConnectEventModel),
        (lambda: message("{}"), APIGatewayWebSocketMessageEventModel),
        (disconnect, APIGatewayWebSocketDisconnectEventModel),
    ],
)
def test_built_events_parse_with_powertools_parser_models(build, model):
    model.model_validate(build())
