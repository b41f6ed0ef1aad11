"""What a function's build needs: its requirements, and a Python of its version."""

import sys
from pathlib import Path

import debugpy
import pytest

import wslocal
from wslocal.runtime.builds import (
    bootstrap_beside,
    debugger_libraries,
    declared_version,
    find_interpreter,
    pip_error,
    requirements_of,
)


def test_a_requirements_file_of_comments_only_needs_no_build(tmp_path):
    (tmp_path / "requirements.txt").write_text("# only the layer\n\n")
    assert requirements_of(tmp_path) is None


def test_a_requirements_file_naming_a_package_is_built(tmp_path):
    (tmp_path / "requirements.txt").write_text("# pinned\ntomli-w==1.2.0\n")
    assert requirements_of(tmp_path) == b"# pinned\ntomli-w==1.2.0\n"


def test_a_folder_without_requirements_needs_no_build(tmp_path):
    assert requirements_of(tmp_path) is None


def test_the_declared_version_is_read_from_the_runtime():
    assert declared_version("python3.13") == "3.13"


def test_this_interpreter_serves_its_own_version():
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert find_interpreter(version) == sys.executable


def test_a_version_nowhere_to_be_found_is_none(tmp_path):
    environ = {"PATH": str(tmp_path), "HOME": str(tmp_path)}
    assert find_interpreter("3.99", environ) is None


def test_a_failed_build_says_pips_error_not_the_warnings_before_it():
    stderr = "\n".join(
        [*(f"WARNING: Location 'file:///opt/simple/p{i}/' is ignored" for i in range(40)),
         "ERROR: Package 'tomli-w' requires a different Python: 3.8.18 not in '>=3.9'"]
    )  # fmt: skip
    assert (
        pip_error(stderr) == "Package 'tomli-w' requires a different Python: 3.8.18 not in '>=3.9'"
    )


def test_a_build_that_fails_without_an_error_line_says_what_pip_said_last():
    assert pip_error("WARNING: slow index\nTraceback ...\nOSError: disk full\n") == (
        "Traceback ...\nOSError: disk full"
    )


def test_the_stages_python_imports_debugpy_from_a_link_to_the_stages_own(tmp_path):
    folder = debugger_libraries(sys.executable, "3.11", tmp_path)
    assert (folder / "debugpy").resolve() == Path(debugpy.__file__).parent.resolve()


def test_another_python_that_can_import_the_stages_debugpy_gets_the_link_too(tmp_path):
    other = next(filter(None, (find_interpreter(v) for v in ("3.12", "3.13"))), None)
    if other is None:
        pytest.skip("no Python 3.12 or 3.13 here")
    version = "3.12" if "3.12" in other else "3.13"
    folder = debugger_libraries(other, version, tmp_path)
    assert folder.parent == tmp_path / "debugger" and (folder / "debugpy").is_symlink()


def test_another_pythons_build_gets_this_stages_bootstrap_even_if_its_old_link_is_dangling(
    tmp_path,
):
    # A boto3 build for another Python is shared by every checkout using the cache; an
    # older stage left a link to its own wslocal inside it, since moved away.
    built = tmp_path / "runtime" / "py3.8-x86_64"
    (built / "boto3").mkdir(parents=True)
    (built / "wslocal").symlink_to(tmp_path / "gone" / "wslocal")
    folder = bootstrap_beside(built, tmp_path)
    assert (folder / "boto3").resolve() == (built / "boto3").resolve()
    assert (folder / "wslocal").resolve() == Path(wslocal.__file__).parent.resolve()
