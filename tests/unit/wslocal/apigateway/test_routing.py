import pytest

from wslocal.apigateway.routing import select_route, selection_key

ROUTES = {"$connect", "$disconnect", "$default", "sendMessage", "history"}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"action": "sendMessage"}', "sendMessage"),
        ('{"action": "history", "extra": 1}', "history"),
        ('{"action": "sendmessage"}', "$default"),  # case-sensitive
        ('{"action": "shout"}', "$default"),
        ('{"message": "no action"}', "$default"),
        ("not json", "$default"),
        ("[1, 2]", "$default"),
        ('"a string"', "$default"),
        ("", "$default"),
        (None, "$default"),  # a binary frame
        ('{"action": "$connect"}', "$default"),  # reserved keys are not message routes
        ('{"action": "$disconnect"}', "$default"),
        ('{"action": "$default"}', "$default"),
    ],
)
def test_route_selection_on_action(body, expected):
    assert select_route("$request.body.action", body, ROUTES) == expected


def test_no_match_and_no_default_route_selects_nothing():
    assert select_route("$request.body.action", '{"action": "x"}', {"sendMessage"}) is None


def test_body_that_is_not_json_and_no_default_route_selects_nothing():
    assert select_route("$request.body.action", "plain", {"sendMessage"}) is None


@pytest.mark.parametrize(
    ("expression", "body", "key"),
    [
        ("$request.body.meta.kind", '{"meta": {"kind": "ping"}}', "ping"),
        ("${request.body.meta.kind}", '{"meta": {"kind": "ping"}}', "ping"),
        ("${request.body.type}-${request.body.version}", '{"type": "a", "version": 2}', "a-2"),
        ("v1/${request.body.op}", '{"op": "echo"}', "v1/echo"),
        ("$request.body.missing", "{}", ""),
        ("$request.body.a.b", '{"a": "not an object"}', ""),
        ("$request.body.n", '{"n": 42}', "42"),
        ("$request.body.flag", '{"flag": true}', "true"),
        ("$request.body.none", '{"none": null}', "null"),
        ("$request.body.obj", '{"obj": {"x": 1}}', '{"x":1}'),
        ("static", '{"action": "x"}', "static"),
    ],
)
def test_selection_expression_forms(expression, body, key):
    assert selection_key(expression, body) == key


def test_a_missing_path_selects_the_empty_string_route_when_there_is_one():
    assert select_route("$request.body.action", "{}", {"", "$default"}) == ""


def test_selection_key_is_none_for_a_body_that_is_not_a_json_object():
    assert selection_key("$request.body.action", "[]") is None
