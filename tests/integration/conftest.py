"""The chat's stage on a free port, with the session's DynamoDB Local."""

import pytest

from tests.support.stage import RunningStage
from tests.support.tables import chat_model
from wslocal.apigateway.limits import Limits
from wslocal.engines.dynamodb import create_tables
from wslocal.engines.sqs import create_queues, start_sqs
from wslocal.server import StageConfig


@pytest.fixture(scope="session")
def chat_sqs():
    """moto's SQS server for the chat stage's queues (the fan-out queue among them)."""
    with start_sqs() as engine:
        yield engine


@pytest.fixture(scope="session")
def chat_stage(dynamodb_local, chat_sqs):
    model = chat_model()
    create_tables(dynamodb_local, model.tables, model.region)
    config = StageConfig(
        port=0,
        limits=Limits(),
        ttl_sweep_s=3600,  # the tests sweep by hand
        endpoints={
            "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_local.endpoint,
            "AWS_ENDPOINT_URL_SQS": chat_sqs.endpoint,
        },
        queue_urls=create_queues(chat_sqs, model.queues, model.region),
    )
    with RunningStage(model, config) as running:
        yield running
