"""wslocal generate-event's samples parse with Powertools' models, like live events."""

import pytest
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayWebSocketConnectEventModel,
    APIGatewayWebSocketDisconnectEventModel,
    APIGatewayWebSocketMessageEventModel,
    DynamoDBStreamModel,
    SqsModel,
)

from wslocal import samples

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
