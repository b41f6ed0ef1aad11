"""Each function runs with its own requirements.txt (built once, cached) and, when one is
here, on the Python it declares; nothing of wslocal's own packages leaks in."""

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from websockets.sync.client import connect

from tests.support.paths import FIXTURES
from tests.support.stage import RunningStage
from wslocal.runtime.builds import find_interpreter
from wslocal.server import StageConfig
from wslocal.template import build_stage_model, read_template

pytestmark = pytest.mark.integration

APP = FIXTURES / "deps_app"


@pytest.fixture(scope="module")
def report():
    model = build_stage_model(read_template(APP / "template.yaml"), APP)
    config = StageConfig(port=0, stage="dev", max_workers=1, build=True)
    with RunningStage(model, config) as stage, connect(stage.url, open_timeout=30) as ws:
        ws.send(json.dumps({"action": "report"}))
        yield json.loads(ws.recv(timeout=30)), stage


def test_a_package_of_the_functions_requirements_is_importable(report):
    body, _ = report
    assert body["tomli_w"] == "a = 1"


def test_boto3_is_there_as_in_lambdas_runtime(report):
    assert report[0]["boto3"] is True


def test_wslocals_own_packages_are_not(report):
    body, _ = report
    assert (body["yaml"], body["websockets"]) == (False, False)


def test_the_declared_python_runs_the_function_when_one_is_here(report):
    body, stage = report
    runtime = stage.stage.runtimes["Report"]
    if find_interpreter("3.13") is None:
        assert any("none found" in note for note in runtime.notes)
    else:
        assert body["python"] == "3.13" == runtime.version


PY38_APP = FIXTURES / "py38_app"


@pytest.fixture(scope="module")
def py38_stage():
    model = build_stage_model(read_template(PY38_APP / "template.yaml"), PY38_APP)
    config = StageConfig(port=0, stage="dev", max_workers=2, build=True)
    with RunningStage(model, config) as stage:
        yield stage


def _report(stage, sleep=0.0):
    with connect(stage.url, open_timeout=30) as ws:
        ws.send(json.dumps({"action": "report", "sleep": sleep}))
        return json.loads(ws.recv(timeout=60))


def test_a_python38_function_runs_with_a_boto3_that_38_imports(py38_stage):
    runtime = py38_stage.stage.runtimes["Report"]
    body = _report(py38_stage)
    if find_interpreter("3.8") is None:
        assert any("none found" in note for note in runtime.notes)
    else:
        assert (body["python"], body["tomli"], body["region"]) == ("3.8", 1, "us-east-1")


def test_a_python38_functions_second_worker_is_forked_and_answers(py38_stage):
    with ThreadPoolExecutor(2) as pool:
        bodies = list(pool.map(lambda _: _report(py38_stage, sleep=1.0), range(2)))
    assert [body["region"] for body in bodies] == ["us-east-1", "us-east-1"]
    assert len(py38_stage.worker_pids("Report")) == 2
