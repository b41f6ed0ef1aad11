"""Overrides set by a template. Source:
https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-override-request-response-parameters.html
("Override your API's request and response parameters and status codes")."""

from __future__ import annotations

import json

import pytest

from wslocal.apigateway.mapping import (
    MappingInput,
    MappingTemplateError,
    render,
    render_with_overrides,
)

PET_ERROR = '{"errors": [{"key": "GetPetRequest.petId", "message": "The value is out of range."}]}'


def response_of(body: str) -> MappingInput:
    return MappingInput(body=body, params={"path": {"petId": "-1"}}, context={})


def test_a_response_template_overrides_the_status_when_the_body_has_an_error() -> None:
    # Example 1: override the status code based on the integration body
    template = """#set($inputRoot = $input.path('$'))
$input.json("$")
#if($inputRoot.toString().contains("error"))
#set($context.responseOverride.status = 400)
#end"""
    result = render_with_overrides(template, response_of(PET_ERROR))
    assert result.response_status == 400
    assert json.loads(result.body) == json.loads(PET_ERROR)


def test_without_an_override_the_status_is_left_to_the_integration_response() -> None:
    template = (
        "#if($input.path('$').toString().contains('error'))"
        "#set($context.responseOverride.status = 400)#end"
    )
    assert render_with_overrides(template, response_of('{"id": 1}')).response_status is None


def test_a_response_header_is_overridden() -> None:
    # "$context.responseOverride.header.header_name"
    template = (
        "#set($count = $input.path('$.items').size())"
        '#set($context.responseOverride.header.total = "$count")ok'
    )
    result = render_with_overrides(template, response_of('{"items": [1, 2]}'))
    assert (result.body, result.response_headers) == ("ok", {"total": "2"})


def test_a_hyphenated_header_is_overridden_through_put() -> None:
    # airspeed's names have no hyphens (Velocity 1.7's may): put() names any header.
    template = '#set($_ = $context.responseOverride.header.put("Content-Type", "text/plain"))'
    result = render_with_overrides(template, response_of("{}"))
    assert result.response_headers == {"Content-Type": "text/plain"}


def test_request_overrides_name_their_part() -> None:
    # $context.requestOverride.header.<name>, .path.<name>, .querystring.<name>
    template = (
        "#set($context.requestOverride.header.myHeader = \"$input.params('petId')\")"
        '#set($context.requestOverride.querystring.q = "1")'
    )
    result = render_with_overrides(template, response_of("{}"))
    assert result.request_override == {"header": {"myHeader": "-1"}, "querystring": {"q": "1"}}


def test_a_status_that_is_not_one_is_a_template_error() -> None:
    with pytest.raises(MappingTemplateError, match="is not a status"):
        render_with_overrides(
            '#set($context.responseOverride.status = "teapot")', response_of("{}")
        )


def test_render_gives_the_body_alone() -> None:
    assert render("#set($context.responseOverride.status = 201)done", response_of("{}")) == "done"
