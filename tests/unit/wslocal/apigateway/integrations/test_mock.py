"""MOCK: the request template's statusCode picks the integration response, whose
template answers (a WebSocket ping route)."""

import pytest

from wslocal.apigateway.integrations.exceptions import IntegrationError
from wslocal.apigateway.integrations.mock import mock_answer, mock_status
from wslocal.template.model import IntegrationModel, IntegrationResponseModel

EVENT = {"body": '{"action": "ping"}', "requestContext": {"connectionId": "abc="}}


def ping(status_template):
    return IntegrationModel(
        kind="MOCK",
        request_templates={"$default": status_template},
        responses=(
            IntegrationResponseModel(
                key="/200/", templates={"$default": '{"pong": "$context.connectionId"}'}
            ),
            IntegrationResponseModel(key="$default", templates={"$default": '{"no": "pong"}'}),
        ),
    )


def test_the_request_templates_status_selects_the_response_template():
    assert mock_answer(ping('{"statusCode": 200}'), EVENT).body == '{"pong": "abc="}'
    assert mock_answer(ping('{"statusCode": 500}'), EVENT).body == '{"no": "pong"}'


def test_no_status_code_means_200():
    assert mock_status("") == 200
    assert mock_status('{"other": 1}') == 200


def test_a_status_code_that_is_not_a_number_is_an_integration_error():
    with pytest.raises(IntegrationError):
        mock_status('{"statusCode": "two hundred"}')
