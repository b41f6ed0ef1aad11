"""wslocal generate-event's samples parse with Powertools' models, like live events."""

import pytest
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayProxyEventModel,
    APIGatewayProxyEventV2Model,
    APIGatewayWebSocketConnectEventModel,
    APIGatewayWebSocketDisconnectEventModel,
    APIGatewayWebSocketMessageEventModel,
    DynamoDBStreamModel,
    SqsModel,
)

from wslocal import samples
from wslocal.exceptions import WslocalError

NOW = 1_795_900_000_000


def websocket(kind, **changes):
    values = {
        "api_id": "abcdef1234", "stage": "dev", "region": "eu-west-1",
        "connection_id": "c1", "route_key": "sendMessage", "body": "{}",
        "query": [("room", "lobby")], "request_id": "r1", "message_id": "m1", "now_ms": NOW,
    }  # fmt: skip
    values.update(changes)
    return samples.websocket_event(kind, **values)


@pytest.mark.parametrize(
    ("kind", "model"),
    [
        ("connect", APIGatewayWebSocketConnectEventModel),
        ("message", APIGatewayWebSocketMessageEventModel),
        ("disconnect", APIGatewayWebSocketDisconnectEventModel),
    ],
)
def test_each_websocket_sample_parses_with_its_powertools_model(kind, model):
    model.model_validate(websocket(kind))


def test_a_message_sample_carries_its_route_and_body():
    event = websocket("message", route_key="history", body='{"action":"history"}')
    assert (event["requestContext"]["routeKey"], event["body"]) == (
        "history",
        '{"action":"history"}',
    )


def test_a_connect_sample_carries_its_query():
    assert websocket("connect")["queryStringParameters"] == {"room": "lobby"}


def test_an_sqs_sample_has_one_record_per_body():
    event = samples.sqs_event(
        ["a", "b"], queue="q", region="us-east-1", account_id="123456789012",
        ids=["1", "2"], now_ms=NOW,
    )  # fmt: skip
    SqsModel.model_validate(event)
    assert [r["body"] for r in event["Records"]] == ["a", "b"]
    assert event["Records"][0]["md5OfBody"] == "0cc175b9c0f1b6a831c399e269772661"


def test_a_ttl_removal_sample_carries_the_services_identity():
    event = samples.dynamodb_event(
        table="t", event_name="REMOVE", keys={"id": {"S": "1"}}, new_image=None,
        old_image={"id": {"S": "1"}}, region="us-east-1", account_id="123456789012",
        event_id="e", sequence_number="100", now_ms=NOW, by_ttl=True,
    )  # fmt: skip
    DynamoDBStreamModel.model_validate(event)
    assert event["Records"][0]["userIdentity"]["principalId"] == "dynamodb.amazonaws.com"


def api_request(kind, **changes):
    values = {
        "method": "POST", "resource": "/items/{id}", "path": "/items/7", "query": "a=1&a=2",
        "headers": [("Content-Type", "application/json")], "body": '{"n": 1}',
        "api_id": "abcdef1234", "stage": "Prod" if kind == "rest" else "$default",
        "region": "eu-west-1", "account_id": "123456789012", "request_id": "r1", "now_ms": NOW,
    }  # fmt: skip
    values.update(changes)
    return samples.api_request_event(kind, **values)


def test_a_rest_sample_parses_as_powertools_rest_model():
    event = APIGatewayProxyEventModel(**api_request("rest"))
    assert (event.resource, event.path, event.requestContext.path) == (
        "/items/{id}", "/items/7", "/Prod/items/7",
    )  # fmt: skip


def test_an_http_sample_parses_as_powertools_v2_model():
    event = APIGatewayProxyEventV2Model(**api_request("http"))
    assert (event.routeKey, event.rawQueryString) == ("POST /items/{id}", "a=1&a=2")


def test_a_sample_path_that_does_not_fit_its_resource_is_refused():
    with pytest.raises(WslocalError, match="does not match"):
        api_request("rest", path="/other/7")
