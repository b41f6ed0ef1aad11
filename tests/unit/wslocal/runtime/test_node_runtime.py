"""Which Node runs a function, and what the user is told about it."""

import pytest

from wslocal.runtime.builds import BuildError
from wslocal.runtime.node import runtime
from wslocal.runtime.node.runtime import declared_major, version_notes
from wslocal.template import FunctionModel, StageModel


def test_the_declared_major_version_is_read():
    assert declared_major("nodejs22.x") == 22
    assert declared_major("nodejs") is None


def test_a_supported_runtime_on_its_own_major_needs_no_note():
    assert version_notes("nodejs20.x", "20.20.2") == []


def test_another_supported_major_runs_on_the_installed_node_with_a_note():
    assert version_notes("nodejs22.x", "20.20.2") == [
        "declares nodejs22.x: runs on the installed Node 20.20.2"
    ]


def test_a_retired_runtime_runs_on_the_installed_node_with_a_warning():
    assert version_notes("nodejs14.x", "20.20.2") == [
        "declares nodejs14.x, which Lambda no longer runs: runs on Node 20.20.2"
    ]


def test_a_template_with_node_functions_and_no_node_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(runtime, "find_node", lambda: None)
    function = FunctionModel(
        logical_id="Chat", function_name="chat", code_dir=tmp_path, handler="app.handler",
        runtime="nodejs20.x", timeout=3.0, memory_size=128, environment={}, layer_dirs=(),
    )  # fmt: skip
    model = stage({"Chat": function})
    with pytest.raises(
        BuildError, match=r"Chat: Node\.js functions, and there is no `node` on PATH"
    ):
        runtime.prepare(model, tmp_path)


def test_a_template_without_node_functions_needs_no_node(monkeypatch, tmp_path):
    monkeypatch.setattr(runtime, "find_node", lambda: None)
    assert runtime.prepare(stage({}), tmp_path) == {}


def stage(functions):
    return StageModel(
        api_logical_id=None, api_id=None, stage_name=None, route_selection_expression="",
        routes={}, functions=functions, tables=(), region="us-east-1", account_id="1",
    )  # fmt: skip
