"""An HTTP API's CORS configuration, as API Gateway applies it."""

from wslocal.apigateway.proxy.cors import is_preflight, preflight, with_cors
from wslocal.apigateway.proxy.responses import ProxyResponse
from wslocal.template import CorsModel

CORS = CorsModel(
    allow_origins=("https://app.example",),
    allow_methods=("GET", "POST"),
    allow_headers=("content-type",),
    expose_headers=("x-id",),
    max_age_s=60,
)


def test_a_preflight_is_an_options_with_origin_and_requested_method():
    assert is_preflight("OPTIONS", "https://a", "GET")
    assert not is_preflight("OPTIONS", "https://a", None)
    assert not is_preflight("GET", "https://a", "GET")


def test_an_allowed_origins_preflight_gets_the_allow_headers():
    response = preflight(CORS, "https://app.example", None)
    assert response.status == 204
    assert dict(response.headers) == {
        "Access-Control-Allow-Origin": "https://app.example",
        "Access-Control-Allow-Methods": "GET,POST",
        "Access-Control-Allow-Headers": "content-type",
        "Access-Control-Max-Age": "60",
    }


def test_another_origins_preflight_gets_none():
    assert preflight(CORS, "https://evil.example", None).headers == []


def test_a_wildcard_origin_answers_star_without_credentials():
    cors = CorsModel(allow_origins=("*",))
    assert dict(preflight(cors, "https://x", None).headers)["Access-Control-Allow-Origin"] == "*"


def test_the_apis_cors_headers_replace_the_functions_own():
    response = ProxyResponse(200, [("access-control-allow-origin", "*"), ("X", "1")])
    headers = with_cors(CORS, "https://app.example", response).headers
    assert headers == [
        ("X", "1"),
        ("Access-Control-Allow-Origin", "https://app.example"),
        ("Access-Control-Expose-Headers", "x-id"),
    ]


def test_every_cors_header_of_the_function_is_dropped_even_those_the_api_does_not_set():
    response = ProxyResponse(200, [("Access-Control-Allow-Methods", "DELETE"), ("X", "1")])
    headers = with_cors(CORS, "https://app.example", response).headers
    assert [name for name, _ in headers if name == "Access-Control-Allow-Methods"] == []


def test_a_refused_origin_gets_none_of_the_functions_cors_headers():
    response = ProxyResponse(200, [("Access-Control-Allow-Origin", "*"), ("X", "1")])
    assert with_cors(CORS, "https://evil.example", response).headers == [("X", "1")]
    assert with_cors(CORS, None, response).headers == [("X", "1")]
