"""The fork server's own rules, on any Python a function may declare (3.8 too)."""

import os
import subprocess
import sys

import pytest

from wslocal.runtime.forkserver import exit_code


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
