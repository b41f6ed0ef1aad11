import resource
import subprocess
import sys

import pytest

from wslocal.runtime.open_files import (
    LAMBDA_OPEN_FILES,
    keep_lambda_limit,
    raise_open_files_limit,
)


def test_the_stage_raises_its_soft_limit_to_the_hard_one():
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)

    raised = raise_open_files_limit()

    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == raised
    if hard != resource.RLIM_INFINITY:
        assert raised == hard


@pytest.mark.skipif(not hasattr(resource, "prlimit"), reason="prlimit is Linux's")
def test_a_worker_keeps_lambdas_limit_of_1024_descriptors():
    raise_open_files_limit()
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        keep_lambda_limit(worker.pid)

        soft, _ = resource.prlimit(worker.pid, resource.RLIMIT_NOFILE)
        assert soft == min(LAMBDA_OPEN_FILES, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
    finally:
        worker.kill()
        worker.wait()
