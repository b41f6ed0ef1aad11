"""The Node bootstrap's pure parts, run in Node: how a handler string names its file and
export, which requests the Management API redirect takes to the stage, and Lambda's log
line formats."""

import json
from pathlib import Path

import pytest

from tests.support.node import run_node
from wslocal.runtime.languages.node import BOOTSTRAP

MODULES = BOOTSTRAP.parent


def node(module: str, body: str) -> object:
    """Run ``body`` (an expression) with ``module``'s exports imported as ``m``."""
    url = (MODULES / module).as_uri()
    return run_node(f"import * as m from {json.dumps(url)};\nconsole.log(JSON.stringify({body}));")


def test_a_handler_names_a_file_under_its_folder_and_a_possibly_nested_export():
    assert node("handlers.mjs", 'm.splitHandler("src/handlers/app.lambda.handler")') == {
        "moduleRoot": "src/handlers/",
        "moduleName": "app",
        "exportPath": ["lambda", "handler"],
    }


@pytest.mark.parametrize("handler", ["app", "../outside/app.handler"])
def test_a_malformed_handler_is_said(handler):
    call = f"m.splitHandler({json.dumps(handler)})"
    body = f"(() => {{ try {{ {call}; }} catch (e) {{ return e.name; }} }})()"
    assert node("handlers.mjs", body) == "Runtime.MalformedHandlerName"


def test_files_are_tried_as_written_then_js_mjs_cjs(tmp_path: Path):
    result = node("handlers.mjs", f"m.candidates({json.dumps(str(tmp_path))}, 'app.handler')")
    assert [(Path(c["file"]).name, c["kind"]) for c in result] == [
        ("app", "cjs"), ("app.js", "cjs"), ("app.mjs", "esm"), ("app.cjs", "cjs"),
    ]  # fmt: skip


def test_a_js_file_under_a_type_module_package_json_is_an_es_module(tmp_path: Path):
    (tmp_path / "package.json").write_text('{"type": "module"}')
    (tmp_path / "src").mkdir()
    result = node("handlers.mjs", f"m.candidates({json.dumps(str(tmp_path))}, 'src/app.handler')")
    assert result[1]["kind"] == "esm"


def redirected(args: str) -> object:
    routes = (
        '[["abc.execute-api.us-east-1.amazonaws.com", new URL("http://127.0.0.1:3001")],'
        ' ["127.0.0.1:3001", new URL("http://127.0.0.1:3001")],'
        ' ["sqs.us-east-1.amazonaws.com", new URL("http://127.0.0.1:9324")]]'
    )
    return node("redirect.mjs", f"m.redirectedArguments({args}, new Map({routes}))")


def test_the_sdks_request_to_the_deployed_endpoint_goes_to_the_stage():
    options = (
        '{protocol: "https:", hostname: "abc.execute-api.us-east-1.amazonaws.com", '
        'path: "/Prod/%40connections/x", method: "POST", agent: {}}'
    )
    assert redirected(f"[{options}]") == [
        {"protocol": "http:", "hostname": "127.0.0.1", "port": "3001",
         "path": "/Prod/%40connections/x", "method": "POST"},
    ]  # fmt: skip


def test_an_endpoint_built_from_the_events_domain_name_goes_to_the_stage():
    assert redirected('["https://127.0.0.1:3001/Prod/@connections/x"]') == [
        {"path": "/Prod/@connections/x", "protocol": "http:", "hostname": "127.0.0.1",
         "port": "3001"},
    ]  # fmt: skip


def test_a_queue_url_as_ref_gives_it_goes_to_the_sqs_engine():
    options = '{hostname: "sqs.us-east-1.amazonaws.com", path: "/", method: "POST"}'
    assert redirected(f"[{options}]") == [
        {"hostname": "127.0.0.1", "port": "9324", "path": "/", "method": "POST",
         "protocol": "http:"},
    ]  # fmt: skip


def test_other_hosts_are_left_alone():
    assert redirected('[{hostname: "dynamodb.us-east-1.amazonaws.com", path: "/"}]') is None


def test_a_text_log_line_is_time_request_level_message():
    line = node(
        "logging.mjs",
        'm.logLine({json: false, time: "T", requestId: "r1", level: "INFO", args: ["a %d", 1, {b: 2}]})',  # noqa: E501
    )
    assert line == "T\tr1\tINFO\ta 1 { b: 2 }"


def test_a_json_log_line_keeps_an_object_message_as_an_object():
    line = node(
        "logging.mjs",
        'm.logLine({json: true, time: "T", requestId: "r1", level: "WARN", args: [{b: 2}]})',
    )
    assert json.loads(str(line)) == {
        "timestamp": "T", "level": "WARN", "requestId": "r1", "message": {"b": 2}
    }  # fmt: skip


def test_a_json_log_line_of_one_error_carries_it_as_lambdas_error_object():
    line = node(
        "logging.mjs",
        'm.logLine({json: true, time: "T", requestId: "r1", level: "ERROR", '
        'args: [Object.assign(new TypeError("boom"), {code: 7})]})',
    )
    record = json.loads(str(line))
    message = record.pop("message")
    assert record == {"timestamp": "T", "level": "ERROR", "requestId": "r1"}
    assert message["stackTrace"][0] == "TypeError: boom"
    assert {key: message[key] for key in ("errorType", "errorMessage", "code")} == {
        "errorType": "TypeError", "errorMessage": "boom", "code": 7
    }  # fmt: skip


def test_a_json_log_line_with_an_error_among_its_arguments_names_the_error_beside_it():
    line = node(
        "logging.mjs",
        'm.logLine({json: true, time: "T", requestId: "r1", level: "ERROR", '
        'args: ["failed:", new RangeError("far")]})',
    )
    record = json.loads(str(line))
    assert record["message"].startswith("failed: RangeError: far")
    assert (record["errorType"], record["errorMessage"]) == ("RangeError", "far")
    assert record["stackTrace"][0] == "RangeError: far"


def console_levels(threshold: str) -> object:
    """The levels console's methods write at under ``threshold``, each method called once."""
    return node(
        "logging.mjs",
        f"""(() => {{
          const written = [];
          m.installConsole({{prefix: "", json: true, requestId: () => "r", threshold: "{threshold}",
                             write: (line) => written.push(JSON.parse(line).level)}});
          for (const method of ["trace", "debug", "info", "log", "warn", "error", "fatal"]) {{
            console[method]("x");
          }}
          return written;
        }})()""",
    )


def test_the_application_log_level_drops_the_lines_below_it_and_fatal_is_always_written():
    assert console_levels("WARN") == ["WARN", "ERROR", "FATAL"]


def test_every_level_is_written_at_trace():
    assert console_levels("TRACE") == ["TRACE", "DEBUG", "INFO", "INFO", "WARN", "ERROR", "FATAL"]
