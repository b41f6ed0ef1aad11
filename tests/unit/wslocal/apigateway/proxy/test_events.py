"""The Lambda proxy events of REST and HTTP APIs, built without a socket."""

from wslocal.apigateway.proxy.events import (
    Invocation,
    ProxyRequest,
    http_event,
    is_binary,
    rest_event,
)
from wslocal.apigateway.proxy.routes import match_route
from wslocal.template import ProxyApiModel, ProxyRouteModel

ROUTE = ProxyRouteModel("POST", "/up", "Fn", payload_format="2.0")
REST = ProxyApiModel(
    "Rest", "rest123456", "REST", "Prod", (ROUTE,), binary_media_types=("image/*",)
)
HTTP = ProxyApiModel("Http", "http123456", "HTTP", "$default", (ROUTE,))
INVOCATION = Invocation("req=", 1_700_000_000_123, "123456789012")


def request(path, body=b"", headers=(), query=""):
    return ProxyRequest(
        "POST", path, query, [tuple(p.split("=", 1)) for p in query.split("&") if p],
        list(headers), body, "10.0.0.1", "127.0.0.1:3002",
    )  # fmt: skip


def test_rest_bodies_of_a_binary_media_type_are_base64_by_wildcard():
    assert is_binary(REST, request("/Prod/up", b"x", [("Content-Type", "image/png")]))
    assert not is_binary(REST, request("/Prod/up", b"x", [("Content-Type", "text/plain")]))


def test_http_bodies_are_base64_when_they_are_not_text():
    assert is_binary(HTTP, request("/up", b"\xff\xfe"))
    assert not is_binary(HTTP, request("/up", "é".encode()))


def test_a_rest_request_without_query_or_body_has_nulls():
    req = request("/Prod/up")
    event = rest_event(REST, match_route(REST, "POST", "/Prod/up"), req, INVOCATION)
    assert (event["queryStringParameters"], event["multiValueQueryStringParameters"]) == (
        None,
        None,
    )
    assert (event["body"], event["pathParameters"]) == (None, None)


def test_rest_time_fields_come_from_the_invocation():
    req = request("/Prod/up")
    context = rest_event(REST, match_route(REST, "POST", "/Prod/up"), req, INVOCATION)[
        "requestContext"
    ]
    assert context["requestTimeEpoch"] == 1_700_000_000_123
    assert context["requestTime"] == "14/Nov/2023:22:13:20 +0000"
    assert (context["requestId"], context["identity"]["sourceIp"]) == ("req=", "10.0.0.1")


def test_an_http_request_without_query_body_or_cookies_leaves_them_out():
    event = http_event(HTTP, match_route(HTTP, "POST", "/up"), request("/up"), INVOCATION)
    assert not {"queryStringParameters", "body", "cookies", "pathParameters"} & set(event)
    assert event["rawQueryString"] == ""


def test_an_http_binary_body_is_base64():
    req = request("/up", b"\xff\x00")
    event = http_event(HTTP, match_route(HTTP, "POST", "/up"), req, INVOCATION)
    assert (event["body"], event["isBase64Encoded"]) == ("/wA=", True)
