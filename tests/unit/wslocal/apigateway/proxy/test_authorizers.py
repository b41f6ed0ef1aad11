"""API Gateway's authorizer rules, without a socket: identity, policies, JWTs, the cache."""

import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from wslocal.apigateway.proxy import authorizers as rules
from wslocal.apigateway.proxy.events import Invocation, ProxyRequest
from wslocal.apigateway.proxy.routes import match_route
from wslocal.template import ProxyApiModel, ProxyAuthorizerModel, ProxyRouteModel

REST = ProxyApiModel("Rest", "abc123defg", "REST", "v1", ())
HTTP = ProxyApiModel("Http", "abc123defg", "HTTP", "$default", ())
ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123defg/v1/GET/items/7"


def policy(effect, resource):
    statement = {"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}
    return {"principalId": "p", "policyDocument": {"Statement": [statement]}}


def request(headers=(), query=""):
    pairs = [tuple(q.split("=")) for q in query.split("&") if q]
    return ProxyRequest("GET", "/v1/items/7", query, pairs, list(headers), b"", "10.0.0.1", "h")


def test_identity_reads_headers_query_strings_and_path_parameters():
    authorizer = ProxyAuthorizerModel(
        "A", "REQUEST",
        identity_sources=("method.request.header.X-Key", "method.request.querystring.q",
                          "method.request.path.id"),
    )  # fmt: skip
    assert rules.identity(authorizer, request([("x-key", "k")], "q=1"), {"id": "7"}) == (
        "k",
        "1",
        "7",
    )


def test_an_empty_or_missing_identity_source_is_none():
    authorizer = ProxyAuthorizerModel(
        "A", "REQUEST", identity_sources=("$request.header.Authorization",)
    )
    assert rules.identity(authorizer, request([("Authorization", "")]), {}) is None
    assert rules.identity(authorizer, request(), {}) is None


def test_the_method_arn_has_the_stage_method_and_the_requests_own_path():
    assert rules.method_arn(REST, "us-east-1", "123456789012", "GET", "/items/7") == ARN


@pytest.mark.parametrize(
    ("resource", "effect"),
    [
        (ARN, "Allow"),
        ("arn:aws:execute-api:us-east-1:123456789012:abc123defg/v1/*", "Allow"),
        ("arn:aws:execute-api:us-east-1:123456789012:abc123defg/v1/GET/items/?", "Allow"),
        ("arn:aws:execute-api:us-east-1:123456789012:abc123defg/v1/POST/*", None),
    ],
)
def test_a_policy_allows_the_arns_its_resources_match(resource, effect):
    assert rules.policy_effect(policy("Allow", resource)["policyDocument"], ARN) == effect


def test_a_deny_wins_over_an_allow():
    document = {"Statement": [policy("Allow", "*")["policyDocument"]["Statement"][0],
                              policy("Deny", ARN)["policyDocument"]["Statement"][0]]}  # fmt: skip
    assert rules.policy_effect(document, ARN) == "Deny"


def test_a_rest_allow_flattens_the_context_to_strings():
    answer = {**policy("Allow", ARN), "context": {"n": 1, "ok": False, "s": "x"}}
    verdict = rules.lambda_verdict(REST, ProxyAuthorizerModel("A", "TOKEN"), answer, ARN)
    assert verdict.context == {
        "n": "1",
        "ok": "false",
        "s": "x",
        "principalId": "p",
        "integrationLatency": 0,
    }


def test_an_answer_that_is_no_policy_is_a_failure():
    verdict = rules.lambda_verdict(
        REST, ProxyAuthorizerModel("A", "TOKEN"), {"principalId": "p"}, ARN
    )
    assert verdict.refusal is not None and verdict.refusal.status == 500


def test_a_simple_response_says_yes_or_forbidden():
    authorizer = ProxyAuthorizerModel("A", "REQUEST", payload_format="2.0", simple_responses=True)
    yes = rules.lambda_verdict(HTTP, authorizer, {"isAuthorized": True, "context": {"a": 1}}, ARN)
    no = rules.lambda_verdict(HTTP, authorizer, {"isAuthorized": False}, ARN)
    assert yes.context == {"lambda": {"a": 1}}
    assert no.refusal.status == 403


def test_the_cache_keeps_an_answer_for_its_ttl_and_not_without_one():
    cache = rules.AuthorizerCache()
    cached = ProxyAuthorizerModel("A", "TOKEN", ttl_s=300)
    uncached = ProxyAuthorizerModel("B", "TOKEN", ttl_s=0)
    cache.put(REST, cached, ("t",), "answer", now=1000)
    cache.put(REST, uncached, ("t",), "answer", now=1000)
    assert cache.get(REST, cached, ("t",), now=1299) == "answer"
    assert cache.get(REST, cached, ("t",), now=1300) is None
    assert cache.get(REST, uncached, ("t",), now=1000) is None


def test_a_user_pools_issuer_is_cognitos_or_the_local_endpoints():
    arn = "arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_Abc"
    assert (
        rules.user_pool_issuer(arn, None)
        == "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Abc"
    )
    assert rules.user_pool_issuer(arn, "http://127.0.0.1:9/") == "http://127.0.0.1:9/eu-west-1_Abc"


@pytest.fixture(scope="module")
def signing():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return key, {"k1": {**public, "kid": "k1", "alg": "RS256"}}


def token(key, **claims):
    body = {"iss": "https://issuer", "aud": "app", "exp": time.time() + 60, **claims}
    body = {name: value for name, value in body.items() if value is not None}
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": "k1"})


def test_a_token_passes_with_the_issuer_and_an_audience_or_client_id(signing):
    key, keys = signing
    now = time.time()
    assert rules.verify_token(token(key), keys, issuer="https://issuer", audience=["app"], now=now)
    access = token(key, aud=None, client_id="app")
    assert rules.verify_token(access, keys, issuer="https://issuer", audience=["app"], now=now)


NOT_BEFORE_2100 = 4_102_444_800
"""A token not valid yet whenever the test runs (parameters are made at collection, and a
long run can pass a time set minutes ahead)."""


@pytest.mark.parametrize(
    "claims", [{"aud": "other"}, {"iss": "https://else"}, {"exp": 1}, {"nbf": NOT_BEFORE_2100}]
)
def test_a_token_fails_for_audience_issuer_or_time(signing, claims):
    key, keys = signing
    with pytest.raises(rules.TokenRejectedError):
        rules.verify_token(
            token(key, **claims), keys, issuer="https://issuer", audience=["app"], now=time.time()
        )


def test_scopes_come_from_scope_or_scp_and_claims_are_strings():
    assert rules.token_scopes({"scope": "a b"}) == ["a", "b"]
    assert rules.token_scopes({"scp": ["c"]}) == ["c"]
    assert rules.claim_strings({"groups": ["x", "y"], "n": 1}) == {"groups": "[x y]", "n": "1"}


def test_a_jwt_route_needs_one_of_its_scopes():
    assert rules.jwt_verdict(HTTP, {"scope": "a"}, ["b"]).refusal.status == 403
    assert rules.jwt_verdict(HTTP, {"scope": "a"}, ["a"]).context["jwt"]["scopes"] == ["a"]


# --- admission: what is answered before any authorizer runs --------------------------------
TOKEN = ProxyAuthorizerModel(
    "T", "TOKEN", "AuthFn", identity_sources=("method.request.header.Authorization",),
    ttl_s=300, validation_expression="^allow.*$",
)  # fmt: skip
UNCACHED_REQUEST = ProxyAuthorizerModel(
    "R", "REQUEST", "AuthFn", identity_sources=("method.request.header.X-Key",), ttl_s=0
)


def test_admission_gives_the_identity_to_authorize():
    assert rules.admission(REST, TOKEN, request([("Authorization", "allow-me")]), {}) == (
        "allow-me",
    )


def test_a_missing_identity_is_401_before_any_call():
    refusal = rules.admission(REST, TOKEN, request(), {})
    assert (refusal.status, json.loads(refusal.body)) == (401, {"message": "Unauthorized"})


def test_a_token_its_validation_expression_refuses_is_401():
    refusal = rules.admission(REST, TOKEN, request([("Authorization", "mallory")]), {})
    assert refusal.status == 401


def test_a_rest_request_authorizer_without_a_cache_is_admitted_without_its_sources():
    assert rules.admission(REST, UNCACHED_REQUEST, request(), {}) == ()


def test_an_http_request_authorizer_without_its_sources_is_401_even_uncached():
    assert rules.admission(HTTP, UNCACHED_REQUEST, request(), {}).status == 401


def test_a_token_authorizers_event_is_the_token_and_the_methods_arn():
    event = rules.authorizer_event(REST, TOKEN, None, request(), None, ARN, ("allow-me",))
    assert event == {"type": "TOKEN", "authorizationToken": "allow-me", "methodArn": ARN}


def test_a_request_authorizers_event_is_the_routes_event_without_its_body():
    api = ProxyApiModel("Rest", "abc123defg", "REST", "v1",
                        (ProxyRouteModel("GET", "/items/{id}", "Fn"),))  # fmt: skip
    req = request([("X-Key", "k")])
    match = match_route(api, "GET", "/v1/items/7")
    event = rules.authorizer_event(
        api, UNCACHED_REQUEST, match, req, Invocation("id", 1, "123456789012"), ARN, ("k",)
    )
    assert (event["type"], event["methodArn"], event["headers"]["X-Key"]) == ("REQUEST", ARN, "k")
    assert "body" not in event


# --- the cache ---------------------------------------------------------------------------
def test_the_cache_keeps_apart_two_apis_authorizers_of_one_name():
    cache = rules.AuthorizerCache()
    other = ProxyApiModel("Other", "zzz", "REST", "v1", ())
    cache.put(REST, TOKEN, ("t",), "rest's answer", now=0)
    assert cache.get(other, TOKEN, ("t",), now=1) is None
    assert cache.get(REST, TOKEN, ("t",), now=1) == "rest's answer"


def test_a_cleared_cache_forgets_every_answer():
    cache = rules.AuthorizerCache()
    cache.put(REST, TOKEN, ("t",), "answer", now=0)
    cache.clear()
    assert cache.get(REST, TOKEN, ("t",), now=1) is None


# --- REST's Cognito authorizer -----------------------------------------------------------
def test_a_cognito_route_without_scopes_takes_id_tokens_only():
    assert rules.cognito_verdict({"token_use": "id"}, ()).context is not None
    assert rules.cognito_verdict({"token_use": "access", "scope": "a"}, ()).refusal.status == 401


def test_a_cognito_route_with_scopes_takes_an_access_token_with_one_of_them():
    assert rules.cognito_verdict({"token_use": "access", "scope": "shop/read x"},
                                 ("shop/read",)).context is not None  # fmt: skip
    assert rules.cognito_verdict({"token_use": "access", "scope": "x"},
                                 ("shop/read",)).refusal.status == 401  # fmt: skip
    assert rules.cognito_verdict({"token_use": "id"}, ("shop/read",)).refusal.status == 401
