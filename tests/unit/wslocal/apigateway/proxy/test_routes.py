"""Which route answers a request, as API Gateway chooses."""

from wslocal.apigateway.proxy.routes import match_route, strip_stage
from wslocal.template import ProxyApiModel, ProxyRouteModel


def api(*routes, kind="REST", stage="Prod"):
    return ProxyApiModel(
        "Api", "abc", kind, stage, tuple(ProxyRouteModel(m, p, "Fn") for m, p in routes)
    )


def matched(api_model, method, path):
    found = match_route(api_model, method, path)
    return None if found is None else (found.route.method, found.route.path, found.path_parameters)


def test_the_stage_is_taken_off_the_path_first():
    assert strip_stage(api(), "/Prod/items") == "/items"
    assert strip_stage(api(), "/Prod") == "/"
    assert strip_stage(api(), "/Other/items") is None


def test_an_http_apis_default_stage_is_not_in_the_path():
    assert strip_stage(api(kind="HTTP", stage="$default"), "/items") == "/items"


def test_a_parameter_matches_one_segment():
    rest = api(("GET", "/items/{id}"))
    assert matched(rest, "GET", "/Prod/items/7") == ("GET", "/items/{id}", {"id": "7"})
    assert matched(rest, "GET", "/Prod/items/7/more") is None


def test_a_greedy_parameter_takes_the_rest_under_its_name_without_plus():
    rest = api(("ANY", "/{proxy+}"))
    assert matched(rest, "DELETE", "/Prod/a/b") == ("ANY", "/{proxy+}", {"proxy": "a/b"})


def test_a_greedy_parameter_does_not_match_the_root():
    assert matched(api(("ANY", "/{proxy+}")), "GET", "/Prod/") is None


def test_a_literal_segment_wins_over_a_parameter_and_a_parameter_over_greedy():
    rest = api(("GET", "/{proxy+}"), ("GET", "/items/{id}"), ("GET", "/items/new"))
    assert matched(rest, "GET", "/Prod/items/new")[1] == "/items/new"
    assert matched(rest, "GET", "/Prod/items/5")[1] == "/items/{id}"
    assert matched(rest, "GET", "/Prod/other/5")[1] == "/{proxy+}"


def test_an_explicit_method_wins_over_any_on_the_same_path():
    rest = api(("ANY", "/items"), ("POST", "/items"))
    assert matched(rest, "POST", "/Prod/items")[0] == "POST"
    assert matched(rest, "GET", "/Prod/items")[0] == "ANY"


def test_parameters_are_percent_decoded():
    assert matched(api(("GET", "/u/{name}")), "GET", "/Prod/u/a%20b")[2] == {"name": "a b"}


def test_the_default_route_takes_what_nothing_else_matched():
    http = api(("GET", "/items"), ("ANY", "$default"), kind="HTTP", stage="$default")
    assert matched(http, "GET", "/items")[1] == "/items"
    assert matched(http, "POST", "/elsewhere")[1] == "$default"
