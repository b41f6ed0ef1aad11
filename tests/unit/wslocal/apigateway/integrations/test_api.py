"""REST and HTTP API integrations: requests from the method request, responses from the
backend's ("Set up integration request/response", "Transform API requests and responses
for HTTP APIs": parameter mapping)."""

import dataclasses
import json

import pytest

from wslocal.apigateway.integrations.api import (
    UnsupportedMediaTypeError,
    failure,
    http_api_request,
    lambda_rest_payload,
    rest_answer,
    rest_mock_answer,
    rest_request,
)
from wslocal.apigateway.integrations.backend import BackendResponse
from wslocal.apigateway.integrations.exceptions import EndpointTimeoutError, IntegrationError
from wslocal.template.model import IntegrationModel, IntegrationResponseModel

REST_EVENT = {
    "httpMethod": "POST",
    "headers": {"Content-Type": "application/json; charset=utf-8", "X-Who": "ann"},
    "body": '{"text": "hi"}',
    "isBase64Encoded": False,
    "requestContext": {"stage": "prod", "requestId": "r1"},
}
NOTES = IntegrationModel(
    kind="HTTP",
    uri="http://127.0.0.1:8000/notes",
    passthrough="NEVER",
    request_templates={"application/json": "{\"t\": $input.json('$.text')}"},
    request_parameters={"integration.request.header.X-Caller": "method.request.header.X-Who"},
    responses=(
        IntegrationResponseModel(
            key=r"4\d{2}", status=409, templates={"application/json": '{"r": 1}'}
        ),
        IntegrationResponseModel(
            key="$default",
            status=201,
            parameters={
                "method.response.header.X-Backend": "'relay'",
                "method.response.header.X-Id": "integration.response.header.X-Request",
            },
        ),
    ),
)


def test_the_request_template_is_chosen_by_content_type():
    request = rest_request(NOTES, REST_EVENT)
    assert json.loads(request.body) == {"t": "hi"}
    assert ("X-Caller", "ann") in request.headers


def test_no_template_for_the_content_type_with_never_is_unsupported():
    event = {**REST_EVENT, "headers": {"Content-Type": "text/plain"}}
    with pytest.raises(UnsupportedMediaTypeError):
        rest_request(NOTES, event)


def test_selection_pattern_sets_the_status_and_template():
    answer = rest_answer(NOTES, REST_EVENT, BackendResponse(404, "{}"))
    assert (answer.status, answer.body) == (409, b'{"r": 1}')


def test_the_default_response_maps_headers_from_literals_and_the_backend():
    answer = rest_answer(NOTES, REST_EVENT, BackendResponse(200, "{}", (("X-Request", "b7"),)))
    assert answer.status == 201
    assert ("X-Backend", "relay") in answer.headers and ("X-Id", "b7") in answer.headers


def test_no_matching_and_no_default_integration_response_is_a_configuration_error():
    only_conflicts = dataclasses.replace(
        NOTES, responses=(IntegrationResponseModel(key="/4\\d\\d/", status=409),)
    )
    with pytest.raises(IntegrationError, match="No match for output mapping"):
        rest_answer(only_conflicts, REST_EVENT, BackendResponse(200, "{}"))
    with pytest.raises(IntegrationError, match="Endpoint Response Status Code: 200"):
        rest_answer(dataclasses.replace(NOTES, responses=()), REST_EVENT, BackendResponse(200, ""))


def test_failures_are_the_apis_own_answers():
    assert failure("REST", EndpointTimeoutError("slow")).status == 504
    assert failure("HTTP", EndpointTimeoutError("slow")).status == 503
    assert failure("REST", IntegrationError("refused")).status == 500
    assert failure("REST", UnsupportedMediaTypeError("x")).status == 415


HTTP_EVENT = {
    "rawPath": "/shout",
    "rawQueryString": "via=client&keep=1",
    "headers": {"x-tags": "a", "x-secret": "s"},
    "pathParameters": {"id": "7"},
    "body": "loud",
    "requestContext": {"http": {"method": "PUT"}, "requestId": "r1"},
}


def test_http_api_parameter_mapping_overwrites_appends_and_removes():
    integration = IntegrationModel(
        kind="HTTP_PROXY",
        uri="http://127.0.0.1:8000/items/{id}",
        method="ANY",
        request_parameters={
            "append:header.X-Tags": "extra",
            "remove:header.X-Secret": "''",
            "overwrite:header.X-Request": "$context.requestId",
            "overwrite:querystring.via": "gateway",
        },
    )
    request = http_api_request(integration, HTTP_EVENT)
    headers = dict(request.headers)
    assert (request.method, request.url) == (
        "PUT",
        "http://127.0.0.1:8000/items/7?keep=1&via=gateway",
    )
    assert headers == {"x-tags": "a,extra", "X-Request": "r1"}


def test_http_api_overwrite_path_replaces_the_path():
    integration = IntegrationModel(
        kind="HTTP_PROXY",
        uri="http://127.0.0.1:8000/",
        request_parameters={"overwrite:path": "/v2/items"},
    )
    assert (
        http_api_request(integration, HTTP_EVENT).url
        == "http://127.0.0.1:8000/v2/items?via=client&keep=1"
    )


def test_a_rest_lambda_non_proxy_event_is_the_content_types_template():
    shout = IntegrationModel(
        kind="AWS",
        function="Shout",
        request_templates={"application/json": '{"t": $input.json(\'$.text\'), "via": "rest"}'},
    )
    assert lambda_rest_payload(shout, REST_EVENT) == {"t": "hi", "via": "rest"}


OVERRIDES = "https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-override-request-response-parameters.html"


def test_a_request_templates_request_override_reaches_the_backend():
    # OVERRIDES: #set($context.requestOverride.header.X-Caller = ...) replaces the mapping.
    template = (
        "#set($_ = $context.requestOverride.header.put('X-Caller', 'bob'))"
        "#set($context.requestOverride.querystring.page = '2')"
        "{\"t\": $input.json('$.text')}"
    )
    integration = dataclasses.replace(NOTES, request_templates={"application/json": template})
    request = rest_request(integration, REST_EVENT)
    assert dict(request.headers)["X-Caller"] == "bob"
    assert request.url == "http://127.0.0.1:8000/notes?page=2"
    assert json.loads(request.body) == {"t": "hi"}


def test_a_response_templates_response_override_sets_the_status_and_headers():
    # OVERRIDES: #set($context.responseOverride.status = 400) in an integration response.
    template = (
        "#set($context.responseOverride.status = 418)"
        "#set($_ = $context.responseOverride.header.put('X-Backend', 'teapot'))"
        '{"brewed": false}'
    )
    responses = (
        IntegrationResponseModel(
            key="$default",
            status=201,
            templates={"application/json": template},
            parameters={"method.response.header.X-Backend": "'relay'"},
        ),
    )
    integration = dataclasses.replace(NOTES, responses=responses)
    answer = rest_answer(integration, REST_EVENT, BackendResponse(200, "{}"))
    assert (answer.status, answer.body) == (418, b'{"brewed": false}')
    assert ("X-Backend", "teapot") in answer.headers


PING = IntegrationModel(
    kind="MOCK",
    request_templates={
        "application/json": '{"statusCode": #if($input.params(\'fail\') == "yes")500#{else}200#end}'
    },
    responses=(
        IntegrationResponseModel(
            key=r"5\d{2}", status=503, templates={"application/json": '{"down": true}'}
        ),
        IntegrationResponseModel(
            key="$default",
            status=200,
            templates={"application/json": '{"stage": "$context.stage"}'},
        ),
    ),
)


def test_a_rest_mock_renders_the_response_its_request_templates_status_selects():
    # "Set up mock integrations": the request template's statusCode selects the response.
    ok = rest_mock_answer(PING, {**REST_EVENT, "queryStringParameters": {"fail": "no"}})
    failing = rest_mock_answer(PING, {**REST_EVENT, "queryStringParameters": {"fail": "yes"}})
    assert (ok.status, json.loads(ok.body)) == (200, {"stage": "prod"})
    assert (failing.status, json.loads(failing.body)) == (503, {"down": True})
