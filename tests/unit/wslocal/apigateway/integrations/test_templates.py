"""Templates parsed once render exactly as templates parsed per call."""

import pytest

from wslocal.apigateway.integrations.exceptions import IntegrationError
from wslocal.apigateway.integrations.templates import CompiledTemplates, request_body
from wslocal.apigateway.mapping import MappingInput, MappingTemplateError, Rendering, render
from wslocal.template.model import IntegrationModel

SEED = '{"connectionId": "$context.connectionId", "message": $input.json(\'$.message\')}'


def given(message):
    return MappingInput(f'{{"message": "{message}"}}', {}, {"connectionId": "c1"})


def test_a_compiled_template_renders_each_input_as_render_does():
    templates = CompiledTemplates()
    for message in ("one", "two"):
        assert templates.render(SEED, given(message)).body == render(SEED, given(message))


def test_a_template_that_does_not_parse_fails_every_time():
    templates = CompiledTemplates()
    for _ in range(2):
        with pytest.raises(MappingTemplateError):
            templates.render("#foreach($x in)", given("x"))


def test_past_its_limit_templates_still_render():
    templates = CompiledTemplates(limit=1)
    assert templates.render("a$context.connectionId", given("x")).body == "ac1"
    assert templates.render("b$context.connectionId", given("x")).body == "bc1"


def test_the_request_body_uses_the_renderer_it_is_given():
    integration = IntegrationModel(kind="HTTP", request_templates={"$default": "#if("})
    with pytest.raises(IntegrationError):
        request_body(
            IntegrationModel(kind="HTTP", request_templates={"$default": "#foreach($x in)"}),
            {"body": "{}", "requestContext": {}},
            CompiledTemplates().render,
        )
    given_back = Rendering("given")
    assert request_body(integration, {"body": "{}"}, lambda template, _: given_back) == "given"
