"""An SQS event source on the stage, with a template it has never seen
(tests/fixtures/jobs_app): a WebSocket route queues jobs on moto's SQS server, the queue
invokes a function with Lambda's batches, and that function reports each record it got
to the submitter's connection. Failures come back after the visibility timeout and SQS
moves them to the dead-letter queue after ``maxReceiveCount`` receives."""

import json
import time

import pytest
from websockets.sync.client import connect

from tests.support.paths import FIXTURES
from tests.support.stage import RunningStage
from wslocal.engines.sqs import create_queues, start_sqs
from wslocal.server import StageConfig
from wslocal.template import build_stage_model, read_template

pytestmark = pytest.mark.integration

APP = FIXTURES / "jobs_app"


@pytest.fixture(scope="module")
def sqs_engine():
    with start_sqs() as engine:
        yield engine


@pytest.fixture(scope="module")
def jobs(sqs_engine):
    model = build_stage_model(read_template(APP / "template.yaml"), APP)
    urls = create_queues(sqs_engine, model.queues, model.region)
    config = StageConfig(
        port=0,
        stage="dev",
        max_workers=2,
        endpoints={"AWS_ENDPOINT_URL_SQS": sqs_engine.endpoint},
        queue_urls=urls,
    )
    with RunningStage(model, config) as running:
        yield running


@pytest.fixture
def submitter(jobs):
    with connect(jobs.url, open_timeout=20) as ws:
        yield ws


def submit(ws, job, kind="ok"):
    ws.send(json.dumps({"op": "submit", "job": job, "kind": kind}))


def submit_together(ws, *jobs):
    """Jobs ``(name, kind)`` queued by one SendMessageBatch, so one receive gets them."""
    ws.send(json.dumps({"op": "submit", "jobs": [{"job": j, "kind": k} for j, k in jobs]}))


def reports(ws, count, timeout=15):
    """The next ``count`` reports the queue function posted to this connection."""
    deadline = time.monotonic() + timeout
    return [
        json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic()))) for _ in range(count)
    ]


def messages_in(jobs, sqs_engine, queue):
    """(visible, in flight) messages of a queue of the stage."""
    url = jobs.stage.config.queue_urls[queue]
    attributes = sqs_engine.client("us-east-1").get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )


def until(condition, timeout=15):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def dead_jobs(jobs, sqs_engine):
    url = jobs.stage.config.queue_urls["DeadJobs"]
    answer = sqs_engine.client("us-east-1").receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1
    )
    return [json.loads(m["Body"])["job"] for m in answer.get("Messages", [])]


def test_a_job_reaches_the_function_as_a_lambda_sqs_record(jobs, submitter):
    submit(submitter, "j-shape")
    [report] = reports(submitter, 1)
    assert report["job"] == "j-shape"
    assert (report["eventSource"], report["eventSourceARN"], report["awsRegion"]) == (
        "aws:sqs",
        "arn:aws:sqs:us-east-1:123456789012:jobs-to-do",
        "us-east-1",
    )
    assert report["receiptHandle"] and len(report["md5OfBody"]) == 32
    assert set(report["attributes"]) == {
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    }
    connection = report["messageAttributes"]["connectionId"]
    assert connection["dataType"] == "String" and connection["stringListValues"] == []


def test_a_processed_job_is_deleted_from_the_queue(jobs, sqs_engine, submitter):
    submit(submitter, "j-done")
    reports(submitter, 1)
    until(lambda: messages_in(jobs, sqs_engine, "jobs-to-do") == (0, 0))


def test_a_message_no_filter_matches_is_deleted_without_an_invocation(jobs, sqs_engine, submitter):
    # GIVEN FilterCriteria on the body that drop jobs of kind "skipped"
    submit_together(submitter, ("j-filtered", "skipped"), ("j-unfiltered", "ok"))
    # THEN only the other job reaches the function
    assert [r["job"] for r in reports(submitter, 1)] == ["j-unfiltered"]
    # AND the skipped one is gone from the queue, not waiting to come back
    until(lambda: messages_in(jobs, sqs_engine, "jobs-to-do") == (0, 0))
    with pytest.raises(TimeoutError):
        submitter.recv(timeout=3)  # longer than the visibility timeout (2 s)
    assert "j-filtered" not in dead_jobs(jobs, sqs_engine)


def test_jobs_sent_together_are_gathered_into_batches_within_the_window(jobs, submitter):
    # GIVEN BatchSize 5, a one-second batching window and two pollers
    for index in range(3):
        submit(submitter, f"j-together-{index}")
    got = reports(submitter, 3)
    # THEN each came once, and fewer invocations than jobs carried them
    assert sorted(r["job"] for r in got) == [f"j-together-{index}" for index in range(3)]
    assert max(r["batchSize"] for r in got) >= 2


def test_a_batch_never_exceeds_the_batch_size(jobs, submitter):
    for index in range(12):
        submit(submitter, f"j-many-{index}")
    got = reports(submitter, 12)
    assert sorted(r["job"] for r in got) == sorted(f"j-many-{index}" for index in range(12))
    assert max(r["batchSize"] for r in got) <= 5


def test_a_reported_failure_comes_back_then_goes_to_the_dead_letter_queue(
    jobs, sqs_engine, submitter
):
    # GIVEN VisibilityTimeout 2 and maxReceiveCount 2 on the queue
    submit(submitter, "j-refused", kind="refused")
    first, again = reports(submitter, 2)
    # THEN the job came twice (after the visibility timeout), the second time on receive 2
    assert (first["job"], again["job"]) == ("j-refused", "j-refused")
    assert [first["attributes"]["ApproximateReceiveCount"],
            again["attributes"]["ApproximateReceiveCount"]] == ["1", "2"]  # fmt: skip
    # AND SQS moved it to the dead-letter queue, the function never saw it a third time
    found = []
    until(lambda: found.extend(dead_jobs(jobs, sqs_engine)) or "j-refused" in found)
    with pytest.raises(TimeoutError):
        submitter.recv(timeout=0.5)


def test_a_reported_failure_keeps_only_that_message(jobs, submitter):
    # GIVEN two jobs in one batch, one of them refused
    submit_together(submitter, ("j-kept-ok", "ok"), ("j-kept-refused", "refused"))
    got = reports(submitter, 3)
    # THEN only the refused one came back
    assert sorted(r["job"] for r in got) == ["j-kept-ok", "j-kept-refused", "j-kept-refused"]


def test_a_function_error_returns_the_whole_batch(jobs, submitter):
    # GIVEN a batch (one SendMessageBatch, one receive) whose function raises
    submit_together(submitter, ("j-crash-neighbour", "ok"), ("j-crash", "crash"))
    got = reports(submitter, 4)
    # THEN both messages came back after the visibility timeout, on their second receive
    seen = sorted((r["job"], r["attributes"]["ApproximateReceiveCount"]) for r in got)
    assert seen == [("j-crash", "1"), ("j-crash", "2"),
                    ("j-crash-neighbour", "1"), ("j-crash-neighbour", "2")]  # fmt: skip
