"""One fork server for the functions whose libraries import the same: each fork is its
own function's execution environment (its variables, its code, its folder), and a
function whose variables would change what the libraries' import did gets its own."""

import asyncio
import os
import time
from pathlib import Path

from tests.functional.test_workers import function, settings
from wslocal.runtime.pools import FunctionPools
from wslocal.template import FunctionModel

HANDLER = """\
import gc, os, sys
import {helper}
import {library}

def handler(event, context):
    return {{
        "pid": os.getpid(),
        "parent": os.getppid(),
        "environment": dict(os.environ),
        "app": __file__,
        "modules": sorted(sys.modules),
        "path0": sys.path[0],
        "cwd": os.getcwd(),
        "mode": getattr({library}, "MODE", None),
        "frozen": gc.get_freeze_count(),
    }}
"""


def write_function(root: Path, name: str, library: str = "json") -> Path:
    """A function's code folder: ``app.handler`` (the same module name in every
    function), which imports a helper of its own and ``library``."""
    code = root / name
    code.mkdir()
    (code / "app.py").write_text(HANDLER.format(helper=f"{name}_helper", library=library))
    (code / f"{name}_helper.py").write_text("")
    return code


def chat_like(name: str, code: Path, **variables: str) -> FunctionModel:
    return function(
        "app.handler",
        logical_id=name,
        function_name=name.lower(),
        code_dir=code,
        environment=variables,
    )


async def first_calls(functions: dict[str, FunctionModel], first: str) -> dict[str, dict]:
    """Start the stage's pools as the stage does (``first`` before the others, whose
    workers are then forked), then call each function once."""
    pools = FunctionPools(new_id=lambda: "request")
    try:
        await pools.start(functions, settings(), {first})
        await pools.prewarm_rest({first})
        return {name: await pools.invoke(name, {}) for name in functions}
    finally:
        await pools.close()


async def test_the_functions_after_the_first_are_forked_by_one_shared_server(tmp_path):
    functions = {
        name: chat_like(name, write_function(tmp_path, name.lower()))
        for name in ("One", "Two", "Three")
    }
    seen = await first_calls(functions, "One")
    assert seen["One"]["parent"] == os.getpid()  # the first shows the libraries to load
    assert seen["Two"]["parent"] == seen["Three"]["parent"] != os.getpid()


async def test_a_fork_sees_its_own_functions_variables_and_no_other(tmp_path):
    functions = {
        "One": chat_like("One", write_function(tmp_path, "one"), ONLY_ONE="1", SHARED="one"),
        "Two": chat_like("Two", write_function(tmp_path, "two"), ONLY_TWO="2", SHARED="two"),
        "Three": chat_like("Three", write_function(tmp_path, "three"), SHARED="three"),
    }
    seen = await first_calls(functions, "One")
    two, three = seen["Two"]["environment"], seen["Three"]["environment"]
    assert seen["Two"]["parent"] == seen["Three"]["parent"]
    assert two["ONLY_TWO"] == "2" and two["SHARED"] == "two" and "ONLY_ONE" not in two
    assert three["SHARED"] == "three" and "ONLY_TWO" not in three
    assert two["AWS_LAMBDA_FUNCTION_NAME"] == "two" and three["_HANDLER"] == "app.handler"
    assert "WSLOCAL_LIFELINE" not in two


async def test_a_fork_imports_its_own_code_and_no_other_functions(tmp_path):
    functions = {
        name: chat_like(name, write_function(tmp_path, name.lower()))
        for name in ("One", "Two", "Three")
    }
    seen = await first_calls(functions, "One")
    for name, other in (("Two", "three"), ("Three", "two")):
        code = str(tmp_path / name.lower())
        assert seen[name]["app"] == os.path.join(code, "app.py")
        assert seen[name]["path0"] == seen[name]["cwd"] == code
        assert f"{name.lower()}_helper" in seen[name]["modules"]
        assert "one_helper" not in seen[name]["modules"]
        assert f"{other}_helper" not in seen[name]["modules"]


async def test_the_libraries_objects_are_frozen_so_a_forks_collections_leave_them_shared(
    tmp_path,
):
    functions = {
        name: chat_like(name, write_function(tmp_path, name.lower())) for name in ("One", "Two")
    }
    seen = await first_calls(functions, "One")
    assert seen["One"]["frozen"] == 0  # started on its own: nothing shared to keep
    assert seen["Two"]["frozen"] > 0


async def test_a_function_whose_variable_a_library_reads_at_import_differs_gets_its_own_server(
    tmp_path,
):
    libraries = tmp_path / "libraries"
    libraries.mkdir()
    (libraries / "moody.py").write_text("import os\nMODE = os.environ.get('MODE')\n")
    path = {"PYTHONPATH": str(libraries)}
    functions = {
        "One": chat_like("One", write_function(tmp_path, "one", "moody"), MODE="calm", **path),
        "Two": chat_like("Two", write_function(tmp_path, "two", "moody"), MODE="calm", **path),
        "Three": chat_like(
            "Three", write_function(tmp_path, "three", "moody"), MODE="angry", **path
        ),
    }
    seen = await first_calls(functions, "One")
    assert seen["Two"]["mode"] == "calm" and seen["Three"]["mode"] == "angry"
    assert seen["Two"]["parent"] != seen["Three"]["parent"]
    assert os.getpid() not in (seen["Two"]["parent"], seen["Three"]["parent"])


async def test_the_first_functions_idle_worker_is_replaced_by_a_fork_of_the_shared_server(
    tmp_path,
):
    functions = {
        name: chat_like(name, write_function(tmp_path, name.lower())) for name in ("One", "Two")
    }
    now = time.monotonic()
    pools = FunctionPools(new_id=lambda: "request", idle_worker_s=60, clock=lambda: now)
    try:
        await pools.start(functions, settings(), {"One"})
        await pools.prewarm_rest({"One"})
        own = await pools.invoke("One", {})
        now = time.monotonic() + 61
        await pools.reap_idle()
        one, two = await pools.invoke("One", {}), await pools.invoke("Two", {})
        assert own["parent"] == os.getpid() and one["pid"] != own["pid"]
        assert one["parent"] == two["parent"] != os.getpid()
        assert one["environment"]["AWS_LAMBDA_FUNCTION_NAME"] == "one"
    finally:
        await pools.close()


async def test_an_edit_of_a_functions_code_reaches_its_next_fork(tmp_path):
    functions = {
        name: chat_like(name, write_function(tmp_path, name.lower())) for name in ("One", "Two")
    }
    pools = FunctionPools(new_id=lambda: "request")
    try:
        await pools.start(functions, settings(), {"One"})
        await pools.prewarm_rest({"One"})
        (tmp_path / "two" / "app.py").write_text("def handler(event, context):\n    return 'new'\n")
        await pools.reload("Two")
        assert await asyncio.wait_for(pools.invoke("Two", {}), 30) == "new"
        assert pools["Two"].forks == 2
    finally:
        await pools.close()


async def test_a_function_with_its_own_module_of_a_preloaded_name_imports_its_own(tmp_path):
    libraries = tmp_path / "libraries"
    libraries.mkdir()
    (libraries / "moody.py").write_text("MODE = 'shared'\n")
    path = {"PYTHONPATH": str(libraries)}
    own = write_function(tmp_path, "two", "moody")
    (own / "moody.py").write_text("MODE = 'own'\n")
    functions = {
        "One": chat_like("One", write_function(tmp_path, "one", "moody"), **path),
        "Two": chat_like("Two", own, **path),
        "Three": chat_like("Three", write_function(tmp_path, "three", "moody"), **path),
    }
    seen = await first_calls(functions, "One")
    assert seen["Two"]["mode"] == "own" and seen["Two"]["parent"] == os.getpid()
    assert seen["Three"]["mode"] == "shared" and seen["Three"]["parent"] != os.getpid()
