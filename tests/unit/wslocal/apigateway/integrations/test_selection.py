"""Which template and which integration response API Gateway picks ("Set up WebSocket
API integrations": TemplateSelectionExpression, PassthroughBehavior,
IntegrationResponseKey)."""

import pytest

from wslocal.apigateway.integrations.exceptions import IntegrationError
from wslocal.apigateway.integrations.selection import (
    PASSTHROUGH,
    integration_response,
    request_template,
    response_template,
    template_key,
)
from wslocal.template.model import IntegrationModel, IntegrationResponseModel


def http(**fields):
    return IntegrationModel(kind="HTTP", uri="http://127.0.0.1:8000/x", **fields)


def test_an_escaped_default_expression_selects_the_default_template():
    assert template_key(r"\$default", '{"action": "x"}') == "$default"


def test_a_request_body_expression_selects_by_the_message():
    assert template_key("$request.body.kind", '{"kind": "text"}') == "text"


def test_a_key_without_its_template_falls_back_to_default():
    integration = http(
        template_selection_expression="$request.body.kind",
        request_templates={"$default": "D", "image": "I"},
    )
    assert request_template(integration, '{"kind": "text"}') == "D"
    assert request_template(integration, '{"kind": "image"}') == "I"


def test_when_no_match_passes_the_body_through():
    integration = http(template_selection_expression="$request.body.kind")
    assert request_template(integration, "{}") is PASSTHROUGH


def test_never_refuses_a_message_no_template_matches():
    integration = http(
        template_selection_expression="$request.body.kind",
        request_templates={"image": "I"},
        passthrough="NEVER",
    )
    with pytest.raises(IntegrationError, match="Unsupported Media Type"):
        request_template(integration, '{"kind": "text"}')


def test_when_no_templates_passes_through_only_without_templates():
    assert request_template(http(passthrough="WHEN_NO_TEMPLATES"), "x") is PASSTHROUGH
    integration = http(
        passthrough="WHEN_NO_TEMPLATES",
        template_selection_expression="$request.body.kind",
        request_templates={"image": "I"},
    )
    with pytest.raises(IntegrationError):
        request_template(integration, "{}")


ERRORS = IntegrationResponseModel(key=r"/4\d\d/", templates={"$default": "E"})
DEFAULT = IntegrationResponseModel(key="$default")


def test_a_status_pattern_selects_its_response_over_default():
    integration = http(responses=(DEFAULT, ERRORS))
    assert integration_response(integration, 404) is ERRORS
    assert integration_response(integration, 200) is DEFAULT


def test_a_status_pattern_matches_the_whole_status():
    integration = http(responses=(IntegrationResponseModel(key="/4/"),))
    assert integration_response(integration, 404) is None


def test_a_lambda_error_is_matched_by_its_message():
    missing = IntegrationResponseModel(key="/.*not found.*/")
    integration = IntegrationModel(kind="AWS", function="Fn", responses=(DEFAULT, missing))
    assert integration_response(integration, 200, "item not found") is missing
    assert integration_response(integration, 200, "boom") is DEFAULT
    assert integration_response(integration, 200) is DEFAULT


def test_a_response_without_templates_passes_the_body_back():
    assert response_template(DEFAULT, "{}") is None
    assert response_template(ERRORS, "{}") == "E"


def test_a_response_template_can_be_selected_by_the_status_code():
    response = IntegrationResponseModel(
        key="$default",
        template_selection_expression="${integration.response.statuscode}",
        templates={"404": "missing", "$default": "other"},
    )
    assert response_template(response, "{}", 404) == "missing"
    assert response_template(response, "{}", 200) == "other"
