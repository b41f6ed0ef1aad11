"""HTTP and HTTP_PROXY integrations shape the web server's request and read its answer."""

import json

import pytest

from wslocal.apigateway.integrations.backend import BackendResponse
from wslocal.apigateway.integrations.exceptions import IntegrationError
from wslocal.apigateway.integrations.http import http_answer, http_request
from wslocal.template.model import IntegrationModel, IntegrationResponseModel

SEED_TEMPLATE = '{"connectionId": "$context.connectionId", "message": $input.json(\'$.message\')}'
EVENT = {
    "body": '{"action": "sendMessage", "message": "hi \\"you\\""}',
    "requestContext": {"connectionId": "abc=", "routeKey": "sendMessage"},
    "isBase64Encoded": False,
}


def seed(**fields):
    return IntegrationModel(
        kind="HTTP",
        uri="http://127.0.0.1:8000/send-message",
        **{
            "template_selection_expression": r"\$default",
            "request_templates": {"$default": SEED_TEMPLATE},
            **fields,
        },
    )


def test_the_seeds_request_template_shapes_the_frame():
    request = http_request(seed(), EVENT)
    assert json.loads(request.body) == {"connectionId": "abc=", "message": 'hi "you"'}
    assert (request.method, request.url) == ("POST", "http://127.0.0.1:8000/send-message")
    assert ("Content-Type", "application/json") in request.headers


def test_the_integration_timeout_bounds_the_call():
    assert http_request(seed(timeout_s=0.5), EVENT).timeout_s == 0.5


def test_request_parameters_fill_the_path_query_and_headers():
    integration = IntegrationModel(
        kind="HTTP_PROXY",
        uri="http://127.0.0.1:8000/rooms/{room}",
        method="PUT",
        request_parameters={
            "integration.request.path.room": "'lobby'",
            "integration.request.querystring.from": "context.connectionId",
            "integration.request.header.Content-Type": "'text/plain'",
        },
    )
    request = http_request(integration, EVENT)
    assert request.url == "http://127.0.0.1:8000/rooms/lobby?from=abc%3D"
    assert request.headers == (("Content-Type", "text/plain"),)


def test_http_proxy_sends_the_frame_as_the_body_and_returns_the_servers_body():
    integration = IntegrationModel(kind="HTTP_PROXY", uri="http://127.0.0.1:8000/")
    assert http_request(integration, EVENT).body == EVENT["body"].encode()
    answer = http_answer(integration, EVENT, BackendResponse(201, "created"))
    assert (answer.status_code, answer.body) == (201, "created")


def test_a_status_pattern_response_template_shapes_the_backends_error():
    refused = IntegrationResponseModel(
        key=r"/4\d\d/",
        template_selection_expression=r"\$default",
        templates={"$default": "{\"error\": $input.json('$.detail')}"},
    )
    integration = seed(responses=(IntegrationResponseModel(key="$default"), refused))
    answer = http_answer(integration, EVENT, BackendResponse(400, '{"detail": "no message"}'))
    assert json.loads(answer.body) == {"error": "no message"}
    answer = http_answer(integration, EVENT, BackendResponse(200, '{"delivered": 2}'))
    assert answer.body == '{"delivered": 2}'


def test_a_template_that_does_not_render_is_an_integration_error_with_its_reason():
    integration = seed(request_templates={"$default": "#foreach($x in)"})
    with pytest.raises(IntegrationError, match="request template does not render"):
        http_request(integration, EVENT)
