"""The chat with its optional Cognito authorizer on, on the local stage: a REQUEST
authorizer verifying ?token= against a user pool the tests run (their own keys, a JWKS on
localhost). API Gateway's answers: 401 without a valid token, 403 for another app's; the
verified user name is the display name, whatever ?name= says."""

import dataclasses
import json

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.support.jwks import CLIENT, POOL, UserPool
from tests.support.paths import ROOT, TEMPLATE
from tests.support.stage import RunningStage
from wslocal.engines.dynamodb import create_tables, find_dynamodb_local_jar, start_dynamodb_local
from wslocal.server import StageConfig
from wslocal.template import build_stage_model, read_template

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def guarded():
    """A DynamoDB Local of its own: the session's chat stage reads the session's stream."""
    jar = find_dynamodb_local_jar(ROOT)
    assert jar is not None
    with UserPool() as pool, start_dynamodb_local(jar, region="us-east-1") as dynamodb:
        model = build_stage_model(
            read_template(TEMPLATE),
            ROOT,
            {"CognitoUserPoolId": POOL, "CognitoAppClientId": CLIENT},
        )
        authorizer = model.functions["AuthorizerFunction"]
        local_pool = {**authorizer.environment, "JWT_ISSUER": pool.issuer}
        functions = {
            **model.functions,
            "AuthorizerFunction": dataclasses.replace(authorizer, environment=local_pool),
        }
        model = dataclasses.replace(model, functions=functions)
        create_tables(dynamodb, model.tables, model.region)
        config = StageConfig(
            port=0,
            max_workers=2,
            event_sources=False,
            endpoints={"AWS_ENDPOINT_URL_DYNAMODB": dynamodb.endpoint},
        )
        with RunningStage(model, config) as stage:
            yield stage, pool


def refused_with(url: str) -> int:
    with pytest.raises(InvalidStatus) as refused, connect(url, open_timeout=20):
        pass
    return refused.value.response.status_code


def test_the_template_puts_the_authorizer_on_connect_only_when_a_pool_is_given():
    plain = build_stage_model(read_template(TEMPLATE), ROOT)
    assert plain.routes["$connect"].authorizer is None
    assert "AuthorizerFunction" not in plain.functions
    guarded = build_stage_model(
        read_template(TEMPLATE), ROOT, {"CognitoUserPoolId": POOL, "CognitoAppClientId": CLIENT}
    )
    assert guarded.routes["$connect"].authorizer.function == "AuthorizerFunction"


def test_without_a_token_the_handshake_is_401(guarded):
    stage, _ = guarded
    assert refused_with(f"{stage.url}?room=auth&name=alice") == 401


def test_an_expired_or_forged_token_is_401(guarded):
    stage, pool = guarded
    expired = pool.token(exp=1)
    forged = pool.token()[:-4] + "AAAA"
    assert refused_with(f"{stage.url}?room=auth&token={expired}") == 401
    assert refused_with(f"{stage.url}?room=auth&token={forged}") == 401


def test_a_token_of_another_app_client_is_403(guarded):
    stage, pool = guarded
    other = pool.token(aud="another-app")
    assert refused_with(f"{stage.url}?room=auth&token={other}") == 403


def test_a_valid_token_joins_under_the_verified_name_not_the_one_asked(guarded):
    stage, pool = guarded
    with connect(f"{stage.url}?room=auth&name=mallory&token={pool.token()}") as ws:
        ws.send(json.dumps({"action": "history"}))
        history = json.loads(ws.recv(timeout=15))
    assert history["members"]["names"] == ["alice"]
