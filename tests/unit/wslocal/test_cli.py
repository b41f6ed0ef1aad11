"""The command line's own parsing, run in-process (``generate-event`` needs no engine)."""

import json
import uuid

from wslocal import cli


def generated(capsys, *argv):
    assert cli.main(["generate-event", *argv]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_repeated_header_keeps_every_value_in_order(capsys):
    event = generated(capsys, "apigateway", "rest", "--header", "X-Id=1", "--header", "X-Id=2")
    assert event["multiValueHeaders"]["X-Id"] == ["1", "2"]
    assert event["headers"]["X-Id"] == "2"


def test_a_header_value_keeps_its_quotes_and_its_equals_signs(capsys):
    event = generated(
        capsys, "apigateway", "http", "--header", 'If-None-Match="v1"', "--header", "A=b=c"
    )
    assert (event["headers"]["if-none-match"], event["headers"]["a"]) == ('"v1"', "b=c")


def test_a_header_without_a_value_is_refused_naming_the_header_option(capsys):
    assert cli.main(["generate-event", "apigateway", "rest", "--header", "X-Id"]) == 2
    error = capsys.readouterr().err
    assert "--header takes NAME=VALUE" in error and "--parameter-overrides" not in error


def test_a_repeated_websocket_query_keeps_every_value(capsys):
    event = generated(capsys, "websocket", "connect", "--query", "a=1", "a=2")
    assert event["multiValueQueryStringParameters"]["a"] == ["1", "2"]


def test_a_generated_rest_request_has_a_uuid_request_id_and_its_own_extended_id(capsys):
    context = generated(capsys, "apigateway", "rest")["requestContext"]
    assert str(uuid.UUID(context["requestId"])) == context["requestId"]
    assert context["extendedRequestId"] != context["requestId"]
