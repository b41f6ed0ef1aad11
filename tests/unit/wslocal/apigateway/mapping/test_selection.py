"""REST's choice of request template by Content-Type. Source:
https://docs.aws.amazon.com/apigateway/latest/developerguide/integration-passthrough-behaviors.html
("Method request behavior for payloads without mapping templates"), its examples 1 to 3."""

from __future__ import annotations

from wslocal.apigateway.mapping import select_template, select_websocket_template

JSON_ONLY = {"application/json": "json template"}


def test_a_request_without_content_type_gets_the_json_template() -> None:
    # Example 1: "None (API Gateway defaults to application/json)": transformed by the template
    assert select_template(JSON_ONLY, None) == "json template"


def test_a_matching_content_type_gets_its_template() -> None:
    templates = {"application/json": "json", "application/xml": "xml"}
    assert select_template(templates, "application/xml") == "xml"


def test_a_content_type_without_a_template_gets_none() -> None:
    # Example 1: application/xml with only a JSON template: passthrough or 415, never the JSON one
    assert select_template(JSON_ONLY, "application/xml") is None


def test_a_request_without_content_type_and_no_json_template_gets_none() -> None:
    # Example 2: one template for application/xml; no Content-Type reads as application/json
    assert select_template({"application/xml": "xml"}, None) is None


def test_no_templates_select_none() -> None:
    # Example 3: no mapping templates defined
    assert select_template({}, "application/json") is None


def test_content_type_parameters_and_case_do_not_matter() -> None:
    assert select_template(JSON_ONLY, "Application/JSON; charset=UTF-8") == "json template"


# WebSocket: https://docs.aws.amazon.com/apigateway/latest/developerguide/websocket-api-data-transformations.html
# "Integration.TemplateSelectionExpression supports ${request.body.jsonPath} and static values."

BY_ACTION = {"sendMessage": "send", "$default": "fallback"}


def test_a_websocket_static_default_expression_selects_the_default_template() -> None:
    assert select_websocket_template(BY_ACTION, "\\$default", "{}") == "fallback"


def test_a_websocket_body_expression_selects_by_the_frames_value() -> None:
    frame = '{"action": "sendMessage"}'
    assert select_websocket_template(BY_ACTION, "${request.body.action}", frame) == "send"


def test_a_websocket_key_without_a_template_falls_back_to_default() -> None:
    frame = '{"action": "other"}'
    assert select_websocket_template(BY_ACTION, "${request.body.action}", frame) == "fallback"


def test_a_websocket_frame_that_is_not_json_falls_back_to_default() -> None:
    assert select_websocket_template(BY_ACTION, "${request.body.action}", "hi") == "fallback"


def test_a_websocket_integration_without_a_fitting_template_selects_none() -> None:
    assert select_websocket_template({"a": "x"}, "${request.body.action}", "{}") is None
