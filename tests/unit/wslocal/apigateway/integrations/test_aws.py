"""AWS integrations: Lambda without the proxy, and service actions on the stage's engines."""

import json

import pytest

from wslocal.apigateway.integrations.aws import (
    lambda_answer,
    lambda_error_answer,
    lambda_payload,
    service_action,
    service_request,
)
from wslocal.apigateway.integrations.exceptions import IntegrationError
from wslocal.template.model import IntegrationModel, IntegrationResponseModel

EVENT = {"body": '{"action": "store", "text": "hi"}', "requestContext": {"connectionId": "c1"}}
PUT = IntegrationModel(
    kind="AWS",
    uri="arn:aws:apigateway:us-east-1:dynamodb:action/PutItem",
    request_templates={
        "$default": '{"TableName": "Notes", "Item": {"id": {"S": "$context.connectionId"}, '
        '"text": {"S": $input.json(\'$.text\')}}}'
    },
)


def test_a_dynamodb_action_is_posted_as_json_with_its_target():
    request = service_request(PUT, EVENT, "http://127.0.0.1:8001")
    assert request.url == "http://127.0.0.1:8001/"
    headers = dict(request.headers)
    assert headers["X-Amz-Target"] == "DynamoDB_20120810.PutItem"
    assert headers["Content-Type"] == "application/x-amz-json-1.0"
    assert json.loads(request.body)["Item"] == {"id": {"S": "c1"}, "text": {"S": "hi"}}


def test_an_sqs_path_integration_posts_the_form_to_the_queues_path():
    integration = IntegrationModel(
        kind="AWS",
        uri="arn:aws:apigateway:us-east-1:sqs:path/123456789012/inbox",
        request_parameters={
            "integration.request.header.Content-Type": "'application/x-www-form-urlencoded'"
        },
        request_templates={
            "$default": "Action=SendMessage&MessageBody=$util.urlEncode($input.body)"
        },
    )
    request = service_request(integration, EVENT, "http://127.0.0.1:5000")
    assert request.url == "http://127.0.0.1:5000/123456789012/inbox"
    assert request.body.startswith(b"Action=SendMessage&MessageBody=%7B")


def test_a_uri_that_is_not_a_service_uri_is_an_integration_error():
    with pytest.raises(IntegrationError):
        service_action("https://example.com")


SHOUT = IntegrationModel(
    kind="AWS",
    function="Shout",
    request_templates={"$default": "{\"text\": $input.json('$.text')}"},
    responses=(
        IntegrationResponseModel(key="$default"),
        IntegrationResponseModel(
            key="/.*empty.*/",
            templates={"$default": '{"refused": "$input.path(\'$.errorMessage\')"}'},
        ),
    ),
)


def test_a_lambda_non_proxy_gets_the_rendered_template_as_its_event():
    assert lambda_payload(SHOUT, EVENT) == {"text": "hi"}


def test_a_lambda_result_comes_back_as_json():
    assert json.loads(lambda_answer(SHOUT, EVENT, {"TEXT": "HI"}).body) == {"TEXT": "HI"}


def test_a_lambda_error_is_chosen_by_its_message():
    answer = lambda_error_answer(SHOUT, EVENT, {"errorMessage": "text is empty", "errorType": "E"})
    assert json.loads(answer.body) == {"refused": "text is empty"}
    answer = lambda_error_answer(SHOUT, EVENT, {"errorMessage": "boom", "errorType": "E"})
    assert json.loads(answer.body) == {"errorMessage": "boom", "errorType": "E"}
