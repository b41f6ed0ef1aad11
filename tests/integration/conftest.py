"""DynamoDB Local for the whole session, and the chat's stage on a free port."""

import shutil
import uuid

import pytest

from tests.support.paths import ROOT
from tests.support.stage import RunningStage
from tests.support.tables import chat_model
from wslocal.dynamodb import create_tables, find_dynamodb_local_jar, start_dynamodb_local
from wslocal.limits import Limits
from wslocal.server import StageConfig


@pytest.fixture(scope="session")
def dynamodb_local():
    """Amazon DynamoDB Local, from the npm package, in memory."""
    jar = find_dynamodb_local_jar(ROOT)
    assert jar is not None, "DynamoDB Local is missing: run `npm ci` (make test does)"
    assert shutil.which("java"), "DynamoDB Local needs java"
    engine = start_dynamodb_local(jar, region="us-east-1")
    yield engine
    engine.stop()


@pytest.fixture(scope="session")
def chat_stage(dynamodb_local):
    model = chat_model()
    create_tables(dynamodb_local, model.tables, model.region)
    config = StageConfig(
        port=0,
        limits=Limits(),
        endpoints={"AWS_ENDPOINT_URL_DYNAMODB": dynamodb_local.endpoint},
    )
    with RunningStage(model, config) as running:
        yield running


@pytest.fixture
def room() -> str:
    """A fresh room per test, so tests sharing the stage never hear each other."""
    return f"t{uuid.uuid4().hex[:12]}"
