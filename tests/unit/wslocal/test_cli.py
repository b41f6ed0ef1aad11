"""The command line's debugging options: ``start --debug FUNCTION[=PORT]`` (repeatable)
and ``--debug-wait``, ``invoke --debug-port PORT``."""

import pytest

from tests.support.paths import FIXTURES
from wslocal.cli import build_parser, debugged_functions
from wslocal.exceptions import WslocalError
from wslocal.runtime.languages import Debugging
from wslocal.template import StageModel, build_stage_model, read_template


def model() -> StageModel:
    app = FIXTURES / "jobs_app"
    return build_stage_model(read_template(app / "template.yaml"), app)


def start(*args: str):
    return build_parser().parse_args(["start", *args])


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
