"""What a fork server may import ahead (the libraries, never the code the user edits), and
which functions one fork server may serve."""

import asyncio
from pathlib import Path

import pytest

from wslocal.runtime.forking import (
    ForkServer,
    ForkServerError,
    ForkServers,
    fork_server_key,
    preloadable,
    shadowed,
)
from wslocal.runtime.languages import WorkerLaunch

CODE = Path("/app/functions/connect")
LAYER = Path("/app/layers/chatroom")


def test_libraries_are_preloaded_in_import_order():
    modules = [
        ("json", "/usr/lib/python3.13/json/__init__.py"),
        ("boto3", "/cache/runtime/boto3/__init__.py"),
        ("boto3.session", "/cache/runtime/boto3/session.py"),
    ]
    assert preloadable(modules, [CODE, LAYER]) == ["json", "boto3", "boto3.session"]


def test_the_functions_code_and_its_layers_are_never_preloaded():
    modules = [
        ("app", "/app/functions/connect/app.py"),
        ("chatroom", "/app/layers/chatroom/chatroom/__init__.py"),
        ("chatroom.service", "/app/layers/chatroom/chatroom/service.py"),
        ("boto3", "/cache/runtime/boto3/__init__.py"),
    ]
    assert preloadable(modules, [CODE, LAYER]) == ["boto3"]


def test_a_folder_that_only_starts_like_the_code_folder_is_a_library():
    modules = [("connect_extras", "/app/functions/connect_extras/__init__.py")]
    assert preloadable(modules, [CODE]) == ["connect_extras"]


def test_wslocals_own_modules_are_left_to_the_bootstrap():
    modules = [("wslocal.runtime.bootstrap", "/cache/runtime/wslocal/runtime/bootstrap.py")]
    assert preloadable(modules, [CODE]) == []


def test_code_reached_through_a_symlink_is_still_code(tmp_path):
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text("")
    link = tmp_path / "linked"
    link.symlink_to(code / "app.py")
    assert preloadable([("app", str(link))], [code]) == []


def launch(command: str = "/usr/bin/python3.13", **variables: str) -> WorkerLaunch:
    environment = {
        "PATH": "/usr/bin",
        "PYTHONPATH": "/cache/runtime",
        "WSLOCAL_LAYER_PATHS": "/app/layers/chatroom",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_LAMBDA_FUNCTION_NAME": "connect",
        "LAMBDA_TASK_ROOT": "/app/functions/connect",
        "_HANDLER": "app.lambda_handler",
        "TABLE": "connections",
    }
    return WorkerLaunch(
        [command, "-S", "-m", "wslocal.runtime.forkserver"], {**environment, **variables}
    )


def test_functions_that_differ_only_in_code_handler_and_variables_have_one_key():
    other = launch(
        AWS_LAMBDA_FUNCTION_NAME="send",
        LAMBDA_TASK_ROOT="/app/functions/send",
        _HANDLER="send.handler",
        TABLE="messages",
        FANOUT_QUEUE_URL="http://queue",
    )
    assert fork_server_key(other) == fork_server_key(launch())


@pytest.mark.parametrize(
    "different",
    [
        launch(command="/usr/bin/python3.12"),
        launch(PYTHONPATH="/cache/other-requirements"),
        launch(WSLOCAL_LAYER_PATHS="/app/layers/other"),
        launch(AWS_EXECUTION_ENV="AWS_Lambda_python3.12"),
        launch(PYTHONHASHSEED="0"),
        launch(LC_ALL="de_DE.UTF-8"),
        launch(LD_PRELOAD="/lib/libjemalloc.so"),
        launch(TZ="Europe/Paris"),
    ],
    ids=["interpreter", "requirements", "layers", "runtime", "python", "locale", "loader", "tz"],
)
def test_a_different_interpreter_path_layer_runtime_or_startup_variable_is_another_key(different):
    assert fork_server_key(different) != fork_server_key(launch())


def server(read: set[str], *, every: bool = False, proxies: bool = False) -> ForkServer:
    """A fork server started in ``launch()``'s environment whose preload read ``read``."""
    started = ForkServer(None, None, launch().environment)  # type: ignore[arg-type]
    started.read, started.read_every, started.read_proxies = read, every, proxies
    return started


def test_a_server_forks_a_function_that_agrees_on_every_variable_its_preload_read():
    other = launch(AWS_LAMBDA_FUNCTION_NAME="send", TABLE="messages", EXTRA="1")
    assert server({"PATH", "AWS_REGION", "POWERTOOLS_DEBUG"}).serves(other.environment)


def test_a_server_does_not_fork_a_function_with_another_value_of_a_variable_read():
    assert not server({"TABLE"}).serves(launch(TABLE="messages").environment)


def test_a_variable_read_while_unset_must_be_unset_in_the_function_too():
    assert not server({"POWERTOOLS_DEBUG"}).serves(launch(POWERTOOLS_DEBUG="1").environment)


def test_a_preload_that_scanned_the_environment_forks_only_its_own_environment():
    assert server(set(), every=True).serves(launch().environment)
    assert not server(set(), every=True).serves(launch(EXTRA="1").environment)


def test_a_warm_up_that_looked_for_proxies_forks_no_function_with_other_proxies():
    assert server(set(), proxies=True).serves(launch(EXTRA="1").environment)
    assert not server(set(), proxies=True).serves(launch(https_proxy="http://p:3128").environment)


def test_a_function_with_its_own_copy_of_a_preloaded_library_is_not_forked(tmp_path):
    (tmp_path / "requests").mkdir()
    (tmp_path / "requests" / "__init__.py").write_text("")
    servers = ForkServers()
    servers.learn(launch(), [("requests.adapters", "/site/requests/adapters.py")], [CODE])
    with pytest.raises(ForkServerError, match="requests"):
        asyncio.run(servers.server_for(launch(), [tmp_path, LAYER], None, 1.0))


def test_a_module_of_a_preloaded_name_in_the_functions_code_shadows_it(tmp_path):
    (tmp_path / "boto3.py").write_text("")
    assert shadowed(["json", "boto3.session"], [tmp_path]) == "boto3"


def test_a_namespace_folder_of_a_preloaded_name_does_not_shadow_it(tmp_path):
    (tmp_path / "requests").mkdir()
    assert shadowed(["requests"], [tmp_path]) is None
