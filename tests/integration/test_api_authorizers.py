"""The authorizers of REST and HTTP APIs, as API Gateway runs them: Lambda TOKEN and
REQUEST authorizers (policies, context, the result cache), a Cognito user pool, an HTTP
API's Lambda authorizer with simple responses and its JWT authorizer with scopes. Tokens
are signed by a user pool of the tests' own, whose keys are served on localhost."""

import copy
import json

import pytest

from tests.support.http import call, header_values
from tests.support.jwks import POOL, UserPool, new_key
from tests.support.paths import FIXTURES
from tests.support.stage import RunningStage
from wslocal.engines.provisioning import Provisioned
from wslocal.server import StageConfig
from wslocal.template import build_stage_model, read_template

pytestmark = pytest.mark.integration

APP = FIXTURES / "auth_app"


@pytest.fixture(scope="module")
def pool():
    with UserPool() as user_pool:
        yield user_pool


@pytest.fixture(scope="module")
def auth_log(tmp_path_factory):
    return tmp_path_factory.mktemp("auth") / "authorizer.jsonl"


@pytest.fixture(scope="module")
def stage(pool, auth_log):
    overrides = {"AuthLogPath": str(auth_log), "JwtIssuer": pool.issuer}
    model = build_stage_model(read_template(APP / "template.yaml"), APP, overrides)
    config = StageConfig(
        port=0, max_workers=2, cognito_endpoint=pool.issuer.removesuffix(f"/{POOL}")
    )
    with RunningStage(model, config) as running:
        yield running


def authorizer_calls(auth_log, token):
    if not auth_log.exists():
        return []
    events = [json.loads(line) for line in auth_log.read_text().splitlines()]
    return [
        e for e in events
        if token in (e.get("authorizationToken"), (e.get("headers") or {}).get("X-Key"))
    ]  # fmt: skip


def rest(stage, path, *headers):
    return call(stage.stage.proxy_url("ShopApi"), path=path, headers=list(headers))


def http(stage, path, *headers):
    return call(stage.stage.proxy_url("GuardedHttpApi"), path=path, headers=list(headers))


def body(answer):
    return json.loads(answer[2])


# --- REST: Lambda TOKEN authorizer ---------------------------------------------------------
def test_a_rest_call_without_its_token_is_401_and_the_authorizer_is_not_called(stage, auth_log):
    before = len(auth_log.read_text().splitlines()) if auth_log.exists() else 0
    answer = rest(stage, "/token")
    assert (answer[0], body(answer)) == (401, {"message": "Unauthorized"})
    assert (len(auth_log.read_text().splitlines()) if auth_log.exists() else 0) == before


def test_a_token_that_fails_the_validation_expression_is_401_without_a_call(stage, auth_log):
    assert rest(stage, "/token", ("Authorization", "mallory"))[0] == 401
    assert authorizer_calls(auth_log, "mallory") == []


def test_the_token_event_has_the_token_and_the_methods_arn(stage, auth_log):
    rest(stage, "/token", ("Authorization", "allow-shape"))
    [event] = authorizer_calls(auth_log, "allow-shape")
    api_id = stage.stage.proxy_api("ShopApi").api_id
    assert event == {
        "type": "TOKEN",
        "authorizationToken": "allow-shape",
        "methodArn": f"arn:aws:execute-api:us-east-1:123456789012:{api_id}/v1/GET/token",
    }


def test_an_allowed_call_carries_the_principal_and_context_as_strings(stage):
    answer = rest(stage, "/token", ("Authorization", "allow-context"))
    assert answer[0] == 200
    assert body(answer)["requestContext"]["authorizer"] == {
        "principalId": "user-1", "tier": "gold", "n": "1", "ok": "true", "integrationLatency": 0,
    }  # fmt: skip


def test_an_explicit_deny_is_403(stage):
    answer = rest(stage, "/token", ("Authorization", "deny-1"))
    assert (answer[0], body(answer)) == (
        403, {"Message": "User is not authorized to access this resource with an explicit deny"},
    )  # fmt: skip


def test_an_authorizer_that_says_unauthorized_is_401(stage):
    assert rest(stage, "/token", ("Authorization", "unauthorized-1"))[0] == 401


@pytest.mark.parametrize("token", ["boom-1", "nothing-1"])
def test_an_authorizer_that_fails_or_answers_without_a_policy_is_500(stage, token):
    answer = rest(stage, "/token", ("Authorization", token))
    assert (answer[0], body(answer)) == (500, {"message": None})


def test_an_answer_is_cached_by_token_for_reauthorize_every(stage, auth_log):
    for _ in range(3):
        assert rest(stage, "/token", ("Authorization", "allow-cached"))[0] == 200
    assert len(authorizer_calls(auth_log, "allow-cached")) == 1


def test_a_cached_policy_for_one_method_refuses_another_as_api_gateway_does(stage, auth_log):
    assert rest(stage, "/token", ("Authorization", "allow-one-method"))[0] == 200
    answer = rest(stage, "/elsewhere", ("Authorization", "allow-one-method"))
    assert (answer[0], body(answer)) == (
        403, {"Message": "User is not authorized to access this resource"},
    )  # fmt: skip
    assert len(authorizer_calls(auth_log, "allow-one-method")) == 1


def test_a_route_with_authorizer_none_is_open(stage):
    assert rest(stage, "/open")[0] == 200


# --- REST: SAM's CORS preflights carry the default authorizer -----------------------------
PREFLIGHT = (("Origin", "https://shop.example"), ("Access-Control-Request-Method", "GET"))


def preflight(stage, *headers):
    return call(stage.stage.proxy_url("ShopApi"), "OPTIONS", "/token", [*PREFLIGHT, *headers])


def test_a_preflight_without_the_default_authorizers_token_is_401(stage):
    answer = preflight(stage)
    assert (answer[0], body(answer)) == (401, {"message": "Unauthorized"})


def test_a_preflight_the_default_authorizer_allows_gets_the_cors_answer(stage):
    status, headers, _ = preflight(stage, ("Authorization", "allow-preflight"))
    assert status == 200
    assert header_values(headers, "Access-Control-Allow-Origin") == ["https://shop.example"]


# --- REST: Lambda REQUEST authorizer -------------------------------------------------------
def test_a_request_authorizer_with_a_cache_needs_its_identity_source(stage):
    assert rest(stage, "/key")[0] == 401


def test_a_request_authorizer_gets_the_request_and_the_methods_arn(stage, auth_log):
    assert rest(stage, "/key", ("X-Key", "allow-request"))[0] == 200
    [event] = authorizer_calls(auth_log, "allow-request")
    assert event["type"] == "REQUEST" and event["methodArn"].endswith("/v1/GET/key")
    assert (event["resource"], event["headers"]["X-Key"]) == ("/key", "allow-request")
    assert "body" not in event


# --- REST: Cognito user pool ---------------------------------------------------------------
def test_a_user_pool_token_passes_with_its_claims_under_claims(stage, pool):
    answer = rest(stage, "/pool", ("Authorization", pool.token()))
    assert answer[0] == 200
    claims = body(answer)["requestContext"]["authorizer"]["claims"]
    assert (claims["cognito:username"], claims["token_use"]) == ("alice", "id")


@pytest.mark.parametrize(
    "make_token",
    [
        lambda pool: pool.token(exp=1),  # expired
        lambda pool: pool.token(key=new_key()),  # signed by another key
        lambda pool: pool.token(iss="https://elsewhere.example/pool"),
        lambda pool: "not-a-jwt",
    ],
    ids=["expired", "other-key", "other-issuer", "garbage"],
)
def test_a_token_the_user_pool_did_not_issue_is_401(stage, pool, make_token):
    assert rest(stage, "/pool", ("Authorization", make_token(pool)))[0] == 401


def test_a_user_pools_access_token_is_401_on_a_route_without_scopes(stage, pool):
    token = pool.token(token_use="access", scope="shop/read")
    assert rest(stage, "/pool", ("Authorization", token))[0] == 401


def test_a_scoped_route_takes_an_access_token_with_its_scope(stage, pool):
    token = pool.token(token_use="access", scope="shop/read profile")
    answer = rest(stage, "/pool/scoped", ("Authorization", token))
    assert answer[0] == 200
    assert body(answer)["requestContext"]["authorizer"]["claims"]["scope"] == "shop/read profile"


@pytest.mark.parametrize(
    "claims",
    [{"token_use": "access", "scope": "profile"}, {"token_use": "id"}],
    ids=["without-the-scope", "an-id-token"],
)
def test_a_scoped_route_refuses_other_tokens_with_401(stage, pool, claims):
    answer = rest(stage, "/pool/scoped", ("Authorization", pool.token(**claims)))
    assert (answer[0], body(answer)) == (401, {"message": "Unauthorized"})


# --- HTTP: Lambda authorizer, simple responses --------------------------------------------
def test_an_http_call_without_its_identity_source_is_401(stage):
    answer = http(stage, "/simple")
    assert (answer[0], body(answer)) == (401, {"message": "Unauthorized"})


def test_a_simple_yes_passes_its_context_under_lambda(stage):
    answer = http(stage, "/simple", ("Authorization", "allow"))
    assert answer[0] == 200
    assert body(answer)["requestContext"]["authorizer"] == {"lambda": {"user": "u-1", "n": 2}}


def test_a_simple_no_is_403_forbidden(stage):
    answer = http(stage, "/simple", ("Authorization", "no"))
    assert (answer[0], body(answer)) == (403, {"message": "Forbidden"})


def test_the_v2_authorizer_event_names_the_route_and_identity(stage, auth_log):
    http(stage, "/simple", ("Authorization", "allow"))
    events = [json.loads(line) for line in auth_log.read_text().splitlines()]
    event = next(e for e in reversed(events) if e.get("version") == "2.0")
    assert (event["type"], event["routeKey"], event["identitySource"]) == (
        "REQUEST", "GET /simple", ["allow"],
    )  # fmt: skip
    assert event["routeArn"].endswith("/$default/GET/simple")


# --- HTTP: JWT authorizer -----------------------------------------------------------------
def test_a_jwt_with_the_routes_scope_passes_with_claims_and_scopes(stage, pool):
    token = pool.token(scope="orders/read profile")
    answer = http(stage, "/orders", ("Authorization", f"Bearer {token}"))
    assert answer[0] == 200
    jwt = body(answer)["requestContext"]["authorizer"]["jwt"]
    assert jwt["scopes"] == ["orders/read", "profile"]
    assert jwt["claims"]["cognito:username"] == "alice"


def test_a_jwt_without_the_routes_scope_is_403(stage, pool):
    token = pool.token(scope="profile")
    assert http(stage, "/orders", ("Authorization", f"Bearer {token}"))[0] == 403


def test_a_jwt_for_another_audience_is_401(stage, pool):
    token = pool.token(aud="another-client", scope="orders/read")
    assert http(stage, "/orders", ("Authorization", f"Bearer {token}"))[0] == 401


def test_the_issuers_keys_are_fetched_once_not_per_call(stage, pool):
    token = pool.token(scope="orders/read")
    http(stage, "/orders", ("Authorization", token))
    fetched = pool.fetches
    for _ in range(3):
        assert http(stage, "/orders", ("Authorization", token))[0] == 200
    assert pool.fetches == fetched


# --- HTTP: AWS::ApiGatewayV2::Route with AuthorizationType and AuthorizerId ----------------
def raw(stage, path, *headers):
    return call(stage.stage.proxy_url("RawHttpApi"), path=path, headers=list(headers))


def test_a_v2_routes_custom_authorizer_guards_it(stage):
    assert raw(stage, "/simple")[0] == 401
    assert raw(stage, "/simple", ("Authorization", "no"))[0] == 403
    answer = raw(stage, "/simple", ("Authorization", "allow"))
    assert answer[0] == 200
    assert body(answer)["requestContext"]["authorizer"] == {"lambda": {"user": "u-1", "n": 2}}


def test_a_v2_routes_jwt_authorizer_checks_its_scopes(stage, pool):
    allowed = pool.token(scope="orders/read")
    assert raw(stage, "/orders", ("Authorization", f"Bearer {allowed}"))[0] == 200
    other = pool.token(scope="profile")
    assert raw(stage, "/orders", ("Authorization", f"Bearer {other}"))[0] == 403
    assert raw(stage, "/orders")[0] == 401


# --- the cache and a reload ---------------------------------------------------------------
class EditedTemplate:
    """The auth app's template as a test edits it."""

    def __init__(self, overrides) -> None:
        self.document = read_template(APP / "template.yaml")
        self.path = APP / "template.yaml"
        self.overrides = overrides

    def load(self):
        return build_stage_model(copy.deepcopy(self.document), APP, self.overrides)

    def provision(self, model):
        return Provisioned(endpoints={}, queue_urls={})


def test_a_reloaded_template_asks_the_authorizer_again(pool, tmp_path):
    # GIVEN a stage whose TOKEN authorizer answered, and the answer is cached
    auth_log = tmp_path / "authorizer.jsonl"
    template = EditedTemplate({"AuthLogPath": str(auth_log), "JwtIssuer": pool.issuer})
    config = StageConfig(port=0, max_workers=1)
    with RunningStage(template.load(), config, template=template) as running:
        assert rest(running, "/token", ("Authorization", "allow-reload"))[0] == 200
        assert rest(running, "/token", ("Authorization", "allow-reload"))[0] == 200
        assert len(authorizer_calls(auth_log, "allow-reload")) == 1
        # WHEN the template is edited (a route added) and read again
        events = template.document["Resources"]["EchoFunction"]["Properties"]["Events"]
        events["Added"] = {
            "Type": "Api",
            "Properties": {"RestApiId": {"Ref": "ShopApi"}, "Path": "/added", "Method": "get"},
        }
        assert running.call(running.stage.reload_template())
        # THEN the authorizer is asked again: no answer outlives the template it was for
        assert rest(running, "/token", ("Authorization", "allow-reload"))[0] == 200
        assert len(authorizer_calls(auth_log, "allow-reload")) == 2
