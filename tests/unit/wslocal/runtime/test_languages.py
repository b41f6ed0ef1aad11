"""Node's side of the per-language seam: how its workers start (command, environment,
debugger), and that they are never forked; Python's is test_python_language.py."""

import json
from dataclasses import replace
from pathlib import Path

from wslocal.runtime.languages import Debugging
from wslocal.runtime.languages.node import NODE, node_command, node_environment, redirects
from wslocal.runtime.languages.python import PYTHON
from wslocal.runtime.node.builds import NodeCode
from wslocal.runtime.settings import RuntimeSettings
from wslocal.template import FunctionModel

BOOTSTRAP = Path("/pkg/bootstrap.mjs")


def function(runtime="nodejs20.x", **changes):
    values = dict(logical_id="Fn", function_name="stack-fn", code_dir=Path("/code"),
                  handler="app.handler", runtime=runtime, timeout=3.0, memory_size=512,
                  environment={"OWN": "1"}, layer_dirs=())  # fmt: skip
    values.update(changes)
    return FunctionModel(**values)


SETTINGS = RuntimeSettings(
    region="eu-west-3",
    account_id="1",
    endpoints={"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8000"},
    redirect_hosts=("127.0.0.1:3001", "abc.execute-api.eu-west-3.amazonaws.com"),
    redirect_to="http://127.0.0.1:3001",
)


def test_only_python_workers_are_forked():
    assert PYTHON.fork_server(function("python3.12"), SETTINGS) is not None
    assert NODE.fork_server(function("nodejs20.x"), SETTINGS) is None


def test_a_node_worker_runs_the_bootstrap():
    assert node_command("/usr/bin/node", bootstrap=BOOTSTRAP) == [
        "/usr/bin/node",
        "/pkg/bootstrap.mjs",
    ]


def test_a_debugged_node_worker_opens_the_inspector_on_its_port():
    command = node_command("node", Debugging(9229), BOOTSTRAP)
    assert command == ["node", "--inspect=127.0.0.1:9229", "/pkg/bootstrap.mjs"]


def test_waiting_for_a_client_holds_the_first_call_not_the_worker():
    code = NodeCode(Path("/code"), (Path("/code"),))
    assert node_command("node", Debugging(9230, wait=True), BOOTSTRAP)[1] == (
        "--inspect=127.0.0.1:9230"
    )
    env = node_environment(function(), SETTINGS, code, Debugging(9230, wait=True))
    assert env["WSLOCAL_DEBUG_WAIT"] == "1"
    assert "WSLOCAL_DEBUG_WAIT" not in node_environment(function(), SETTINGS, code, Debugging(1))
    assert "WSLOCAL_DEBUG_WAIT" not in node_environment(function(), SETTINGS, code)


def test_nodes_debugger_is_the_inspector_on_its_usual_port():
    assert (NODE.debugger, NODE.debug_port) == ("the Node inspector", 9229)


def test_a_node_workers_environment_is_lambdas_with_the_built_code():
    bundle = Path("/cache/bundle")
    code = NodeCode(bundle, (Path("/cache/deps"), Path("/cache/sdk"), bundle))
    env = node_environment(function(), SETTINGS, code)
    assert env["LAMBDA_TASK_ROOT"] == "/cache/bundle"
    assert env["NODE_PATH"] == "/cache/deps:/cache/sdk:/cache/bundle"
    assert env["_HANDLER"] == "app.handler"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "stack-fn"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "512"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_nodejs20.x"
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "eu-west-3"
    assert env["AWS_ENDPOINT_URL_DYNAMODB"] == "http://127.0.0.1:8000"
    assert json.loads(env["WSLOCAL_REDIRECTS"]) == {
        "127.0.0.1:3001": "http://127.0.0.1:3001",
        "abc.execute-api.eu-west-3.amazonaws.com": "http://127.0.0.1:3001",
    }
    assert env["WSLOCAL_LOG_PREFIX"] == "[Fn] "
    assert env["OWN"] == "1"


def test_sqs_queue_urls_as_ref_gives_them_go_to_the_sqs_engine():
    settings = replace(SETTINGS, endpoints={"AWS_ENDPOINT_URL_SQS": "http://127.0.0.1:9324"})
    routes = redirects(settings)
    assert routes["sqs.eu-west-3.amazonaws.com"] == "http://127.0.0.1:9324"
    assert routes["eu-west-3.queue.amazonaws.com"] == "http://127.0.0.1:9324"


def test_a_json_logging_config_sets_lambdas_log_format_variable():
    code = NodeCode(Path("/code"), (Path("/code"),))
    assert (
        node_environment(function(log_format="JSON"), SETTINGS, code)["AWS_LAMBDA_LOG_FORMAT"]
        == "JSON"
    )
    assert "AWS_LAMBDA_LOG_FORMAT" not in node_environment(function(), SETTINGS, code)


def test_an_application_log_level_with_json_logs_sets_lambdas_log_level_variable():
    code = NodeCode(Path("/code"), (Path("/code"),))
    json_warn = function(log_format="JSON", log_level="WARN")
    assert node_environment(json_warn, SETTINGS, code)["AWS_LAMBDA_LOG_LEVEL"] == "WARN"
    text_warn = function(log_level="WARN")  # Lambda filters JSON logs only
    assert "AWS_LAMBDA_LOG_LEVEL" not in node_environment(text_warn, SETTINGS, code)


def test_the_functions_own_variables_win():
    code = NodeCode(Path("/code"), (Path("/code"),))
    env = node_environment(function(environment={"AWS_LAMBDA_LOG_FORMAT": "JSON"}), SETTINGS, code)
    assert env["AWS_LAMBDA_LOG_FORMAT"] == "JSON"
