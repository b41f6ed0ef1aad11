"""functions/authorizer/tokens.py: a user pool's JWT checked as Cognito's guide says, with
keys the tests generate and a JWKS served on localhost."""

import importlib.util
import sys
import time

import pytest

from tests.support.jwks import CLIENT, UserPool, new_key
from tests.support.paths import FUNCTIONS


def load_tokens():
    path = FUNCTIONS / "authorizer" / "tokens.py"
    spec = importlib.util.spec_from_file_location("authorizer_tokens", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["authorizer_tokens"] = module
    spec.loader.exec_module(module)
    return module


tokens = load_tokens()


@pytest.fixture(scope="module")
def pool():
    with UserPool() as running:
        yield running


@pytest.fixture
def verifier(pool):
    return tokens.TokenVerifier(pool.issuer, CLIENT)


def test_a_valid_id_token_gives_the_users_name_and_subject(pool, verifier):
    assert verifier.verify(pool.token()) == tokens.Identity("0b8e-alice", "alice")


def test_an_access_token_is_checked_by_its_client_id(pool, verifier):
    access = pool.token(token_use="access", aud=None, client_id=CLIENT, username="alice")
    assert verifier.verify(access).name == "alice"


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": int(time.time()) - 60},
        {"iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other"},
        {"token_use": "refresh"},
    ],
    ids=["expired", "another issuer", "not id or access"],
)
def test_a_token_that_is_not_valid_is_refused(pool, verifier, claims):
    with pytest.raises(tokens.InvalidTokenError):
        verifier.verify(pool.token(**claims))


def test_a_token_without_token_use_is_refused(pool, verifier):
    with pytest.raises(tokens.InvalidTokenError):
        verifier.verify(pool.token(token_use=None))


def test_a_token_signed_with_another_key_is_refused(pool, verifier):
    with pytest.raises(tokens.InvalidTokenError):
        verifier.verify(pool.token(key=new_key()))


def test_garbage_is_refused(verifier):
    with pytest.raises(tokens.InvalidTokenError):
        verifier.verify("not.a.jwt")


def test_a_token_of_another_app_client_is_a_wrong_client(pool, verifier):
    with pytest.raises(tokens.WrongClientError):
        verifier.verify(pool.token(aud="another-client"))


def test_the_pools_keys_are_fetched_once_per_execution_environment(pool):
    verifier = tokens.TokenVerifier(pool.issuer, CLIENT)
    before = pool.fetches
    for _ in range(5):
        verifier.verify(pool.token())
    assert pool.fetches - before == 1


def test_the_issuer_is_the_pools_unless_overridden(monkeypatch):
    monkeypatch.setenv("USER_POOL_ID", "eu-west-1_AbC123")
    monkeypatch.setenv("APP_CLIENT_ID", CLIENT)
    monkeypatch.delenv("JWT_ISSUER", raising=False)
    verifier = tokens.TokenVerifier.from_environment()
    assert verifier.issuer == "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123"


UUID = "9f3c2a1e-5b7d-4c8e-a1f2-0123456789ab"


@pytest.mark.parametrize(
    ("claims", "name"),
    [
        # a pool where people sign in with their e-mail: the user name is a UUID
        ({"cognito:username": UUID, "email": "alice.smith@example.com"}, "alice.smith"),
        # with their phone: no e-mail, a name claim
        (
            {"cognito:username": UUID, "phone_number": "+15550100", "name": "Alice Smith"},
            "Alice Smith",
        ),
        # federated (Google): the user name is the provider's, the name is the person's
        ({"cognito:username": "Google_109876543210987654321", "name": "Bob"}, "Bob"),
        ({"cognito:username": UUID, "preferred_username": "ally", "name": "Alice"}, "ally"),
    ],
    ids=["email-pool", "phone-pool", "federated", "preferred"],
)
def test_the_display_name_comes_from_a_claim_meant_for_display(pool, verifier, claims, name):
    assert verifier.verify(pool.token(**claims)).name == name


def test_a_verified_user_with_only_an_opaque_id_is_named_not_refused(pool, verifier):
    identity = verifier.verify(pool.token(**{"cognito:username": UUID, "sub": UUID}))
    assert identity.name == "user-9f3c2a1e"
