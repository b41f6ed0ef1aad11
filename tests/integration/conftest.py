"""The chat's stage on a free port, with the session's DynamoDB Local."""

import pytest

from tests.support.stage import RunningStage, engines_config
from tests.support.tables import chat_model
from wslocal.engines.dynamodb import create_tables
from wslocal.engines.sqs import start_sqs


@pytest.fixture(scope="session")
def chat_sqs():
    """moto's SQS server for the chat stage's queues (the fan-out queue among them)."""
    with start_sqs() as engine:
        yield engine


@pytest.fixture(scope="session")
def chat_stage(dynamodb_local, chat_sqs):
    model = chat_model()
    create_tables(dynamodb_local, model.tables, model.region)
    # the tests sweep by hand
    config = engines_config(model, dynamodb_local, chat_sqs, ttl_sweep_s=3600)
    with RunningStage(model, config) as running:
        yield running
