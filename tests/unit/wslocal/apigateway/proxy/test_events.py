"""The Lambda proxy events of REST and HTTP APIs, built without a socket."""

from dataclasses import replace

import pytest

from wslocal.apigateway.proxy.events import (
    Invocation,
    ProxyRequest,
    front_end_headers,
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


def test_a_rest_body_is_binary_by_its_content_type_never_by_its_accept():
    headers = [("Content-Type", "text/plain"), ("Accept", "image/png")]
    assert not is_binary(REST, request("/Prod/up", b"x", headers))


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "text/csv; charset=utf-8", "application/json", "application/xml",
     "application/javascript", "Application/JSON"],
)  # fmt: skip
def test_http_bodies_of_text_json_xml_or_javascript_are_left_as_text(content_type):
    assert not is_binary(HTTP, request("/up", b"x", [("Content-Type", content_type)]))


@pytest.mark.parametrize(
    "headers",
    [[("Content-Type", "application/octet-stream")],
     [("Content-Type", "application/x-www-form-urlencoded")], []],
)  # fmt: skip
def test_http_bodies_of_any_other_or_no_content_type_are_base64_even_in_utf8(headers):
    assert is_binary(HTTP, request("/up", b"a=1", headers))


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
    req = request("/up", b"\xff\x00", [("Content-Type", "image/png")])
    event = http_event(HTTP, match_route(HTTP, "POST", "/up"), req, INVOCATION)
    assert (event["body"], event["isBase64Encoded"]) == ("/wA=", True)


def test_a_rest_events_request_id_and_extended_request_id_are_the_invocations_two_ids():
    invocation = Invocation("c6af9ac6-7b61-11e6-9a41-93e8deadbeef", 1, "1", "EXAMPLEID=")
    context = rest_event(REST, match_route(REST, "POST", "/Prod/up"), request("/Prod/up"),
                         invocation)["requestContext"]  # fmt: skip
    assert (context["requestId"], context["extendedRequestId"]) == (
        "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
        "EXAMPLEID=",
    )


def test_the_protocol_is_the_requests_own():
    req = replace(request("/up"), protocol="HTTP/1.0")
    event = http_event(HTTP, match_route(HTTP, "POST", "/up"), req, INVOCATION)
    assert event["requestContext"]["http"]["protocol"] == "HTTP/1.0"


def test_the_front_end_adds_forwarded_and_trace_headers():
    headers = front_end_headers(
        [("Host", "h")], source_ip="10.0.0.1", server_port=3002, trace="Root=1-a-b"
    )
    assert headers == [
        ("Host", "h"),
        ("X-Amzn-Trace-Id", "Root=1-a-b"),
        ("X-Forwarded-For", "10.0.0.1"),
        ("X-Forwarded-Port", "3002"),
        ("X-Forwarded-Proto", "http"),
    ]


def test_a_clients_forwarded_for_is_extended_and_its_trace_id_kept():
    sent = [("x-forwarded-for", "192.0.2.9"), ("X-Amzn-Trace-Id", "Root=1-mine")]
    headers = dict(front_end_headers(sent, source_ip="10.0.0.1", server_port=1, trace="Root=x"))
    assert headers["X-Forwarded-For"] == "192.0.2.9, 10.0.0.1"
    assert headers["X-Amzn-Trace-Id"] == "Root=1-mine"
    assert "x-forwarded-for" not in headers


def test_stage_variables_reach_rest_and_http_events():
    rest = replace(REST, stage_variables={"alias": "live"})
    http = replace(HTTP, stage_variables={"alias": "live"})
    rest_sent = rest_event(rest, match_route(rest, "POST", "/Prod/up"), request("/Prod/up"),
                           INVOCATION)  # fmt: skip
    http_sent = http_event(http, match_route(http, "POST", "/up"), request("/up"), INVOCATION)
    assert rest_sent["stageVariables"] == http_sent["stageVariables"] == {"alias": "live"}


def test_without_stage_variables_rest_has_null_and_http_leaves_them_out():
    assert rest_event(REST, match_route(REST, "POST", "/Prod/up"), request("/Prod/up"),
                      INVOCATION)["stageVariables"] is None  # fmt: skip
    assert "stageVariables" not in http_event(
        HTTP, match_route(HTTP, "POST", "/up"), request("/up"), INVOCATION
    )
