"""A proxy event read as a mapping template's input (for ``wslocal render-template``)."""

from __future__ import annotations

import base64

import pytest

from wslocal.apigateway.mapping.from_event import mapping_input_from_event
from wslocal.exceptions import WslocalError

REST_EVENT = {
    "body": '{"a": 1}',
    "pathParameters": {"id": "7"},
    "queryStringParameters": {"q": "x"},
    "headers": {"Content-Type": "application/json"},
    "stageVariables": {"env": "prod", "keep": "yes"},
    "requestContext": {"requestId": "r-1", "identity": {"sourceIp": "192.0.2.1"}},
}


def test_the_events_body_parameters_and_context_become_the_input() -> None:
    given = mapping_input_from_event(REST_EVENT)
    assert given.body == '{"a": 1}'
    assert given.params == {
        "path": {"id": "7"},
        "querystring": {"q": "x"},
        "header": {"Content-Type": "application/json"},
    }
    assert given.context == REST_EVENT["requestContext"]
    assert given.stage_variables == {"env": "prod", "keep": "yes"}


def test_stage_variables_given_replace_the_events() -> None:
    given = mapping_input_from_event(REST_EVENT, stage_variables={"env": "dev"})
    assert given.stage_variables == {"env": "dev", "keep": "yes"}


def test_context_overrides_set_dotted_names_without_touching_the_event() -> None:
    given = mapping_input_from_event(
        REST_EVENT, context_overrides={"identity.sourceIp": "203.0.113.9", "authorizer.role": "a"}
    )
    assert given.context["identity"] == {"sourceIp": "203.0.113.9"}
    assert given.context["authorizer"] == {"role": "a"}
    assert REST_EVENT["requestContext"]["identity"] == {"sourceIp": "192.0.2.1"}


def test_a_base64_body_is_decoded() -> None:
    event = {"body": base64.b64encode(b"hello").decode(), "isBase64Encoded": True}
    assert mapping_input_from_event(event).body == "hello"


def test_a_websocket_message_event_has_no_parameters() -> None:
    given = mapping_input_from_event({"body": "hi", "requestContext": {"connectionId": "c="}})
    assert given.params == {"path": {}, "querystring": {}, "header": {}}


def test_an_event_that_is_not_an_object_is_a_clear_error() -> None:
    with pytest.raises(WslocalError, match="JSON object"):
        mapping_input_from_event([1, 2])  # type: ignore[arg-type]
