"""How a Python worker starts: its interpreter and bootstrap, its environment, and what
changes under a debugger."""

import sys
from dataclasses import replace
from pathlib import Path

from tests.support.paths import FIXTURES
from wslocal.runtime import bootstrap
from wslocal.runtime.builds import FunctionRuntime
from wslocal.runtime.languages import Debugging
from wslocal.runtime.languages.python import PYTHON
from wslocal.runtime.settings import RuntimeSettings
from wslocal.template import FunctionModel

FUNCTION = FunctionModel(
    logical_id="Fn",
    function_name="fn",
    code_dir=FIXTURES,
    handler="app.handler",
    runtime="python3.12",
    timeout=3.0,
    memory_size=128,
    environment={"FROM_TEMPLATE": "yes"},
    layer_dirs=(),
)
SETTINGS = RuntimeSettings(region="eu-west-1", account_id="123456789012", endpoints={})
RUNTIME = FunctionRuntime("/opt/python3.12", "3.12", (Path("/deps"), Path("/runtime-libs")))
BUILT = replace(SETTINGS, runtimes={"Fn": RUNTIME})


def test_a_function_without_a_prepared_runtime_runs_the_bootstrap_on_the_stages_python():
    assert PYTHON.command(FUNCTION, SETTINGS) == [sys.executable, "-m", bootstrap.__name__]


def test_a_prepared_runtime_runs_its_own_python_without_site_packages():
    assert PYTHON.command(FUNCTION, BUILT) == ["/opt/python3.12", "-S", "-m", bootstrap.__name__]
    assert PYTHON.environment(FUNCTION, BUILT)["PYTHONPATH"] == "/runtime-libs"


def test_the_fork_server_runs_on_the_same_python():
    assert PYTHON.fork_server(FUNCTION, BUILT).command == [
        "/opt/python3.12", "-S", "-m", "wslocal.runtime.forkserver",
    ]  # fmt: skip


def test_the_environment_is_lambdas_with_the_functions_own_variables():
    env = PYTHON.environment(FUNCTION, SETTINGS)
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "fn"
    assert env["_HANDLER"] == "app.handler"
    assert env["FROM_TEMPLATE"] == "yes"
    assert env[bootstrap.LOG_PREFIX] == "[Fn] "


def test_without_a_debugger_nothing_listens():
    env = PYTHON.environment(FUNCTION, SETTINGS)
    assert bootstrap.DEBUG_LISTEN not in env
    assert "-X" not in PYTHON.command(FUNCTION, SETTINGS)


def test_under_a_debugger_the_bootstrap_listens_on_the_port_and_may_wait():
    env = PYTHON.environment(FUNCTION, SETTINGS, Debugging(5678, wait=True))
    assert env[bootstrap.DEBUG_LISTEN] == "127.0.0.1:5678"
    assert env[bootstrap.DEBUG_WAIT] == "1"
    assert PYTHON.environment(FUNCTION, SETTINGS, Debugging(5678))[bootstrap.DEBUG_WAIT] == ""


def test_under_a_debugger_frozen_modules_are_off_so_breakpoints_hold_everywhere():
    command = PYTHON.command(FUNCTION, BUILT, Debugging(5678))
    assert command[:3] == ["/opt/python3.12", "-X", "frozen_modules=off"]


def test_a_prepared_runtime_under_a_debugger_imports_debugpy_from_its_own_folder():
    settings = replace(SETTINGS, runtimes={"Fn": replace(RUNTIME, debugger=Path("/debugpy"))})
    env = PYTHON.environment(FUNCTION, settings, Debugging(5678))
    assert env["PYTHONPATH"] == "/runtime-libs:/debugpy"
    assert PYTHON.environment(FUNCTION, settings)["PYTHONPATH"] == "/runtime-libs"
