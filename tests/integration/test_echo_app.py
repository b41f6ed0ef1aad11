"""A different SAM app (tests/fixtures/echo_app) on the stage: its own route names and
selection expression, a layer, a REQUEST authorizer, handlers written for AWS that build
the Management API endpoint themselves. Proves the stage is not wired to the chat."""

import contextlib
import json
import shutil
import time

import pytest
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayWebSocketConnectEventModel,
    APIGatewayWebSocketDisconnectEventModel,
    APIGatewayWebSocketMessageEventModel,
)
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from tests.support.paths import FIXTURES
from tests.support.raw_websocket import (
    open_raw,
    read_close_code,
    send_close_without_status,
    send_masked,
)
from tests.support.stage import RunningStage
from wslocal.apigateway.limits import Limits
from wslocal.engines.provisioning import Provisioned
from wslocal.server import StageConfig
from wslocal.template import build_stage_model, read_template

pytestmark = pytest.mark.integration

APP = FIXTURES / "echo_app"


@contextlib.contextmanager
def echo_stage(log_path, limits=None, **overrides):
    model = build_stage_model(
        read_template(APP / "template.yaml"),
        APP,
        {"EventLogPath": str(log_path), **overrides},
    )
    # No stage name given: the template's StageName is served, as `wslocal start` does.
    config = StageConfig(port=0, limits=limits or Limits(), max_workers=2)
    with RunningStage(model, config) as running:
        yield running


@pytest.fixture(scope="module")
def log_path(tmp_path_factory):
    return tmp_path_factory.mktemp("echo") / "events.jsonl"


@pytest.fixture(scope="module")
def stage(log_path):
    with echo_stage(log_path) as running:
        yield running


def logged(log_path, event_type, connection_id=None, timeout=10):
    """The events of ``event_type`` the app's handlers wrote down."""
    deadline = time.monotonic() + timeout
    while True:
        found = []
        if log_path.exists():
            for line in log_path.read_text().splitlines():
                event = json.loads(line)
                context = event["requestContext"]
                if context["eventType"] == event_type and connection_id in (
                    None,
                    context["connectionId"],
                ):
                    found.append(event)
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def echo(ws, payload):
    ws.send(
        payload if isinstance(payload, (str, bytes)) else json.dumps(payload, separators=(",", ":"))
    )
    return json.loads(ws.recv(timeout=15))


def connection_id(stage, before):
    [new] = {c.connection_id for c in stage.stage.registry} - before
    return new


def test_its_own_selection_expression_picks_its_own_route(stage):
    with connect(stage.url) as ws:
        reply = echo(ws, {"type": "echo", "n": 1})
    assert reply["routeKey"] == "echo"
    assert reply["body"] == '{"type":"echo","n":1}'
    assert reply["greeting"] == "echo"  # imported from the app's layer


def test_the_stage_path_is_accepted_too(stage):
    with connect(f"{stage.url}/test") as ws:
        assert echo(ws, {"type": "echo"})["routeKey"] == "echo"


def test_warm_workers_keep_module_state_and_the_context_is_lambdas(stage):
    with connect(stage.url) as ws:
        first = echo(ws, {"type": "echo"})
        second = echo(ws, {"type": "echo"})
    assert second["calls"] > first["calls"]
    assert first["function"] == "EchoFn"
    assert first["memory"] == 128
    assert first["arn"] == "arn:aws:lambda:us-east-1:123456789012:function:EchoFn"
    assert 0 < first["remainingMs"] <= 1000


def test_unmatched_frames_go_to_default(stage):
    with connect(stage.url) as ws:
        reply = echo(ws, {"type": "other"})
    assert (reply["routeKey"], reply["isBase64Encoded"]) == ("$default", False)


def test_a_binary_frame_closes_the_connection_with_1003(stage, log_path):
    def binary(ws):
        ws.send(b"\x00\x01binary")
        with pytest.raises(ConnectionClosed) as caught:
            ws.recv(timeout=10)
        assert caught.value.rcvd.code == 1003

    assert disconnect_of(stage, log_path, binary)[0] == 1003


def test_a_text_frame_of_invalid_utf8_closes_with_1007_and_nothing_after_it_runs(stage, log_path):
    before = {c.connection_id for c in stage.stage.registry}
    sock = open_raw(stage.url)
    this = connection_id(stage, before)
    send_masked(sock, 0x1, b"\xff\xfe not utf-8")
    send_masked(sock, 0x1, json.dumps({"type": "echo"}).encode())  # in the same read
    assert read_close_code(sock) == 1007
    sock.close()
    [event] = logged(log_path, "DISCONNECT", this)
    assert event["requestContext"]["disconnectStatusCode"] == 1007
    assert logged(log_path, "MESSAGE", this, timeout=0.5) == []


def test_without_a_default_route_an_unmatched_message_is_forbidden(tmp_path):
    with echo_stage(tmp_path / "log", WithDefaultRoute="false") as stage, connect(stage.url) as ws:
        reply = echo(ws, {"type": "nothing-matches"})
    assert reply["message"] == "Forbidden"
    assert set(reply) == {"message", "connectionId", "requestId"}


@pytest.mark.parametrize("misbehaviour", ["raise", "garbage", "sleep", "exit"])
def test_a_failing_integration_gives_internal_server_error_then_recovers(stage, misbehaviour):
    with connect(stage.url) as ws:
        reply = echo(ws, {"type": "echo", "do": misbehaviour})
        assert reply["message"] == "Internal server error"
        assert echo(ws, {"type": "echo"})["routeKey"] == "echo"


def test_a_timed_out_worker_is_replaced_by_a_new_process(stage):
    with connect(stage.url) as ws:
        before = echo(ws, {"type": "echo"})["pid"]
        echo(ws, {"type": "echo", "do": "sleep"})
        after = [echo(ws, {"type": "echo"})["pid"] for _ in range(3)]
    assert before not in after


def test_events_parse_with_powertools_parser_models(stage, log_path):
    before = {c.connection_id for c in stage.stage.registry}
    with connect(f"{stage.url}?a=1&a=2") as ws:
        this = connection_id(stage, before)
        APIGatewayWebSocketMessageEventModel.model_validate(
            echo(ws, {"type": "echo", "do": "event"})
        )
    [connect_event] = logged(log_path, "CONNECT", this)
    APIGatewayWebSocketConnectEventModel.model_validate(connect_event)
    assert connect_event["multiValueQueryStringParameters"] == {"a": ["1", "2"]}
    [disconnect_event] = logged(log_path, "DISCONNECT", this)
    APIGatewayWebSocketDisconnectEventModel.model_validate(disconnect_event)


def test_connect_rejection_status_and_body_reach_the_client(stage):
    with pytest.raises(InvalidStatus) as caught:
        connect(f"{stage.url}?reject=403")
    assert caught.value.response.status_code == 403
    assert caught.value.response.body == b"rejected by $connect"


def test_a_connect_handler_that_raises_rejects_with_502(stage):
    with pytest.raises(InvalidStatus) as caught:
        connect(f"{stage.url}?boom=1")
    assert caught.value.response.status_code == 502


def test_connect_can_choose_the_subprotocol(stage):
    with connect(f"{stage.url}?protocol=chat.v1", subprotocols=["chat.v1"]) as ws:
        assert ws.subprotocol == "chat.v1"


def test_the_stage_serves_under_the_templates_stage_name(stage):
    assert stage.stage.stage_name == "test"
    with connect(f"{stage.url}/test") as ws:
        ws.send(json.dumps({"type": "push", "via": "domainName"}))
        assert json.loads(ws.recv(timeout=15)) == {"pushed": "domainName"}


@pytest.mark.parametrize("via", ["domainName", "apiId", "template"])
def test_handlers_that_build_the_deployed_endpoint_reach_the_stage(stage, via):
    with connect(stage.url) as ws:
        ws.send(json.dumps({"type": "push", "via": via}))
        assert json.loads(ws.recv(timeout=15)) == {"pushed": via}


def disconnect_of(stage, log_path, close):
    before = {c.connection_id for c in stage.stage.registry}
    with connect(stage.url) as ws:
        this = connection_id(stage, before)
        close(ws)
    [event] = logged(log_path, "DISCONNECT", this)
    context = event["requestContext"]
    return context["disconnectStatusCode"], context["disconnectReason"]


def test_disconnect_carries_the_clients_close_code_and_reason(stage, log_path):
    assert disconnect_of(stage, log_path, lambda ws: ws.close(1000, "bye")) == (1000, "bye")


def test_disconnect_after_a_close_without_status_is_1005(stage, log_path):
    before = {c.connection_id for c in stage.stage.registry}
    sock = open_raw(stage.url)
    this = connection_id(stage, before)
    send_close_without_status(sock)
    sock.recv(100)
    sock.close()
    [event] = logged(log_path, "DISCONNECT", this)
    assert event["requestContext"]["disconnectStatusCode"] == 1005
    assert event["requestContext"]["disconnectReason"] == "Client-side close frame status not set"


def test_disconnect_after_a_dropped_connection_is_1006(stage, log_path):
    before = {c.connection_id for c in stage.stage.registry}
    sock = open_raw(stage.url)
    this = connection_id(stage, before)
    sock.close()
    [event] = logged(log_path, "DISCONNECT", this)
    assert event["requestContext"]["disconnectStatusCode"] == 1006


def test_disconnect_after_an_oversized_frame_is_1009(stage, log_path):
    def oversize(ws):
        ws.send("x" * 40000)
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=10)

    assert disconnect_of(stage, log_path, oversize)[0] == 1009


def test_an_idle_connection_is_closed_with_1001(tmp_path):
    log = tmp_path / "events.jsonl"
    with echo_stage(log, limits=Limits(idle_timeout=1.0, max_duration=60)) as stage:
        with connect(stage.url) as ws:
            echo(ws, {"type": "echo"})
            started = time.monotonic()
            with pytest.raises(ConnectionClosed) as caught:
                ws.recv(timeout=10)
            waited = time.monotonic() - started
        [event] = logged(log, "DISCONNECT")
    assert caught.value.rcvd.code == 1001
    assert 0.8 < waited < 5
    assert event["requestContext"]["disconnectStatusCode"] == 1001
    assert "idle" in event["requestContext"]["disconnectReason"]


def echo_until_closed(ws, attempts: int = 40) -> None:
    for _ in range(attempts):
        echo(ws, {"type": "echo"})
        time.sleep(0.1)


def test_the_maximum_duration_closes_even_a_busy_connection(tmp_path):
    limits = Limits(idle_timeout=60, max_duration=1.5)
    with (
        echo_stage(tmp_path / "log", limits=limits) as stage,
        connect(stage.url) as ws,
        pytest.raises(ConnectionClosed) as caught,
    ):
        echo_until_closed(ws)
    assert caught.value.rcvd.code == 1001


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    """The echo app with its REQUEST authorizer on $connect."""
    with echo_stage(tmp_path_factory.mktemp("auth") / "log", WithAuthorizer="true") as running:
        yield running


@pytest.mark.parametrize(("query", "status"), [("", 401), ("?token=bad", 403), ("?token=err", 401)])
def test_a_refused_handshake_gets_the_authorizers_status(guarded, query, status):
    with pytest.raises(InvalidStatus) as caught:
        connect(f"{guarded.url}{query}")
    assert caught.value.response.status_code == status


def test_an_allowed_connection_carries_the_authorizer_context(guarded):
    with connect(f"{guarded.url}?token=good") as ws:
        reply = echo(ws, {"type": "echo"})
    assert reply["authorizer"] == {"principalId": "user-1", "tier": "gold"}


def test_an_edited_handler_is_reloaded_and_the_connection_stays(tmp_path):
    # GIVEN a copy of the app served with --watch
    app = tmp_path / "app"
    shutil.copytree(APP, app, ignore=shutil.ignore_patterns("__pycache__"))
    model = build_stage_model(
        read_template(app / "template.yaml"), app, {"EventLogPath": str(tmp_path / "log")}
    )
    config = StageConfig(port=0, stage="test", max_workers=2, watch=True)
    with RunningStage(model, config) as stage, connect(stage.url) as ws:
        assert echo(ws, {"type": "echo"})["greeting"] == "echo"
        # WHEN the layer's greeting is edited
        shared = app / "shared" / "echo_shared" / "__init__.py"
        shared.write_text(shared.read_text().replace('"echo"', '"edited"'))
        # THEN the next calls get the new code, on the same connection
        deadline = time.monotonic() + 15
        while echo(ws, {"type": "echo"})["greeting"] != "edited":
            assert time.monotonic() < deadline, "the edit was never picked up"
            time.sleep(0.2)


class EditedTemplate:
    """The app's template as a test edits it; its engines have what it needs already."""

    def __init__(self, log_path) -> None:
        self.document = read_template(APP / "template.yaml")
        self.log_path = log_path
        self.path = APP / "template.yaml"

    def load(self):
        return build_stage_model(self.document, APP, {"EventLogPath": str(self.log_path)})

    def provision(self, model):
        return Provisioned(endpoints={}, queue_urls={})


def test_a_reloaded_template_replaces_only_the_function_it_changed(tmp_path):
    # GIVEN a stage whose template is edited while a client is connected
    template = EditedTemplate(tmp_path / "log")
    config = StageConfig(port=0, stage="test", max_workers=2)
    with RunningStage(template.load(), config, template) as stage, connect(stage.url) as ws:
        before = echo(ws, {"type": "echo"})
        push_workers = stage.worker_pids("PushFn")
        # WHEN EchoFn's memory size changes in the template
        template.document["Resources"]["EchoFn"]["Properties"]["MemorySize"] = 512
        changes = stage.call(stage.stage.reload_template())
        # THEN EchoFn runs in a new worker with its new setting, on the same connection,
        # and the other functions keep their warm workers
        after = echo(ws, {"type": "echo"})
        assert stage.worker_pids("PushFn") == push_workers
    assert changes.functions.changed == ("EchoFn",)
    assert (before["memory"], after["memory"]) == (128, 512)
    assert after["pid"] != before["pid"]


def test_a_template_whose_api_was_replaced_closes_its_connections_with_1001(tmp_path):
    # GIVEN a client of the app's API
    template = EditedTemplate(tmp_path / "log")
    config = StageConfig(port=0, stage="test", max_workers=2)
    with RunningStage(template.load(), config, template) as stage, connect(stage.url) as ws:
        # WHEN the template's API becomes another resource
        template.document = json.loads(json.dumps(template.document).replace("EchoApi", "Echo2"))
        stage.call(stage.stage.reload_template())
        # THEN the connection ends as a deleted API's does, and new ones reach the new API
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
        with connect(stage.url) as again:
            assert echo(again, {"type": "echo"})["routeKey"] == "echo"
    assert closed.value.rcvd.code == 1001
