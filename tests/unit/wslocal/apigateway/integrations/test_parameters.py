"""RequestParameters: integration request parameters from the request, the context, stage
variables or literals ("Map request parameters ... for WebSocket APIs")."""

import base64

import pytest

from wslocal.apigateway.integrations.exceptions import IntegrationError
from wslocal.apigateway.integrations.parameters import integration_parameters, mapped_value

EVENT = {
    "headers": {"Authorization": "token", "Host": "h"},
    "queryStringParameters": {"room": "lobby"},
    "requestContext": {"connectionId": "abc=", "identity": {"sourceIp": "127.0.0.1"}},
    "stageVariables": {"version": "v2"},
}


def test_headers_query_and_path_come_from_request_context_and_literals():
    found = integration_parameters(
        {
            "integration.request.header.X-Connection": "context.connectionId",
            "integration.request.header.X-Ip": "context.identity.sourceIp",
            "integration.request.header.Content-Type": "'application/json'",
            "integration.request.querystring.room": "route.request.querystring.room",
            "integration.request.header.X-Auth": "route.request.header.authorization",
            "integration.request.path.version": "stageVariables.version",
        },
        EVENT,
    )
    assert dict(found.headers) == {
        "X-Connection": "abc=",
        "X-Ip": "127.0.0.1",
        "Content-Type": "application/json",
        "X-Auth": "token",
    }
    assert (dict(found.query), dict(found.path)) == ({"room": "lobby"}, {"version": "v2"})


def test_a_source_the_request_lacks_gives_no_parameter():
    found = integration_parameters(
        {"integration.request.header.X": "route.request.header.Missing"}, EVENT
    )
    assert dict(found.headers) == {}


@pytest.mark.parametrize(
    ("destination", "source"),
    [("integration.request.body.x", "'a'"), ("integration.request.header.X", "request.x")],
)
def test_an_unknown_destination_or_source_is_an_integration_error(destination, source):
    with pytest.raises(IntegrationError):
        integration_parameters({destination: source}, EVENT)


def test_an_http_api_mapping_value_reads_the_body_by_path_as_json():
    event = {"body": '{"order": {"id": 7}, "note": "hi"}', "headers": {"x-a": "1"}}
    assert mapped_value("$request.body.order", event) == '{"id": 7}'
    assert mapped_value("$request.body.note", event) == "hi"
    assert mapped_value("$request.body.missing", event) == ""
    assert mapped_value("$request.header.X-A", event) == "1"
    assert mapped_value("plain text", event) == "plain text"


def test_an_http_api_mapping_reads_a_body_the_event_carries_in_base64():
    # A body whose Content-Type is not text (a form post) reaches the event base64-encoded;
    # $request.body.x reads what the client sent.
    body = base64.b64encode(b'{"order": {"id": 7}}').decode()
    event = {"body": body, "isBase64Encoded": True}
    assert mapped_value("$request.body.order", event) == '{"id": 7}'
    assert mapped_value("$request.body", event) == '{"order": {"id": 7}}'
