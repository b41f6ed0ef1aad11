"""The banner's lines that say what the stage does with a template's parts: event
sources with their settings, functions under a debugger, which runtime each function runs on."""

import asyncio
from dataclasses import replace
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.support.paths import FIXTURES
from wslocal.banner import (
    debug_lines,
    describe_queue_source,
    describe_stream_source,
    loop_line,
    runtime_lines,
)
from wslocal.runtime.builds import FunctionRuntime
from wslocal.runtime.languages import Debugging
from wslocal.runtime.node.runtime import NodeRuntime
from wslocal.template import StageModel, build_stage_model, read_template


def model(app: str) -> StageModel:
    return build_stage_model(read_template(FIXTURES / app / "template.yaml"), FIXTURES / app)


def test_a_stream_source_is_described_with_its_table_function_and_settings():
    orders = model("orders_app")
    source = orders.stream_sources[0]
    assert describe_stream_source(source, "shop-orders") == (
        "shop-orders stream -> Fulfil (batch 10, window 0 s, TRIM_HORIZON, retries 1, "
        "bisect, item failures, on failure SQS FailedOrders, 2 filters)"
    )


def test_a_queue_source_is_described_with_its_concurrency_and_dead_letter_queue():
    jobs = model("jobs_app")
    assert describe_queue_source(jobs.queue_sources[0], jobs, pool_size=8) == (
        "jobs-to-do queue -> Work (batch 5, window 1 s, concurrency 2, visibility 2 s, "
        "item failures, DLQ DeadJobs after 2 receives, 1 filter)"
    )


def test_a_disabled_source_says_so_and_what_is_not_emulated_of_it():
    jobs, orders = model("jobs_app"), model("orders_app")
    queue = replace(jobs.queue_sources[0], enabled=False, not_emulated=("MetricsConfig",))
    stream = replace(orders.stream_sources[0], enabled=False, not_emulated=("MetricsConfig",))
    for line in (describe_queue_source(queue, jobs, 8), describe_stream_source(stream, "t")):
        assert line.endswith("filter, DISABLED, not emulated: MetricsConfig)") or line.endswith(
            "filters, DISABLED, not emulated: MetricsConfig)"
        ), line


def test_a_debugged_function_says_where_to_attach_and_that_its_timeout_is_suspended():
    jobs = model("jobs_app")
    [line] = debug_lines(jobs, {"Work": Debugging(port=5678)})
    assert line == (
        "  Debug         Work: debugpy listens on 127.0.0.1:5678; one worker, its Timeout "
        "suspended while debugging"
    )


def test_a_debugged_function_that_waits_says_its_first_call_waits():
    jobs = model("jobs_app")
    [line] = debug_lines(jobs, {"Work": Debugging(port=5678, wait=True)})
    assert "its first call waits for a client" in line


def test_no_debugged_function_no_debug_line():
    assert debug_lines(model("jobs_app"), {}) == []


def test_a_debugged_node_function_says_the_inspector_listens():
    [line] = debug_lines(model("debug_node_app"), {"GreetNodeFunction": Debugging(port=9229)})
    assert line.startswith(
        "  Debug         GreetNodeFunction: the Node inspector listens on 127.0.0.1:9229; "
    )


def test_each_runtime_says_its_language_interpreter_and_packages_once():
    python = FunctionRuntime("/py", "3.13", ())
    node = NodeRuntime("/node", "22.1.0", Path("/sdk"), Path("/cache"), ("declares nodejs20.x",))
    runtimes = {"A": python, "B": node, "C": python}
    assert runtime_lines(["A", "B", "C"], runtimes) == [
        "  Python        python3.13 (/py): A, C",
        "  Node.js       Node.js 22.1.0 (/node): B",
        f"  Packages      Python: {FunctionRuntime.packages}",
        f"  Packages      Node.js: {NodeRuntime.packages}",
        "  Note: B declares nodejs20.x",
    ]


def test_python_functions_without_a_built_runtime_run_on_the_stages_interpreter():
    [line] = runtime_lines(["A"], {})
    assert line.startswith("  Python        every Python function on this interpreter")


def test_the_loop_line_names_uvloop_and_its_version():
    uvloop = pytest.importorskip("uvloop")
    loop = uvloop.new_event_loop()
    try:
        assert loop_line(loop) == (
            f"  Event loop    uvloop {version('uvloop')}; --loop asyncio for asyncio's"
        )
    finally:
        loop.close()


def test_the_loop_line_names_asyncios_loop():
    loop = asyncio.new_event_loop()
    try:
        assert loop_line(loop).startswith("  Event loop    asyncio's")
    finally:
        loop.close()
