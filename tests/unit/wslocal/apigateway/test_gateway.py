"""What API Gateway decides for a WebSocket API, without sockets."""

from wslocal.apigateway.events import StageContext
from wslocal.apigateway.gateway import CloseFrames, WebSocketApi, inbound_message
from wslocal.apigateway.integration import ProxyResponse
from wslocal.template import AuthorizerModel, RouteModel

ROUTES = {
    "$connect": RouteModel("$connect", "Connect", two_way=False),
    "$default": RouteModel("$default", "Default", two_way=True),
    "send": RouteModel("send", "Send", two_way=False),
}
API = WebSocketApi(
    ROUTES, "$request.body.action", StageContext("abc", "dev", "h:1"), "us-east-1", "1"
)


def test_the_api_answers_at_the_root_and_at_the_stage():
    assert API.serves_path("/") and API.serves_path("/dev") and not API.serves_path("/x")


def test_a_failed_connect_integration_rejects_the_handshake_with_502():
    handshake = API.handshake(None)
    assert (handshake.status, handshake.accepted) == (502, False)


def test_connects_status_and_subprotocol_header_pass_through():
    handshake = API.handshake(ProxyResponse(200, None, {"Sec-WebSocket-Protocol": "chat"}))
    assert handshake.accepted and handshake.headers == {"Sec-WebSocket-Protocol": "chat"}


def test_a_missing_identity_source_is_refused_before_the_authorizer():
    authorizer = AuthorizerModel("A", "Auth", ("route.request.querystring.token",))
    assert API.lacks_identity(authorizer, [("Host", "h")], [])
    assert not API.lacks_identity(authorizer, [], [("token", "t")])


def test_an_authorizer_that_raises_unauthorized_gives_401_anything_else_500():
    assert API.authorizer_failure({"errorMessage": "Unauthorized"}).status == 401
    assert API.authorizer_failure({"errorMessage": "boom"}).status == 500
    assert API.authorizer_failure(None).status == 500


def test_a_message_takes_its_route_or_default():
    assert API.route_for('{"action":"send"}') is ROUTES["send"]
    assert API.route_for("not json") is ROUTES["$default"]


def test_a_one_way_route_sends_nothing_back_a_two_way_route_its_body():
    assert API.reply(ROUTES["send"], ProxyResponse(200, "x"), "c", "r") is None
    assert API.reply(ROUTES["$default"], ProxyResponse(200, "x"), "c", "r") == b"x"


def test_a_failed_integration_tells_the_client_internal_server_error():
    reply = API.reply(ROUTES["send"], None, "c", "r")
    assert reply == b'{"message": "Internal server error", "connectionId": "c", "requestId": "r"}'


def test_the_close_reported_is_whoever_closed_first_else_1006():
    assert API.close_status(CloseFrames(by_stage=(1001, "Going away"))) == (1001, "Going away")
    assert API.close_status(CloseFrames(received=(1000, ""), sent=(1000, ""))) == (
        1000,
        "Normal closure",
    )
    assert API.close_status(CloseFrames(sent=(1009, ""))) == (1009, "Message too big")
    assert API.close_status(CloseFrames())[0] == 1006


def test_a_text_message_is_taken_as_its_text():
    assert inbound_message(True, "héllo".encode()) == "héllo"


def test_a_binary_message_is_refused_with_1003():
    assert inbound_message(False, b"\x00")[0] == 1003


def test_a_text_message_that_is_not_utf8_is_refused_with_1007():
    assert inbound_message(True, b"\xff\xfe")[0] == 1007


def test_a_route_response_over_the_message_limit_is_internal_server_error():
    big = "x" * 129
    assert API.reply(ROUTES["$default"], ProxyResponse(200, big), "c", "r", max_bytes=128) == (
        b'{"message": "Internal server error", "connectionId": "c", "requestId": "r"}'
    )
    assert API.reply(ROUTES["$default"], ProxyResponse(200, big[:128]), "c", "r", 128) == b"x" * 128


def test_too_many_requests_is_said_as_api_gateway_says_its_own_errors():
    assert API.too_many_requests("c", "r") == (
        b'{"message": "Too Many Requests", "connectionId": "c", "requestId": "r"}'
    )
