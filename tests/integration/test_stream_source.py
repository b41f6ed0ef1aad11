"""A DynamoDB stream event source on the stage, with a template it has never seen
(tests/fixtures/orders_app): a WebSocket route writes orders into DynamoDB Local, the
table's stream invokes a function with Lambda's batches, and that function reports each
record it got to the customer's connection."""

import json
import time

import pytest
from websockets.sync.client import connect

from tests.support.paths import FIXTURES
from tests.support.stage import RunningStage, engines_config
from tests.support.tables import local_table
from wslocal.engines.dynamodb import create_tables
from wslocal.engines.provisioning import Provisioned
from wslocal.engines.sqs import create_queues, start_sqs
from wslocal.server import StageConfig
from wslocal.template import build_stage_model, read_template

pytestmark = pytest.mark.integration

APP = FIXTURES / "orders_app"


@pytest.fixture(scope="module")
def sqs_engine():
    with start_sqs() as engine:
        yield engine


@pytest.fixture(scope="module")
def shop(dynamodb_local, sqs_engine):
    model = build_stage_model(read_template(APP / "template.yaml"), APP)
    create_tables(dynamodb_local, model.tables, model.region)
    config = engines_config(
        model, dynamodb_local, sqs_engine, stage="dev", max_workers=2, ttl_sweep_s=3600
    )  # the tests sweep TTL by hand
    with RunningStage(model, config) as running:
        yield running


@pytest.fixture
def customer(shop):
    with connect(shop.url, open_timeout=20) as ws:
        yield ws


def order(ws, order_id, **fields):
    ws.send(json.dumps({"op": "order", "id": order_id, **fields}))


def reports(ws, count, timeout=15):
    """The next ``count`` reports the stream function posted to this connection."""
    deadline = time.monotonic() + timeout
    return [
        json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic()))) for _ in range(count)
    ]


def orders_table(shop):
    return local_table(shop.stage.config.endpoints["AWS_ENDPOINT_URL_DYNAMODB"], "shop-orders")


def test_an_insert_reaches_the_function_as_a_lambda_record(shop, customer):
    order(customer, "o-insert")
    [report] = reports(customer, 1)
    assert (report["orderId"], report["eventName"], report["eventSource"]) == (
        "o-insert",
        "INSERT",
        "aws:dynamodb",
    )
    assert report["eventSourceARN"] == (
        "arn:aws:dynamodb:us-east-1:123456789012:table/shop-orders/stream/local"
    )
    assert report["awsRegion"] == "us-east-1" and report["userIdentity"] is None


def test_records_of_one_shard_arrive_in_stream_order(shop, customer):
    # Orders of one connection are invoked concurrently (as on AWS), so they are written
    # in any order; the stream delivers them in the order they were written.
    for index in range(5):
        order(customer, f"o-order-{index}")
    got = reports(customer, 5)
    assert {r["orderId"] for r in got} == {f"o-order-{index}" for index in range(5)}
    numbers = [int(r["sequenceNumber"]) for r in got]
    assert numbers == sorted(numbers)


def test_a_ttl_removal_carries_the_services_identity(shop, customer):
    order(customer, "o-ttl", expires=int(time.time()) - 1)
    assert reports(customer, 1)[0]["eventName"] == "INSERT"
    assert shop.stage.ttl_sweeper.sweep().deleted >= 1
    [removal] = reports(customer, 1)
    assert (removal["orderId"], removal["eventName"]) == ("o-ttl", "REMOVE")
    assert removal["userIdentity"] == {"type": "Service", "principalId": "dynamodb.amazonaws.com"}


def test_an_ordinary_delete_has_no_user_identity(shop, customer):
    order(customer, "o-delete")
    reports(customer, 1)
    orders_table(shop).delete_item(Key={"orderId": "o-delete"})
    [removal] = reports(customer, 1)
    assert removal["eventName"] == "REMOVE" and removal["userIdentity"] is None


def test_a_record_no_filter_matches_never_reaches_the_function(shop, customer):
    # GIVEN FilterCriteria that drop orders whose kind starts with "ignored"
    order(customer, "o-filtered", kind="ignored-by-the-filter")
    order(customer, "o-kept", kind="kept")
    # THEN only the other order is reported, and nothing else comes
    assert [r["orderId"] for r in reports(customer, 1)] == ["o-kept"]
    with pytest.raises(TimeoutError):
        customer.recv(timeout=2)


def test_a_reported_item_failure_is_retried_then_described_to_the_queue(shop, sqs_engine, customer):
    # GIVEN MaximumRetryAttempts: 1 and a function that reports "refused" orders as failed
    order(customer, "o-refused", kind="refused")
    # WHEN it is invoked: once, then one retry
    first, retry = reports(customer, 2)
    # THEN the same record came twice, and was then described to the on-failure queue
    assert first["sequenceNumber"] == retry["sequenceNumber"]
    answer = sqs_engine.client("us-east-1").receive_message(
        QueueUrl=shop.stage.config.queue_urls["FailedOrders"], WaitTimeSeconds=10
    )
    [message] = answer["Messages"]
    failure = json.loads(message["Body"])
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["DDBStreamBatchInfo"]["startSequenceNumber"] == first["sequenceNumber"]
    # AND the shard goes on
    order(customer, "o-after")
    assert reports(customer, 1)[0]["orderId"] == "o-after"


def test_a_poison_record_is_bisected_away_and_its_neighbours_are_processed(shop, customer):
    # GIVEN three orders written in one batch window, the middle one poisonous
    table = orders_table(shop)
    connection_id = next(iter(shop.stage.registry)).connection_id
    with table.batch_writer() as batch:
        for order_id, kind in (("o-b1", "ok"), ("o-b2", "poison"), ("o-b3", "ok")):
            batch.put_item(Item={"orderId": order_id, "connectionId": connection_id, "kind": kind})
    # THEN the function raised on the whole batch, the halves were tried, and only the
    # poison was given up: both neighbours were reported (once each after bisection)
    got = {r["orderId"] for r in reports(customer, 2)}
    assert got == {"o-b1", "o-b3"}


class EditedShop:
    """orders_app with a table of its own (a fresh stream), edited by the test."""

    path = APP / "template.yaml"

    def __init__(self, endpoints, queue_urls):
        text = json.dumps(read_template(APP / "template.yaml"))
        self.document = json.loads(text.replace("shop-orders", "shop-orders-edited"))
        self.provisioned = Provisioned(endpoints=endpoints, queue_urls=queue_urls)

    @property
    def source(self):
        return self.document["Resources"]["Fulfil"]["Properties"]["Events"]["OrdersStream"]

    def load(self):
        return build_stage_model(self.document, APP)

    def provision(self, model):
        return self.provisioned


def test_an_edited_stream_source_goes_on_from_where_it_was_and_can_be_disabled(
    dynamodb_local, sqs_engine
):
    # GIVEN a stage on the shop whose stream function already processed an order
    endpoints = {
        "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_local.endpoint,
        "AWS_ENDPOINT_URL_SQS": sqs_engine.endpoint,
    }
    template = EditedShop(endpoints, {})
    model = template.load()
    create_tables(dynamodb_local, model.tables, model.region)
    queue_urls = create_queues(sqs_engine, model.queues, model.region)
    template.provisioned = Provisioned(endpoints=endpoints, queue_urls=queue_urls)
    config = StageConfig(port=0, stage="dev", max_workers=2, endpoints=endpoints,
                         queue_urls=queue_urls)  # fmt: skip
    with RunningStage(model, config, template) as stage, connect(stage.url) as ws:
        order(ws, "o-before-edit")
        assert reports(ws, 1)[0]["orderId"] == "o-before-edit"
        # WHEN its BatchSize is edited (StartingPosition is TRIM_HORIZON)
        template.source["Properties"]["BatchSize"] = 5
        changes = stage.call(stage.stage.reload_template())
        assert changes.event_sources.changed == ("Fulfil.OrdersStream",)
        # THEN the next order is the next report: nothing already processed comes again
        order(ws, "o-after-edit")
        assert [r["orderId"] for r in reports(ws, 1)] == ["o-after-edit"]
        # AND once disabled in the template, writes no longer invoke it
        template.source["Properties"]["Enabled"] = False
        stage.call(stage.stage.reload_template())
        order(ws, "o-disabled")
        with pytest.raises(TimeoutError):
            ws.recv(timeout=3)
