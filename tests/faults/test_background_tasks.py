"""Faults injected into the stage's background tasks at named points: each is said in the
log and the task goes on; nothing a client wrote is lost (the stream's records still
reach their function)."""

import logging
import threading

import boto3
import pytest
from websockets.sync.client import connect

from tests.integration.test_stream_source import APP, order, reports
from tests.support.stage import RunningStage
from wslocal.engines.dynamodb import create_tables
from wslocal.engines.sqs import create_queues
from wslocal.eventsources.aws_client import AwsJsonClient
from wslocal.eventsources.mappings import STREAMS_TARGET_PREFIX
from wslocal.server import StageConfig
from wslocal.template import build_stage_model, read_template

pytestmark = pytest.mark.integration


class BreaksOnce:
    """A streams client whose next GetRecords, once armed, fails in a way no poller
    expects (not an AWS call's error)."""

    def __init__(self, client) -> None:
        self._client = client
        self.armed = threading.Event()

    def __getattr__(self, name):
        return getattr(self._client, name)

    async def call(self, operation, payload):
        if operation == "GetRecords" and self.armed.is_set():
            self.armed.clear()
            raise RuntimeError("the streams client broke")
        return await self._client.call(operation, payload)


@pytest.fixture
def fresh_orders_table(dynamodb_local):
    """The orders app's table, deleted afterwards: its stream (read from TRIM_HORIZON)
    must not hand this test's records to the next test that serves the app."""
    model = build_stage_model(read_template(APP / "template.yaml"), APP)
    create_tables(dynamodb_local, model.tables, model.region)
    yield model
    client = boto3.client(
        "dynamodb", endpoint_url=dynamodb_local.endpoint, region_name="us-east-1",
        aws_access_key_id="x", aws_secret_access_key="x",
    )  # fmt: skip
    for table in model.tables:
        client.delete_table(TableName=table.table_name)


@pytest.fixture
def breaking_streams(monkeypatch):
    clients: list[BreaksOnce] = []
    like = AwsJsonClient.like

    def with_breakable_streams(client, target_prefix):
        made = like(client, target_prefix)
        if target_prefix == STREAMS_TARGET_PREFIX:
            made = BreaksOnce(made)
            clients.append(made)
        return made

    monkeypatch.setattr(AwsJsonClient, "like", staticmethod(with_breakable_streams))
    return clients


def test_a_shard_reader_that_dies_is_said_and_reads_on_from_its_checkpoint(
    dynamodb_local, sqs_engine, fresh_orders_table, breaking_streams, caplog
):
    # GIVEN the orders app with its stream source running
    model = fresh_orders_table
    config = StageConfig(
        port=0, stage="dev", max_workers=2, ttl_sweep_s=0,
        endpoints={"AWS_ENDPOINT_URL_DYNAMODB": dynamodb_local.endpoint,
                   "AWS_ENDPOINT_URL_SQS": sqs_engine.endpoint},
        queue_urls=create_queues(sqs_engine, model.queues, model.region),
    )  # fmt: skip
    caplog.set_level(logging.INFO, logger="wslocal")
    with RunningStage(model, config) as stage, connect(stage.url, open_timeout=20) as ws:
        order(ws, "o-before")
        assert reports(ws, 1)[0]["orderId"] == "o-before"
        # WHEN the shard's reader dies on its next read
        [streams] = breaking_streams
        streams.armed.set()
        order(ws, "o-after")
        # THEN it is said, and the record still arrives, once
        [report] = reports(ws, 1, timeout=30)
        assert report["orderId"] == "o-after"
    assert "stopped on an error; reading it again from its checkpoint" in caplog.text
