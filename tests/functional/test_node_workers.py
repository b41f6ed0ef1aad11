"""Node.js workers with real processes (tests/fixtures/node_worker_functions): handlers
found as Lambda's Node runtime finds them, the context and environment it gives, its
error documents and logs, and a worker ended by process.exit, an unhandled rejection or
the function's timeout replaced by a fresh one."""

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import urllib.request

import pytest

from tests.support.paths import FIXTURES
from tests.support.processes import running, still_running
from wslocal.engines.dynamodb import free_port
from wslocal.exceptions import (
    FunctionBuildError,
    HandlerError,
    InvocationTimeoutError,
    WorkerCrashedError,
)
from wslocal.faults import parse_faults
from wslocal.runtime.languages import Debugging
from wslocal.runtime.languages.node import NODE
from wslocal.runtime.settings import RuntimeSettings
from wslocal.runtime.worker import Worker
from wslocal.runtime.workers import WorkerPool
from wslocal.template import FunctionModel

CODE = FIXTURES / "node_worker_functions"


def function(handler: str, **changes) -> FunctionModel:
    values = {
        "logical_id": "NodeFunction",
        "function_name": "node-function",
        "code_dir": CODE,
        "handler": handler,
        "runtime": "nodejs20.x",
        "timeout": 10.0,
        "memory_size": 256,
        "environment": {"FROM_TEMPLATE": "yes"},
        "layer_dirs": (),
    }
    values.update(changes)
    return FunctionModel(**values)


@pytest.fixture
def log_file(tmp_path):
    with open(tmp_path / "worker.log", "w+") as stream:
        yield stream


async def call(handler, event=None, log_file=None, calls=1, **changes):
    """The results (or errors) of ``calls`` calls to one pool."""
    settings = RuntimeSettings(
        region="eu-west-1", account_id="210987654321", endpoints={}, log_stream=log_file
    )
    pool = WorkerPool(function(handler, **changes), settings, NODE)
    results = []
    try:
        for number in range(calls):
            try:
                results.append(await pool.invoke(event or {}, f"req-{number}"))
            except Exception as exc:
                results.append(exc)
    finally:
        await pool.close()
    return results if calls > 1 else results[0]


async def test_an_async_handler_gets_lambdas_context():
    result = await call("handlers.context", {"hello": "node"})
    remaining = result.pop("remainingMs")
    assert 9000 < remaining <= 10000
    assert result == {
        "event": {"hello": "node"},
        "awsRequestId": "req-0",
        "functionName": "node-function",
        "functionVersion": "$LATEST",
        "invokedFunctionArn": "arn:aws:lambda:eu-west-1:210987654321:function:node-function",
        "memoryLimitInMB": "256",
        "logGroupName": "/aws/lambda/node-function",
        "logStreamName": "local/NodeFunction",
        "callbackWaitsForEmptyEventLoop": True,
    }


async def test_the_environment_is_lambdas_with_the_functions_own_variables():
    env = await call("handlers.environment")
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "node-function"
    assert env["_HANDLER"] == "handlers.environment"
    assert env["LAMBDA_TASK_ROOT"] == str(CODE)
    assert env["AWS_REGION"] == "eu-west-1"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_nodejs20.x"
    assert env["FROM_TEMPLATE"] == "yes"
    assert env["NODE_PATH"].split(":")[-2].endswith("node_modules")  # the runtime's SDK
    assert env["NODE_PATH"].split(":")[-1] == str(CODE)


async def test_a_warm_worker_keeps_its_module_state():
    first, second = await call("handlers.state", calls=2)
    assert first["pid"] == second["pid"]
    assert (first["calls"], second["calls"]) == (1, 2)


async def test_a_callback_handler_answers_through_its_callback():
    assert await call("handlers.callback", {"x": 1}) == {"via": "callback", "event": {"x": 1}}


async def test_a_callback_result_is_sent_once_the_event_loop_is_empty():
    event = {"wait": True, "timerMs": 300}
    first, second = await call("handlers.callbackLeavesATimer", event, calls=2)
    assert first == {"timersRunBefore": 0}
    assert second == {"timersRunBefore": 1}  # the first call's timer ran before it ended


async def test_a_callback_result_is_sent_at_once_when_the_handler_says_not_to_wait():
    event = {"wait": False, "timerMs": 5000}
    first, second = await call("handlers.callbackLeavesATimer", event, calls=2)
    assert first == second == {"timersRunBefore": 0}  # answered with the 5 s timer pending


async def test_a_callback_handler_whose_loop_never_empties_times_out():
    result = await call("handlers.callbackLeavesAnInterval", timeout=1.0)
    assert isinstance(result, InvocationTimeoutError)


async def test_a_handler_that_returns_no_promise_answers_null_once_its_loop_is_empty():
    assert await call("handlers.returnsNothing", {"timerMs": 50}) is None


async def test_a_handler_returning_a_promise_answers_what_it_resolves():
    assert await call("handlers.promise") == {"via": "promise"}


async def test_a_nested_export_is_found():
    assert await call("handlers.nested.deep") == "deep"


async def test_an_mjs_file_is_an_es_module():
    assert await call("lone.handler") == {"kind": "mjs", "esm": True}


async def test_a_cjs_file_is_commonjs():
    assert await call("old.handler") == {"kind": "cjs", "cjs": True}


async def test_a_js_file_under_type_module_is_an_es_module_importing_the_runtimes_sdk():
    assert await call("esm/app.handler") == {"kind": "esm", "sdk": "function"}


async def test_a_thrown_error_is_lambdas_error_document():
    error = await call("handlers.throws")
    assert isinstance(error, HandlerError)
    assert error.error["errorType"] == "RangeError"
    assert error.error["errorMessage"] == "out of range"
    assert error.error["trace"][0] == "RangeError: out of range"


async def test_an_error_given_to_the_callback_fails_the_call():
    error = await call("handlers.callbackError")
    assert isinstance(error, HandlerError)
    assert (error.error["errorType"], error.error["errorMessage"]) == ("TypeError", "bad input")


async def test_a_syntax_error_is_said_at_start_naming_the_file():
    error = await call("broken/bad.handler")
    assert isinstance(error, HandlerError)
    assert error.error["errorType"] == "Runtime.UserCodeSyntaxError"
    assert "bad.js" in error.error["errorMessage"]


async def test_a_missing_export_is_said_naming_the_file():
    error = await call("handlers.missing")
    assert isinstance(error, HandlerError)
    assert error.error["errorType"] == "Runtime.HandlerNotFound"
    assert "handlers.missing is undefined or not exported" in error.error["errorMessage"]
    assert "handlers.js" in error.error["errorMessage"]


async def test_an_export_that_is_not_a_function_is_said():
    error = await call("handlers.notAFunction")
    assert isinstance(error, HandlerError)
    assert error.error["errorType"] == "Runtime.HandlerNotFound"


async def test_a_missing_module_is_said_with_where_it_was_looked_for():
    error = await call("nothere.handler")
    assert isinstance(error, HandlerError)
    assert error.error["errorType"] == "Runtime.ImportModuleError"
    assert str(CODE) in error.error["errorMessage"]


async def test_a_handler_module_that_is_no_file_is_resolved_as_a_package_as_lambda_does(tmp_path):
    # Lambda's last resort: require.resolve(module, {paths: [task root, module root]}),
    # which searches node_modules and NODE_PATH (here a layer's)
    code, layer = tmp_path / "code", tmp_path / "layer"
    package = layer / "nodejs" / "node_modules" / "shared-handlers"
    package.mkdir(parents=True)
    (package / "package.json").write_text('{"name": "shared-handlers", "main": "main.js"}')
    (package / "main.js").write_text("exports.handler = async () => 'from the package';\n")
    code.mkdir()
    assert await call("shared-handlers.handler", code_dir=code, layer_dirs=(layer,)) == (
        "from the package"
    )


async def test_an_unhandled_rejection_ends_the_worker_and_the_next_call_gets_a_fresh_one():
    crashed, again = await call("handlers.unhandled", calls=2)
    assert isinstance(crashed, WorkerCrashedError)
    assert isinstance(again, WorkerCrashedError)  # a fresh worker, the same handler


async def test_process_exit_ends_the_worker_and_the_next_call_gets_a_fresh_one():
    settings = RuntimeSettings(region="eu-west-1", account_id="1", endpoints={})
    pool = WorkerPool(function("handlers.exits"), settings, NODE)
    try:
        with pytest.raises(WorkerCrashedError, match="code 3"):
            await pool.invoke({}, "r1")
        with pytest.raises(WorkerCrashedError):
            await pool.invoke({}, "r2")
        assert pool.cold_starts == 2
    finally:
        await pool.close()


async def test_a_handler_past_its_timeout_is_killed():
    error = await call("handlers.slow", timeout=1.0)
    assert isinstance(error, InvocationTimeoutError)


async def test_console_lines_are_in_lambdas_format_with_the_functions_name(log_file):
    assert await call("handlers.logs", log_file=log_file) == "logged"
    log_file.seek(0)
    lines = log_file.read().splitlines()
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
    assert any(re.fullmatch(rf"\[NodeFunction\] {stamp}\treq-0\tINFO\tplain {{ n: 1 }}", line)
               for line in lines)  # fmt: skip
    assert any(line.endswith("\treq-0\tWARN\tcareful") for line in lines)
    assert any(line.endswith("\treq-0\tERROR\tbroken") for line in lines)
    assert any(line.endswith("\treq-0\tDEBUG\tdetail") for line in lines)  # text: unfiltered
    report = next(
        line for line in lines if line.startswith("[NodeFunction] REPORT RequestId: req-0")
    )
    assert re.search(r"Memory Size: 256 MB\tMax Memory Used: \d+ MB\tInit Duration: ", report)


async def test_json_log_format_is_one_object_per_line(log_file):
    environment = {"AWS_LAMBDA_LOG_FORMAT": "JSON"}
    await call("handlers.logs", log_file=log_file, environment=environment)
    log_file.seek(0)
    records = [
        json.loads(line.removeprefix("[NodeFunction] "))
        for line in log_file.read().splitlines()
        if line.startswith("[NodeFunction] {")
    ]
    assert {"level": "WARN", "requestId": "req-0", "message": "careful"}.items() <= records[
        1
    ].items()
    assert records[0]["message"] == "plain { n: 1 }"
    assert "timestamp" in records[0]
    assert [r["level"] for r in records] == ["INFO", "WARN", "ERROR"]  # INFO and up, as Lambda


async def test_a_debug_application_log_level_lets_json_debug_lines_through(log_file):
    environment = {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "DEBUG"}
    await call("handlers.logs", log_file=log_file, environment=environment)
    log_file.seek(0)
    levels = [
        json.loads(line.removeprefix("[NodeFunction] "))["level"]
        for line in log_file.read().splitlines()
        if line.startswith("[NodeFunction] {")
    ]
    assert levels == ["INFO", "WARN", "ERROR", "DEBUG"]


async def test_an_injected_kill_ends_a_node_worker_mid_call_and_the_next_call_gets_a_fresh_one():
    settings = RuntimeSettings(
        region="eu-west-1", account_id="1", endpoints={}, faults=parse_faults("kill=1,seed=3")
    )
    pool = WorkerPool(function("handlers.promise"), settings, NODE)
    try:
        with pytest.raises(WorkerCrashedError):
            await pool.invoke({}, "r1")
        with pytest.raises(WorkerCrashedError):
            await pool.invoke({}, "r2")
        assert pool.cold_starts == 2
    finally:
        await pool.close()


async def test_an_esbuild_error_is_esbuilds_own_words_and_no_worker_starts(tmp_path):
    (tmp_path / "app.ts").write_text("export const handler = async () => { return 1 +; };\n")
    broken = function(
        "app.handler",
        code_dir=tmp_path,
        build_method="esbuild",
        build_properties={"EntryPoints": ["app.ts"]},
    )
    settings = RuntimeSettings(region="eu-west-1", account_id="1", endpoints={})
    pool = WorkerPool(broken, settings, NODE)
    try:
        with pytest.raises(FunctionBuildError, match=r"esbuild failed:[\s\S]*app\.ts:1"):
            await pool.invoke({}, "r1")
        assert (pool.cold_starts, pool.size) == (0, 0)
    finally:
        await pool.close()


async def test_an_npm_error_is_npms_own_words(tmp_path):
    (tmp_path / "package.json").write_text('{"dependencies": {"ms": "99.0.0"}}')
    (tmp_path / "app.js").write_text("exports.handler = async () => 1;\n")
    error = await call("app.handler", code_dir=tmp_path)
    assert isinstance(error, FunctionBuildError)
    assert "npm failed" in str(error)
    assert "No matching version found for ms@99.0.0" in str(error)


async def test_a_functions_own_dependency_is_installed_and_imported(tmp_path):
    (tmp_path / "package.json").write_text('{"type": "module", "dependencies": {"ms": "2.1.3"}}')
    (tmp_path / "app.js").write_text(
        'import ms from "ms";\nexport const handler = async () => ms("1h");\n'
    )
    assert await call("app.handler", code_dir=tmp_path) == 3600000


async def test_a_layers_nodejs_node_modules_are_importable_from_an_es_module(tmp_path):
    code, layer = tmp_path / "code", tmp_path / "layer"
    package = layer / "nodejs" / "node_modules" / "greeting"
    package.mkdir(parents=True)
    (package / "package.json").write_text('{"name": "greeting", "main": "index.js"}')
    (package / "index.js").write_text("module.exports = (name) => `hello ${name}`;\n")
    code.mkdir()
    (code / "app.mjs").write_text(
        'import greet from "greeting";\nexport const handler = async () => greet("layer");\n'
    )
    assert await call("app.handler", code_dir=code, layer_dirs=(layer,)) == "hello layer"


async def test_a_functions_own_copy_of_an_sdk_package_wins_over_the_runtimes(tmp_path):
    own = tmp_path / "node_modules" / "@aws-sdk" / "client-dynamodb"
    own.mkdir(parents=True)
    (own / "package.json").write_text('{"name": "@aws-sdk/client-dynamodb", "main": "index.js"}')
    (own / "index.js").write_text("exports.mine = true;\n")
    (tmp_path / "app.js").write_text(
        'const sdk = require("@aws-sdk/client-dynamodb");\n'
        "exports.handler = async () => ({ mine: sdk.mine === true });\n"
    )
    assert await call("app.handler", code_dir=tmp_path) == {"mine": True}


async def test_an_es_module_imports_an_sdk_client_the_runtime_ships_beyond_the_common_ones(
    tmp_path,
):
    (tmp_path / "app.mjs").write_text(
        'import { SFNClient, ListStateMachinesCommand } from "@aws-sdk/client-sfn";\n'
        "export const handler = async () => {\n"
        '  const client = new SFNClient({ region: "eu-west-1" });\n'
        "  const command = new ListStateMachinesCommand({});\n"
        "  return { region: await client.config.region(), command: command.constructor.name,\n"
        '           from: import.meta.resolve("@aws-sdk/client-sfn") };\n'
        "};\n"
    )
    result = await call("app.handler", code_dir=tmp_path)
    assert result["region"] == "eu-west-1"
    assert result["command"] == "ListStateMachinesCommand"
    assert "/node/aws-sdk-clients/client-sfn-" in result["from"]


async def test_a_commonjs_require_of_an_sdk_client_beyond_the_common_ones_loads(tmp_path):
    (tmp_path / "app.js").write_text(
        'const { SchedulerClient } = require("@aws-sdk/client-scheduler");\n'
        "exports.handler = async () => {\n"
        '  const client = new SchedulerClient({ region: "eu-west-1" });\n'
        "  return { region: await client.config.region(),\n"
        '           version: require("@aws-sdk/client-scheduler/package.json").version };\n'
        "};\n"
    )
    result = await call("app.handler", code_dir=tmp_path)
    assert result["region"] == "eu-west-1"
    assert result["version"].startswith("3.80")


async def test_a_require_of_an_sdk_client_named_at_run_time_installs_it(tmp_path):
    (tmp_path / "app.js").write_text(
        "exports.handler = async (event) => {\n"
        '  const { SFNClient } = require("@aws-sdk/" + event.client);\n'
        "  return typeof SFNClient;\n"
        "};\n"
    )
    assert await call("app.handler", {"client": "client-sfn"}, code_dir=tmp_path) == "function"


async def test_an_import_of_an_sdk_client_named_at_run_time_installs_it(tmp_path):
    (tmp_path / "app.mjs").write_text(
        "export const handler = async (event) => {\n"
        "  const sdk = await import(`@aws-sdk/${event.client}`);\n"
        "  return typeof sdk.SFNClient;\n"
        "};\n"
    )
    assert await call("app.handler", {"client": "client-sfn"}, code_dir=tmp_path) == "function"


async def test_an_unknown_sdk_package_named_at_run_time_is_not_found_as_on_lambda(tmp_path):
    (tmp_path / "app.js").write_text(
        'exports.handler = async (event) => require("@aws-sdk/" + event.client);\n'
    )
    error = await call(
        "app.handler", {"client": "client-wslocal-no-such-service"}, code_dir=tmp_path
    )
    assert isinstance(error, HandlerError) and "Cannot find module" in str(error)


async def test_an_esbuild_bundle_with_the_sdk_external_finds_a_client_beyond_the_common_ones(
    tmp_path,
):
    (tmp_path / "app.ts").write_text(
        'import { SFNClient } from "@aws-sdk/client-sfn";\n'
        "export const handler = async (): Promise<string> =>\n"
        '  typeof new SFNClient({ region: "eu-west-1" }).send;\n'
    )
    properties = {"EntryPoints": ["app.ts"], "External": ["@aws-sdk/*"]}
    result = await call(
        "app.handler", code_dir=tmp_path, build_method="esbuild", build_properties=properties
    )
    assert result == "function"


async def test_a_functions_own_copy_of_an_sdk_client_beyond_the_common_ones_wins(tmp_path):
    own = tmp_path / "node_modules" / "@aws-sdk" / "client-sfn"
    own.mkdir(parents=True)
    (own / "package.json").write_text('{"name": "@aws-sdk/client-sfn", "main": "index.js"}')
    (own / "index.js").write_text("exports.mine = true;\n")
    (tmp_path / "app.mjs").write_text(
        'import sdk from "@aws-sdk/client-sfn";\n'
        "export const handler = async () => ({ mine: sdk.mine === true,\n"
        '  searched: process.env.NODE_PATH.includes("client-sfn") });\n'
    )
    assert await call("app.handler", code_dir=tmp_path) == {"mine": True, "searched": False}


async def test_an_sdk_package_npm_does_not_know_cannot_be_found_as_on_lambda(tmp_path):
    (tmp_path / "app.mjs").write_text(
        'import x from "@aws-sdk/client-wslocal-no-such-service";\n'
        "export const handler = async () => x;\n"
    )
    error = await call("app.handler", code_dir=tmp_path)
    assert isinstance(error, HandlerError)
    assert "Cannot find" in str(error) and "client-wslocal-no-such-service" in str(error)


async def test_an_edited_package_json_is_installed_for_the_workers_after_a_reload(tmp_path):
    (tmp_path / "package.json").write_text('{"dependencies": {"ms": "2.1.3"}}')
    (tmp_path / "app.js").write_text(
        'exports.handler = async () => require("ms/package.json").version;\n'
    )
    settings = RuntimeSettings(region="eu-west-1", account_id="1", endpoints={})
    pool = WorkerPool(function("app.handler", code_dir=tmp_path), settings, NODE)
    try:
        assert await pool.invoke({}, "r1") == "2.1.3"
        (tmp_path / "package.json").write_text('{"dependencies": {"ms": "2.1.2"}}')
        await pool.reload()  # what the code watcher does on the edit
        assert await pool.invoke({}, "r2") == "2.1.2"
    finally:
        await pool.close()


async def test_a_worker_started_with_a_debug_port_opens_nodes_inspector_there():
    port = free_port()
    settings = RuntimeSettings(region="eu-west-1", account_id="1", endpoints={})
    worker = await Worker.start(function("handlers.state"), settings, NODE, debug=Debugging(port))
    try:
        targets = await asyncio.to_thread(inspector_targets, port)
        assert targets[0]["type"] == "node"
        assert targets[0]["webSocketDebuggerUrl"].startswith(f"ws://127.0.0.1:{port}/")
    finally:
        await worker.stop()


def inspector_targets(port: int) -> list[dict]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as answer:
        return json.loads(answer.read())


async def test_a_result_json_cannot_carry_fails_the_call_as_lambda_does():
    error = await call("handlers.circular")
    assert isinstance(error, HandlerError)
    assert error.error["errorType"] == "TypeError"
    assert "circular" in error.error["errorMessage"]


NODE_STAGE = textwrap.dedent(
    """
    import os, socket, subprocess, sys, time
    from wslocal import lifeline
    from wslocal.runtime.languages.node import BOOTSTRAP

    code, mode = sys.argv[1], sys.argv[2]
    variable, fds = lifeline.inherited()
    ours, theirs = socket.socketpair()
    env = {"PATH": os.environ["PATH"], "LAMBDA_TASK_ROOT": code, "_HANDLER": "app.handler",
           "AWS_LAMBDA_FUNCTION_NAME": "Held", **variable}
    command = ["node"]
    if mode == "waiting":
        env["WSLOCAL_DEBUG_WAIT"] = "1"
        command.append("--inspect=127.0.0.1:0")
    worker = subprocess.Popen(
        [*command, str(BOOTSTRAP), str(theirs.fileno())], env=env,
        pass_fds=(theirs.fileno(), *fds), start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    assert ours.recv(4)  # its ready frame: up, and (waiting) held for a debugger
    print(worker.pid, flush=True)
    time.sleep(60)
    """
)


@pytest.mark.parametrize("mode", ["serving", "waiting"])
def test_a_node_worker_ends_with_a_killed_stage_even_while_it_waits_for_a_debugger(tmp_path, mode):
    # GIVEN a stage (a process holding the lifeline and the channel) and its Node worker,
    # serving, or held by --debug-wait (its main thread blocked until a debugger attaches)
    (tmp_path / "app.mjs").write_text("export const handler = async () => 1;\n")
    stage = subprocess.Popen(
        [sys.executable, "-c", NODE_STAGE, str(tmp_path), mode], stdout=subprocess.PIPE, text=True
    )
    worker = 0
    try:
        worker = int(stage.stdout.readline())
        assert running(worker)
        # WHEN the stage is killed with SIGKILL
        stage.kill()
        stage.wait()
        # THEN its worker ends too
        assert still_running([worker], timeout=10) == []
    finally:
        stage.kill()
        stage.wait()
        if worker:
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker, signal.SIGKILL)
