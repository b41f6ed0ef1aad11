import json

import pytest

from wslocal.apigateway.integration import (
    MalformedResultError,
    ProxyResponse,
    authorizer_decision,
    close_reason,
    gateway_error,
    is_unauthorized,
    proxy_response,
)

ARN = "arn:aws:execute-api:us-east-1:123456789012:abc/local/$connect"


def test_a_handler_that_returns_nothing_counts_as_200():
    assert proxy_response(None) == ProxyResponse(200)


def test_a_result_without_status_code_counts_as_200():
    assert proxy_response({"body": "hi"}) == ProxyResponse(200, "hi")


def test_status_body_and_headers_are_read():
    response = proxy_response(
        {"statusCode": "401", "body": "no", "headers": {"Sec-WebSocket-Protocol": "chat"}}
    )
    assert (response.status_code, response.body, response.accepted) == (401, "no", False)
    assert response.headers == {"Sec-WebSocket-Protocol": "chat"}


@pytest.mark.parametrize(
    "result", ["a string", 42, [1], {"statusCode": "abc"}, {"body": {"not": "a string"}}]
)
def test_garbage_results_are_malformed(result):
    with pytest.raises(MalformedResultError):
        proxy_response(result)


def test_gateway_error_is_api_gateways_message():
    assert json.loads(gateway_error("Forbidden", "c1", "r1")) == {
        "message": "Forbidden",
        "connectionId": "c1",
        "requestId": "r1",
    }


def test_close_reason_keeps_the_peers_reason_or_names_the_code():
    assert close_reason(1000, "bye") == "bye"
    assert close_reason(1005, "") == "Client-side close frame status not set"
    assert close_reason(1006, "") == "Connection was closed abnormally"
    assert close_reason(1009, "") == "Message too big"


def policy(effect: str, resource: str = ARN, context: dict | None = None) -> dict:
    return {
        "principalId": "user-1",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}],
        },
        "context": context or {},
    }


def test_an_allow_policy_passes_its_context_and_principal():
    decision = authorizer_decision(policy("Allow", context={"tier": "gold"}), ARN)
    assert decision.status == 200
    assert decision.context == {"principalId": "user-1", "tier": "gold"}


def test_an_allow_with_a_wildcard_resource_matches():
    assert authorizer_decision(policy("Allow", resource="arn:aws:execute-api:*"), ARN).status == 200


def test_a_deny_policy_gives_403():
    assert authorizer_decision(policy("Deny"), ARN).status == 403


def test_an_allow_for_another_resource_gives_403():
    assert authorizer_decision(policy("Allow", resource="arn:aws:other"), ARN).status == 403


def test_an_authorizer_result_without_a_policy_is_an_error():
    assert authorizer_decision({"principalId": "x"}, ARN).status == 500


def test_unauthorized_is_the_exception_message_unauthorized():
    assert is_unauthorized({"errorType": "Exception", "errorMessage": "Unauthorized"})
    assert not is_unauthorized({"errorType": "Exception", "errorMessage": "boom"})
