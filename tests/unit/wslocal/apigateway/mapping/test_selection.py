"""REST's choice of request template by Content-Type. Source:
https://docs.aws.amazon.com/apigateway/latest/developerguide/integration-passthrough-behaviors.html
("Method request behavior for payloads without mapping templates"), its examples 1 to 3."""

from __future__ import annotations

from wslocal.apigateway.mapping import select_template

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
