"""The fork server's own rules, on any Python a function may declare (3.8 too): exit
codes, the variables a preload read, the environment a fork takes."""

import json
import os
import subprocess
import sys

import pytest

from tests.support.paths import ROOT
from wslocal.runtime.forkserver import exit_code, recording_reads


@pytest.mark.parametrize(
    "command",
    ["raise SystemExit(3)", "import os, signal; os.kill(os.getpid(), signal.SIGTERM)", "pass"],
)
def test_a_forks_exit_code_is_read_as_the_standard_library_reads_it(command):
    status = subprocess.run([sys.executable, "-c", command], check=False).returncode
    pid = os.fork()
    if pid == 0:  # a child that ends as the command did, for a real wait status
        if status < 0:
            os.kill(os.getpid(), -status)
        os._exit(status)
    _, wait_status = os.waitpid(pid, 0)
    assert exit_code(wait_status) == os.waitstatus_to_exitcode(wait_status) == status


def test_the_variables_read_through_the_environment_are_noted():
    with recording_reads() as reads:
        os.getenv("WSLOCAL_TEST_UNSET")
        "WSLOCAL_TEST_IN" in os.environ  # noqa: B015 (a read, as a library's check is)
        os.environ.get("PATH")
    assert reads.names == {"WSLOCAL_TEST_UNSET", "WSLOCAL_TEST_IN", "PATH"}
    assert not reads.scanned


def test_a_copy_of_the_environment_is_a_scan_not_a_read_of_each_variable():
    with recording_reads() as reads:
        os.environ.copy()
    assert reads.scanned and reads.names == set()


def test_recording_ends_with_the_block():
    with recording_reads() as reads:
        pass
    os.getenv("PATH")
    assert reads.names == set() and type(os.environ) is os._Environ


ENTER = """
import json, os, sys
from wslocal.runtime.forkserver import enter_function
enter_function({"LAMBDA_TASK_ROOT": sys.argv[1], "ONLY": "mine"}, 7)
print(json.dumps([dict(os.environ), sys.path[0], os.getcwd()]))
"""


def test_a_fork_takes_its_functions_variables_only_and_its_code_folder(tmp_path):
    env = {**os.environ, "STAGE_SECRET": "not for handlers", "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "-c", ENTER, str(tmp_path)], env=env, capture_output=True, check=True
    )
    environment, first_path, cwd = json.loads(run.stdout)
    assert environment == {
        "LAMBDA_TASK_ROOT": str(tmp_path),
        "ONLY": "mine",
        "WSLOCAL_LIFELINE": "7",
    }
    assert first_path == cwd == str(tmp_path)
