"""Node.js functions behind an SQS event source (tests/fixtures/node_jobs_app): an ES
module queues a job through the SDK v3 (AWS_ENDPOINT_URL_SQS), the stage's poller invokes
a CommonJS callback handler with Lambda's batch, and it reports through the Management API
endpoint built from the event's domainName."""

import json

import pytest
from websockets.sync.client import connect

from tests.support.paths import FIXTURES
from tests.support.stage import RunningStage
from wslocal.engines.sqs import create_queues, start_sqs
from wslocal.server import StageConfig
from wslocal.template import build_stage_model, read_template

pytestmark = pytest.mark.integration

APP = FIXTURES / "node_jobs_app"


@pytest.fixture(scope="module")
def node_jobs():
    with start_sqs() as sqs:
        model = build_stage_model(read_template(APP / "template.yaml"), APP)
        config = StageConfig(
            port=0,
            max_workers=2,
            endpoints={"AWS_ENDPOINT_URL_SQS": sqs.endpoint},
            queue_urls=create_queues(sqs, model.queues, model.region),
        )
        with RunningStage(model, config) as running:
            yield running


def test_a_queued_job_reaches_the_node_worker_and_its_report_the_submitter(node_jobs):
    with connect(node_jobs.url, open_timeout=20) as ws:
        ws.send(json.dumps({"op": "submit", "job": "j1"}))
        assert json.loads(ws.recv(timeout=20)) == {"done": "j1", "source": "aws:sqs"}
