"""The command line's own parsing, run in-process (``generate-event`` needs no engine),
and its debugging options: ``start --debug FUNCTION[=PORT]`` (repeatable) and
``--debug-wait``, ``invoke --debug-port PORT``."""

import json
import uuid

import pytest

from tests.support.paths import FIXTURES
from wslocal import cli
from wslocal.arguments import build_parser, debugged_functions
from wslocal.exceptions import WslocalError
from wslocal.runtime.languages import Debugging
from wslocal.template import StageModel, build_stage_model, read_template


def generated(capsys, *argv):
    assert cli.main(["generate-event", *argv]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_repeated_header_keeps_every_value_in_order(capsys):
    event = generated(capsys, "apigateway", "rest", "--header", "X-Id=1", "--header", "X-Id=2")
    assert event["multiValueHeaders"]["X-Id"] == ["1", "2"]
    assert event["headers"]["X-Id"] == "2"


def test_a_header_value_keeps_its_quotes_and_its_equals_signs(capsys):
    event = generated(
        capsys, "apigateway", "http", "--header", 'If-None-Match="v1"', "--header", "A=b=c"
    )
    assert (event["headers"]["if-none-match"], event["headers"]["a"]) == ('"v1"', "b=c")


def test_a_header_without_a_value_is_refused_naming_the_header_option(capsys):
    assert cli.main(["generate-event", "apigateway", "rest", "--header", "X-Id"]) == 2
    error = capsys.readouterr().err
    assert "--header takes NAME=VALUE" in error and "--parameter-overrides" not in error


def test_a_repeated_websocket_query_keeps_every_value(capsys):
    event = generated(capsys, "websocket", "connect", "--query", "a=1", "a=2")
    assert event["multiValueQueryStringParameters"]["a"] == ["1", "2"]


def test_a_generated_rest_request_has_a_uuid_request_id_and_its_own_extended_id(capsys):
    context = generated(capsys, "apigateway", "rest")["requestContext"]
    assert str(uuid.UUID(context["requestId"])) == context["requestId"]
    assert context["extendedRequestId"] != context["requestId"]


def model() -> StageModel:
    app = FIXTURES / "jobs_app"
    return build_stage_model(read_template(app / "template.yaml"), app)


def start(*args: str):
    return build_parser().parse_args(["start", *args])


def test_the_loop_is_chosen_by_default():
    assert start().loop == "auto"


def test_the_loop_may_be_asyncios():
    assert start("--loop", "asyncio").loop == "asyncio"


def test_an_unknown_loop_is_refused():
    with pytest.raises(SystemExit):
        start("--loop", "tokio")


def test_debug_takes_a_function_and_a_port():
    assert start("--debug", "Work=6000").debug == [("Work", 6000)]


def test_debug_without_a_port_leaves_it_to_the_language():
    assert start("--debug", "Work").debug == [("Work", None)]


def test_debug_is_repeatable():
    args = start("--debug", "Work", "--debug", "Submit=7000", "--debug-wait")
    assert args.debug == [("Work", None), ("Submit", 7000)]
    assert args.debug_wait


def test_no_debug_option_debugs_nothing():
    args = start()
    assert args.debug == [] and not args.debug_wait


@pytest.mark.parametrize("bad", ["Work=", "Work=http", "Work=0", "Work=70000", "=5678"])
def test_a_bad_debug_option_is_a_usage_error(bad, capsys):
    with pytest.raises(SystemExit) as exited:
        start("--debug", bad)
    assert exited.value.code == 2
    assert "--debug" in capsys.readouterr().err


def test_invoke_takes_a_debug_port():
    args = build_parser().parse_args(["invoke", "Work", "--debug-port", "5890"])
    assert args.debug_port == 5890


def test_a_function_without_a_port_gets_its_languages_usual_one_then_the_next_free():
    debugged = debugged_functions([("Work", None), ("Submit", None)], model(), wait=False)
    assert debugged == {"Work": Debugging(5678), "Submit": Debugging(5679)}


def test_a_port_asked_for_is_not_given_to_another():
    debugged = debugged_functions([("Work", None), ("Submit", 5678)], model(), wait=True)
    assert debugged == {"Work": Debugging(5679, wait=True), "Submit": Debugging(5678, wait=True)}


def test_debugging_a_function_not_in_the_template_names_the_ones_it_has():
    with pytest.raises(
        WslocalError,
        match=r"--debug Nope: not a function of the template; it has \['Submit', 'Work'\]",
    ):
        debugged_functions([("Nope", None)], model(), wait=False)


def test_two_functions_on_one_port_is_an_error():
    with pytest.raises(WslocalError, match="a port of its own"):
        debugged_functions([("Work", 6000), ("Submit", 6000)], model(), wait=False)


def test_debug_wait_without_a_function_to_debug_is_an_error():
    with pytest.raises(WslocalError, match="--debug-wait needs --debug FUNCTION"):
        debugged_functions([], model(), wait=True)


def test_a_node_function_without_a_port_gets_the_inspectors_usual_one():
    node_app = build_stage_model(
        read_template(FIXTURES / "debug_node_app" / "template.yaml"), FIXTURES / "debug_node_app"
    )
    debugged = debugged_functions([("GreetNodeFunction", None)], node_app, wait=False)
    assert debugged == {"GreetNodeFunction": Debugging(9229)}
