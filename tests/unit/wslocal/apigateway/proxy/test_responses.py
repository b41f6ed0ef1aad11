"""What a function's result means on the wire, for REST and HTTP APIs."""

import json

import pytest

from wslocal.apigateway.proxy.responses import (
    MalformedResultError,
    function_response,
    integration_timed_out,
    no_route,
    too_large,
)
from wslocal.template import ProxyApiModel, ProxyRouteModel

REST = ProxyApiModel("Rest", "r", "REST", "Prod", ())
HTTP = ProxyApiModel("Http", "h", "HTTP", "$default", ())
BINARY_REST = ProxyApiModel("Rest", "r", "REST", "Prod", (), binary_media_types=("image/*",))
V1 = ProxyRouteModel("GET", "/a", "Fn", payload_format="1.0")
V2 = ProxyRouteModel("GET", "/a", "Fn", payload_format="2.0")


def test_headers_and_multi_value_headers_are_both_sent_multi_winning():
    response = function_response(
        REST,
        V1,
        {
            "statusCode": 200,
            "headers": {"A": "1", "B": "x", "Content-Type": "text/plain"},
            "multiValueHeaders": {"b": ["2", "3"]},
        },
    )
    assert response.headers == [("A", "1"), ("Content-Type", "text/plain"), ("b", "2"), ("b", "3")]


def test_an_http_apis_base64_body_is_decoded():
    response = function_response(
        HTTP, V1, {"statusCode": 200, "body": "AAE=", "isBase64Encoded": True}
    )
    assert response.body == b"\x00\x01"


def test_a_rest_base64_body_is_decoded_when_the_first_accept_is_a_binary_type():
    result = {"statusCode": 200, "body": "AAE=", "isBase64Encoded": True}
    response = function_response(BINARY_REST, V1, result, accept="image/png, text/html")
    assert response.body == b"\x00\x01"


@pytest.mark.parametrize("accept", [None, "text/html, image/png", "application/json"])
def test_a_rest_base64_body_is_sent_as_base64_text_unless_accept_is_binary(accept):
    result = {"statusCode": 200, "body": "AAE=", "isBase64Encoded": True}
    assert function_response(BINARY_REST, V1, result, accept=accept).body == b"AAE="


@pytest.mark.parametrize(
    "result",
    [
        "text",
        {"statusCode": "abc"},
        {"statusCode": 200, "body": {"not": "a string"}},
        {"statusCode": 200, "cookies": ["a=1"]},  # REST has no cookies
        {"statusCode": 700},
        {"statusCode": 200, "body": "!!", "isBase64Encoded": True},
    ],
)
def test_a_rest_result_that_is_not_a_proxy_response_is_malformed(result):
    with pytest.raises(MalformedResultError):
        function_response(REST, V1, result)


def test_an_http_result_without_status_code_is_200_json():
    response = function_response(HTTP, V2, {"a": 1})
    assert (response.status, json.loads(response.body)) == (200, {"a": 1})
    assert response.headers == [("Content-Type", "application/json")]


def test_an_http_string_result_is_the_body_itself():
    assert function_response(HTTP, V2, "hello").body == b"hello"


def test_http_cookies_become_set_cookie_headers():
    response = function_response(HTTP, V2, {"statusCode": 200, "cookies": ["a=1", "b=2"]})
    assert response.headers == [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")]


def test_an_http_route_with_payload_1_0_infers_nothing():
    with pytest.raises(MalformedResultError):
        function_response(HTTP, V1, {"a": 1})


def test_the_apis_own_answers_differ_by_kind():
    assert (no_route(REST).status, json.loads(no_route(REST).body)) == (
        403, {"message": "Missing Authentication Token"},
    )  # fmt: skip
    assert (no_route(HTTP).status, json.loads(no_route(HTTP).body)) == (
        404,
        {"message": "Not Found"},
    )
    assert (too_large(REST).status, too_large(HTTP).status) == (413, 413)
    assert (integration_timed_out(REST).status, integration_timed_out(HTTP).status) == (504, 503)


def test_a_rest_response_without_a_content_type_is_sent_as_application_json():
    response = function_response(REST, V1, {"statusCode": 200, "body": "{}"})
    assert response.headers == [("Content-Type", "application/json")]


def test_a_rest_responses_own_content_type_is_kept_whatever_its_case():
    result = {"statusCode": 200, "headers": {"content-type": "text/html"}, "body": "<p>"}
    assert function_response(REST, V1, result).headers == [("content-type", "text/html")]
