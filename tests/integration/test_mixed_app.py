"""A whole SAM app the stage has never seen: a REST API, two HTTP APIs and an
AWS::Serverless::WebSocketApi sharing a table, served at once from one set of warm
workers. Events are compared field by field with API Gateway's (Powertools' captures and
parser models)."""

import base64
import copy
import http.client
import json
import socket
import time
import uuid
from urllib.parse import urlsplit

import pytest
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayProxyEventModel,
    APIGatewayProxyEventV2Model,
)
from websockets.sync.client import connect

from tests.support.http import call, header_values
from tests.support.paths import FIXTURES
from tests.support.stage import RunningStage
from tests.support.tables import local_table
from wslocal.engines.dynamodb import create_tables
from wslocal.engines.provisioning import Provisioned
from wslocal.server import StageConfig
from wslocal.template import build_stage_model, read_template

pytestmark = pytest.mark.integration

APP = FIXTURES / "mixed_app"

# Fields of the real captures (Powertools tests/events): REST payload 1.0 ...
REST_FIELDS = {
    "resource", "path", "httpMethod", "headers", "multiValueHeaders",
    "queryStringParameters", "multiValueQueryStringParameters", "requestContext",
    "pathParameters", "stageVariables", "body", "isBase64Encoded",
}  # fmt: skip
REST_CONTEXT_FIELDS = {
    "accountId", "apiId", "domainName", "domainPrefix", "extendedRequestId", "httpMethod",
    "identity", "path", "protocol", "requestId", "requestTime", "requestTimeEpoch",
    "resourceId", "resourcePath", "stage",
}  # fmt: skip
# ... and HTTP payload 2.0 (apiGatewayProxyV2Event.json, less its client certificate).
HTTP_FIELDS = {
    "version", "routeKey", "rawPath", "rawQueryString", "cookies", "headers",
    "queryStringParameters", "requestContext", "body", "pathParameters", "isBase64Encoded",
}  # fmt: skip
HTTP_CONTEXT_FIELDS = {
    "accountId", "apiId", "domainName", "domainPrefix", "http", "requestId", "routeKey",
    "stage", "time", "timeEpoch",
}  # fmt: skip


@pytest.fixture(scope="module")
def stage(dynamodb_local):
    model = build_stage_model(read_template(APP / "template.yaml"), APP)
    create_tables(dynamodb_local, model.tables, model.region)
    config = StageConfig(
        port=0,
        max_workers=2,
        endpoints={"AWS_ENDPOINT_URL_DYNAMODB": dynamodb_local.endpoint},
    )
    with RunningStage(model, config) as running:
        yield running


def rest(stage):
    return stage.stage.proxy_url("ShopApi")


def http_api(stage, name="ServerlessHttpApi"):
    return stage.stage.proxy_url(name)


@pytest.fixture(scope="module")
def rest_event(stage):
    status, _, body = call(
        rest(stage),
        path="/items/42?a=1&a=2&b=3",
        headers=[("X-Twice", "first"), ("X-Twice", "second"), ("User-Agent", "tests/1")],
    )
    assert status == 200
    return json.loads(body)


@pytest.fixture(scope="module")
def http_event(stage):
    status, _, body = call(
        http_api(stage),
        path="/items/7?x=1&x=2&y=",
        headers=[("Cookie", "a=1; b=2"), ("X-Twice", "first"), ("X-Twice", "second")],
    )
    assert status == 200
    return json.loads(body)


# --- REST API, payload 1.0 ---------------------------------------------------------------
def test_each_api_has_its_own_port_and_its_deployed_url(stage):
    assert rest(stage).endswith("/v1")
    assert urlsplit(http_api(stage)).path == ""
    ports = {urlsplit(rest(stage)).port, urlsplit(http_api(stage)).port, stage.stage.port}
    assert len(ports) == 3


def test_a_rest_event_has_exactly_the_captures_fields(rest_event):
    assert set(rest_event) == REST_FIELDS
    assert set(rest_event["requestContext"]) == REST_CONTEXT_FIELDS


def test_a_rest_event_parses_as_powertools_rest_model(rest_event):
    parsed = APIGatewayProxyEventModel(**rest_event)
    assert parsed.requestContext.stage == "v1"


def test_rest_paths_are_without_the_stage_and_the_context_path_with_it(rest_event):
    assert (rest_event["resource"], rest_event["path"]) == ("/items/{id}", "/items/42")
    assert rest_event["requestContext"]["path"] == "/v1/items/42"
    assert rest_event["requestContext"]["resourcePath"] == "/items/{id}"
    assert rest_event["pathParameters"] == {"id": "42"}


def test_rest_headers_and_query_hold_the_last_value_and_the_multi_fields_all(rest_event):
    assert rest_event["headers"]["X-Twice"] == "second"
    assert rest_event["multiValueHeaders"]["X-Twice"] == ["first", "second"]
    assert rest_event["queryStringParameters"] == {"a": "2", "b": "3"}
    assert rest_event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": ["3"]}


def test_rest_absent_fields_are_null_and_there_is_no_version(rest_event):
    assert rest_event["body"] is None
    assert "version" not in rest_event and rest_event["isBase64Encoded"] is False


def test_the_apis_variables_are_the_events_stage_variables(rest_event, http_event):
    assert rest_event["stageVariables"] == {"lambdaAlias": "live"}
    assert "stageVariables" not in http_event  # the implicit HTTP API has none


def test_every_rest_request_gets_a_fresh_request_id_and_time(stage, rest_event):
    time.sleep(0.01)
    _, _, body = call(rest(stage), path="/items/42")
    later = json.loads(body)["requestContext"]
    assert later["requestId"] != rest_event["requestContext"]["requestId"]
    assert later["requestTimeEpoch"] > rest_event["requestContext"]["requestTimeEpoch"]


def test_a_rest_request_id_is_a_uuid_apart_from_its_extended_id(rest_event):
    context = rest_event["requestContext"]
    assert str(uuid.UUID(context["requestId"])) == context["requestId"]
    assert context["extendedRequestId"] != context["requestId"]


def test_rest_and_http_requests_carry_the_front_ends_forwarded_and_trace_headers(
    rest_event, http_event
):
    for headers in (rest_event["headers"], http_event["headers"]):
        named = {name.lower(): value for name, value in headers.items()}
        assert named["x-forwarded-for"] == "127.0.0.1"
        assert named["x-forwarded-proto"] == "http"
        assert named["x-forwarded-port"].isdigit()
        assert named["x-amzn-trace-id"].startswith("Root=1-")


def test_the_protocol_is_the_one_the_client_spoke(stage):
    parts = urlsplit(http_api(stage))
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as client:
        client.sendall(b"GET /items/1 HTTP/1.0\r\nHost: h\r\n\r\n")
        answer = b""
        while chunk := client.recv(65536):  # HTTP/1.0: the stage closes after its answer
            answer += chunk
    event = json.loads(answer.partition(b"\r\n\r\n")[2])
    assert event["requestContext"]["http"]["protocol"] == "HTTP/1.0"


def test_a_greedy_path_parameter_is_named_proxy(stage):
    _, _, body = call(rest(stage), "PUT", "/files/a/b/c.txt")
    event = json.loads(body)
    assert (event["resource"], event["pathParameters"]) == (
        "/files/{proxy+}",
        {"proxy": "a/b/c.txt"},
    )
    assert event["httpMethod"] == "PUT"


def test_a_literal_path_wins_over_a_greedy_one(stage):
    _, _, body = call(rest(stage), path="/files/readme")
    assert json.loads(body)["resource"] == "/files/readme"


def test_an_unknown_rest_path_is_403_missing_authentication_token(stage):
    for path in ("/nothing/here", "/items"):  # /items answers POST only
        status, _, body = call(rest(stage), path=path)
        assert (status, json.loads(body)) == (403, {"message": "Missing Authentication Token"})


def test_a_rest_call_outside_the_stage_is_403(stage):
    base = rest(stage).removesuffix("/v1")
    status, _, _ = call(base, path="/items/42")
    assert status == 403


def test_rest_responses_send_headers_and_multi_value_headers(stage):
    _, headers, _ = call(rest(stage), path="/items/1")
    assert header_values(headers, "X-Single") == ["one"]
    assert header_values(headers, "X-Multi") == ["a", "b"]


def test_a_binary_media_type_request_body_arrives_base64(stage):
    png = bytes(range(256))
    _, _, body = call(
        rest(stage), "POST", "/files/up.png", [("Content-Type", "image/png")], body=png
    )
    event = json.loads(body)
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == png


def test_a_text_request_body_arrives_as_text(stage):
    _, _, body = call(
        rest(stage), "POST", "/files/a.json", [("Content-Type", "application/json")], b'{"a":1}'
    )
    event = json.loads(body)
    assert (event["body"], event["isBase64Encoded"]) == ('{"a":1}', False)


def test_a_base64_response_is_sent_as_bytes(stage):
    status, headers, body = call(
        rest(stage), path="/shapes/binary", headers=[("Accept", "image/png")]
    )
    assert (status, header_values(headers, "Content-Type")) == (200, ["image/png"])
    assert body.startswith(b"\x89PNG")


def test_a_base64_response_is_sent_as_base64_text_unless_accept_is_binary(stage):
    _, _, body = call(rest(stage), path="/shapes/binary", headers=[("Accept", "text/html")])
    assert base64.b64decode(body).startswith(b"\x89PNG")


def test_a_rest_response_without_a_content_type_is_application_json(stage):
    status, headers, _ = call(rest(stage), path="/shapes/unknown")
    assert (status, header_values(headers, "Content-Type")) == (404, ["application/json"])


@pytest.mark.parametrize("shape", ["malformed", "raises"])
def test_a_failed_or_malformed_rest_integration_is_502(stage, shape):
    status, _, body = call(rest(stage), path=f"/shapes/{shape}")
    assert (status, json.loads(body)) == (502, {"message": "Internal server error"})


def test_rest_cors_preflight_is_answered_by_the_api(stage):
    status, headers, _ = call(
        rest(stage), "OPTIONS", "/items",
        [("Origin", "https://shop.example"), ("Access-Control-Request-Method", "POST")],
    )  # fmt: skip
    assert status == 200
    assert header_values(headers, "Access-Control-Allow-Origin") == ["https://shop.example"]
    assert header_values(headers, "Access-Control-Allow-Methods") == ["GET,POST"]


def test_a_rest_body_over_10_mb_is_413_before_it_is_read(stage):
    parts = urlsplit(rest(stage))
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    connection.putrequest("POST", "/v1/items")
    connection.putheader("Content-Length", str(10 * 1024 * 1024 + 1))
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 413
    connection.close()


def chunked_post(url, path, chunks):
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request(
            "POST", parts.path + path, body=iter(chunks), encode_chunked=True,
            headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        )  # fmt: skip
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_a_chunked_request_body_arrives_whole(stage):
    status, body = chunked_post(rest(stage), "/files/a.json", [b'{"a":', b" 1", b"}"])
    assert status == 200
    assert json.loads(body)["body"] == '{"a": 1}'


def test_a_chunked_body_over_10_mb_is_413_once_it_passes_the_limit(stage):
    chunk = b"x" * (1024 * 1024)
    status, body = chunked_post(rest(stage), "/files/big.json", [chunk] * 11)
    assert (status, json.loads(body)) == (413, {"message": "Request Too Long"})


def test_a_rest_call_posts_to_websocket_connections(stage, dynamodb_local):
    with connect(f"{stage.url}/live", open_timeout=30) as ws:
        status, _, _ = call(
            rest(stage), "POST", "/items", [("Content-Type", "application/json")],
            json.dumps({"id": "i1", "name": "lamp"}).encode(),
        )  # fmt: skip
        assert status == 201
        assert json.loads(ws.recv(timeout=15)) == {"created": {"id": "i1", "name": "lamp"}}
    item = local_table(dynamodb_local.endpoint, "mixed-items").get_item(Key={"pk": "item#i1"})
    assert item["Item"]["name"] == "lamp"


# --- HTTP API, payload 2.0 ----------------------------------------------------------------
def test_an_http_event_has_exactly_the_captures_fields(http_event):
    assert set(http_event) == HTTP_FIELDS - {"body"}  # a GET has no body: left out
    assert set(http_event["requestContext"]) == HTTP_CONTEXT_FIELDS


def test_an_http_event_parses_as_powertools_v2_model(http_event):
    parsed = APIGatewayProxyEventV2Model(**http_event)
    assert parsed.requestContext.http.method == "GET"


def test_http_route_key_raw_path_and_query(http_event):
    assert (http_event["routeKey"], http_event["rawPath"]) == ("GET /items/{id}", "/items/7")
    assert http_event["rawQueryString"] == "x=1&x=2&y="
    assert http_event["queryStringParameters"] == {"x": "1,2", "y": ""}
    assert http_event["pathParameters"] == {"id": "7"}


def test_http_headers_are_lower_case_and_repeated_ones_joined(http_event):
    assert http_event["headers"]["x-twice"] == "first,second"
    assert "multiValueHeaders" not in http_event


def test_http_cookies_are_taken_out_of_the_headers(http_event):
    assert http_event["cookies"] == ["a=1", "b=2"]
    assert "cookie" not in http_event["headers"]


def test_http_time_is_in_milliseconds_and_the_stage_is_default(http_event):
    context = http_event["requestContext"]
    assert abs(context["timeEpoch"] / 1000 - time.time()) < 60
    assert context["stage"] == "$default"


def test_an_http_route_with_payload_1_0_gets_a_versioned_rest_shaped_event(stage):
    _, _, body = call(http_api(stage), path="/v1/items/3")
    event = json.loads(body)
    assert (event["version"], event["resource"], event["pathParameters"]) == (
        "1.0", "/v1/items/{id}", {"id": "3"},
    )  # fmt: skip


def test_an_http_result_without_status_code_is_sent_as_200_json(stage):
    status, headers, body = call(http_api(stage), path="/shapes/inferred")
    assert (status, json.loads(body)) == (200, {"hello": "world"})
    assert header_values(headers, "Content-Type") == ["application/json"]


def test_an_http_string_result_is_sent_as_it_is(stage):
    assert call(http_api(stage), path="/shapes/text")[2] == b"plain words"


def test_http_response_cookies_become_set_cookie_lines(stage):
    _, headers, _ = call(http_api(stage), path="/shapes/cookies")
    assert header_values(headers, "Set-Cookie") == ["a=1; Path=/", "b=2"]


def test_an_unknown_http_route_is_404_not_found(stage):
    status, _, body = call(http_api(stage), path="/nothing")
    assert (status, json.loads(body)) == (404, {"message": "Not Found"})


def test_a_failed_http_integration_is_500(stage):
    status, _, body = call(http_api(stage), path="/shapes/raises")
    assert (status, json.loads(body)) == (500, {"message": "Internal Server Error"})


def test_an_http_integration_past_its_timeout_is_503_at_the_timeout(stage):
    started = time.monotonic()
    status, _, _ = call(http_api(stage), path="/slow")
    assert status == 503
    assert time.monotonic() - started < 2.5  # TimeoutInMillis 1000; the handler sleeps 3 s


def test_http_cors_preflight_is_answered_by_the_api_itself(stage):
    status, headers, _ = call(
        http_api(stage, "PublicHttpApi"), "OPTIONS", "/hello",
        [("Origin", "https://app.example"), ("Access-Control-Request-Method", "GET")],
    )  # fmt: skip
    assert status == 204
    assert header_values(headers, "Access-Control-Allow-Origin") == ["https://app.example"]
    assert header_values(headers, "Access-Control-Max-Age") == ["600"]


def test_http_cors_headers_are_added_for_allowed_origins_only(stage):
    url = http_api(stage, "PublicHttpApi")
    _, allowed, _ = call(url, path="/hello", headers=[("Origin", "https://app.example")])
    _, refused, _ = call(url, path="/hello", headers=[("Origin", "https://evil.example")])
    assert header_values(allowed, "Access-Control-Allow-Origin") == ["https://app.example"]
    assert header_values(allowed, "Access-Control-Expose-Headers") == ["x-request-id"]
    assert header_values(refused, "Access-Control-Allow-Origin") == []


# --- AWS::Serverless::WebSocketApi -------------------------------------------------------
def test_the_serverless_websocket_api_serves_under_its_stage_name(stage):
    assert stage.stage.stage_name == "live"


def test_a_route_response_naming_the_generated_route_makes_it_two_way(stage):
    with connect(f"{stage.url}/live", open_timeout=30) as ws:
        ws.send(json.dumps({"action": "anything", "n": 1}))
        assert json.loads(ws.recv(timeout=15)) == {"echo": {"action": "anything", "n": 1}}


def test_rest_http_and_websocket_calls_share_the_functions_warm_workers(stage):
    pool = stage.stage.pools["EchoFunction"]
    call(rest(stage), path="/items/1")
    started = pool.cold_starts
    call(rest(stage), path="/items/2")
    call(http_api(stage), path="/items/3")
    with connect(f"{stage.url}/live", open_timeout=30) as ws:
        ws.send(json.dumps({"action": "x"}))
        ws.recv(timeout=15)
    assert pool.cold_starts == started  # every API's call ran on the same warm worker


class EditedTemplate:
    """The mixed app's template as a test edits it; the table is there already."""

    def __init__(self, endpoints) -> None:
        self.document = read_template(APP / "template.yaml")
        self.path = APP / "template.yaml"
        self.endpoints = endpoints

    def load(self):
        return build_stage_model(copy.deepcopy(self.document), APP)

    def provision(self, model):
        return Provisioned(endpoints=self.endpoints, queue_urls={})


def test_an_edited_template_serves_a_new_route_and_a_new_http_api_at_once(dynamodb_local):
    # GIVEN the mixed app, served
    endpoints = {"AWS_ENDPOINT_URL_DYNAMODB": dynamodb_local.endpoint}
    template = EditedTemplate(endpoints)
    model = template.load()
    create_tables(dynamodb_local, model.tables, model.region)
    config = StageConfig(port=0, max_workers=1, endpoints=endpoints)
    with RunningStage(model, config, template=template) as stage:
        assert call(http_api(stage), path="/items/1/again")[0] == 404
        # WHEN a route is added to the implicit HTTP API, and a new HTTP API appears
        events = template.document["Resources"]["EchoFunction"]["Properties"]["Events"]
        again = {"Path": "/items/{id}/again", "Method": "get"}
        events["Again"] = {"Type": "HttpApi", "Properties": again}
        template.document["Resources"]["NewApi"] = {"Type": "AWS::Serverless::HttpApi"}
        new = {"ApiId": {"Ref": "NewApi"}, "Path": "/n", "Method": "get"}
        events["New"] = {"Type": "HttpApi", "Properties": new}
        changes = stage.call(stage.stage.reload_template())
        # THEN both answer, on the ports the banner would show, without a restart
        assert changes.proxy_apis.added == ("NewApi",)
        assert json.loads(call(http_api(stage), path="/items/1/again")[2])["routeKey"] == (
            "GET /items/{id}/again"
        )
        assert call(stage.stage.proxy_url("NewApi"), path="/n")[0] == 200
