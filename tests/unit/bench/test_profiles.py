"""Whose code a profile's samples ran (bench/profiles.py): ours (wslocal, the chatroom
layer, the functions' handlers) or outside (the AWS SDK, Powertools, the SQS engine,
CPython, the kernel), by a sample's innermost frame, by its caller, or anywhere on its
stack."""

import os
from pathlib import Path

import pytest

from bench.profiles import (
    CPYTHON,
    ENDED_THREADS,
    KERNEL_OWNER,
    NO_PYTHON_FRAME,
    NOT_SAMPLED,
    OTHER_LIBRARIES,
    OURS,
    POWERTOOLS,
    SDK,
    SQS_ENGINE,
    OwnerMicros,
    ThreadsCpu,
    caller_owner,
    frame_owner,
    leaf_owner,
    ours_on_stack,
    owner_micros,
    thread_cpu_since,
    threads_cpu,
)

FUNCTIONS = Path(__file__).resolve().parents[3] / "functions"

HANDLER = "lambda_handler (app.py:40)"
LAYER = "ChatService.send (chatroom/service.py:88)"
STAGE = "WebSocketSession.send (wslocal/server/session.py:120)"
BOTOCORE = "BaseClient._make_api_call (botocore/client.py:990)"
JSON = "JSONEncoder.encode (json/encoder.py:200)"
SOCKET = "socket.sendall (socket.py:700)"


@pytest.mark.parametrize("frame", [STAGE, LAYER, HANDLER])
def test_the_stage_the_layer_and_a_handler_are_ours(frame: str) -> None:
    assert frame_owner(frame) == OURS


def test_every_module_of_the_functions_folders_is_ours() -> None:
    modules = [path.name for path in FUNCTIONS.glob("*/*.py")]
    assert modules
    assert {frame_owner(f"f ({module}:1)") for module in modules} == {OURS}


@pytest.mark.parametrize(
    "frame",
    [BOTOCORE, "f (boto3/dynamodb/types.py:1)", "f (urllib3/connection.py:1)",
     "HTTPResponse.begin (http/client.py:300)"],
)  # fmt: skip
def test_botocore_boto3_urllib3_and_http_client_are_the_sdks(frame: str) -> None:
    assert frame_owner(frame) == SDK


def test_powertools_is_its_own_owner() -> None:
    assert frame_owner("Logger.info (aws_lambda_powertools/logging/logger.py:1)") == POWERTOOLS


@pytest.mark.parametrize(
    "frame",
    ["f (moto/sqs/models.py:1)", "f (werkzeug/serving.py:1)", "f (flask/app.py:1)",
     "MotoRequestHandler.make_environ (werkzeug_app.py:50)"],
)  # fmt: skip
def test_moto_werkzeug_and_flask_are_the_sqs_engines(frame: str) -> None:
    assert frame_owner(frame) == SQS_ENGINE


@pytest.mark.parametrize(
    "frame", [JSON, SOCKET, "_run_module_as_main (<frozen runpy>:198)", NO_PYTHON_FRAME]
)
def test_the_stdlib_and_the_interpreter_are_cpythons(frame: str) -> None:
    assert frame_owner(frame) == CPYTHON


def test_another_library_is_named_as_such() -> None:
    assert frame_owner("Protocol.send (websockets/protocol.py:1)") == OTHER_LIBRARIES


def test_a_sample_counts_for_its_innermost_frames_owner() -> None:
    assert leaf_owner([STAGE, BOTOCORE]) == SDK


def test_by_caller_the_stdlib_counts_for_the_code_that_called_it() -> None:
    assert caller_owner([BOTOCORE, LAYER, JSON, SOCKET]) == OURS


def test_by_caller_a_stack_of_stdlib_alone_is_cpythons() -> None:
    assert caller_owner(["f (threading.py:1)", SOCKET]) == CPYTHON


def test_ours_on_stack_finds_our_frame_below_the_sdk() -> None:
    assert ours_on_stack([HANDLER, BOTOCORE, SOCKET])


def test_ours_on_stack_is_false_without_our_frame() -> None:
    assert not ours_on_stack(["f (threading.py:1)", BOTOCORE])


def test_user_time_is_shared_by_samples() -> None:
    shared = owner_micros([([LAYER], 3), ([LAYER, BOTOCORE], 1)], user=8.0, system=0.0)
    assert dict(shared.leaf) == {OURS: 6.0, SDK: 2.0}


def test_system_time_is_the_kernels() -> None:
    shared = owner_micros([([LAYER], 1)], user=1.0, system=5.0)
    assert shared.leaf[KERNEL_OWNER] == shared.caller[KERNEL_OWNER] == 5.0


def test_user_time_without_samples_is_not_sampled() -> None:
    assert dict(owner_micros([], user=2.0, system=0.0).leaf) == {NOT_SAMPLED: 2.0}


def test_ours_inclusive_counts_every_sample_with_our_frame() -> None:
    stacks = [([HANDLER, BOTOCORE], 1), ([BOTOCORE], 1), ([HANDLER], 2)]
    assert owner_micros(stacks, user=4.0, system=0.0).ours_inclusive == 3.0


def test_our_time_is_named_by_function_and_file_without_line() -> None:
    shared = owner_micros([([BOTOCORE, STAGE], 1)], user=1.0, system=0.0)
    assert dict(shared.ours_by_function) == {
        "WebSocketSession.send (wslocal/server/session.py)": 1.0
    }


def test_adding_shares_sums_each_owner() -> None:
    total = OwnerMicros()
    total.add(owner_micros([([LAYER], 1)], user=1.0, system=1.0))
    total.add(owner_micros([([BOTOCORE], 1)], user=2.0, system=1.0))
    assert (dict(total.leaf), total.ours_inclusive) == (
        {KERNEL_OWNER: 2.0, OURS: 1.0, SDK: 2.0},
        1.0,
    )


def test_threads_cpu_are_summed_by_kind_between_two_readings() -> None:
    before = ThreadsCpu(1.0, {1: ("compiler", 0.5), 2: ("compiler", 0.25), 3: ("sqlite", 0.25)})
    after = ThreadsCpu(2.0, {1: ("compiler", 1.0), 2: ("compiler", 0.5), 3: ("sqlite", 0.5)})
    assert thread_cpu_since(before, after) == {"compiler": 0.75, "sqlite": 0.25, ENDED_THREADS: 0.0}


def test_a_thread_that_ended_keeps_its_cpu_as_ended_threads() -> None:
    before = ThreadsCpu(1.0, {1: ("compiler", 0.75), 2: ("sqlite", 0.25)})
    after = ThreadsCpu(1.5, {2: ("sqlite", 0.5)})
    assert thread_cpu_since(before, after) == {"sqlite": 0.25, ENDED_THREADS: 0.25}


def test_a_thread_born_in_the_window_counts_all_its_cpu() -> None:
    before = ThreadsCpu(1.0, {1: ("sqlite", 1.0)})
    after = ThreadsCpu(1.5, {1: ("sqlite", 1.0), 7: ("compiler", 0.5)})
    assert thread_cpu_since(before, after) == {"sqlite": 0.0, "compiler": 0.5, ENDED_THREADS: 0.0}


def test_this_processs_threads_are_read_by_id_and_kind() -> None:
    reading = threads_cpu(os.getpid(), {"": "any"}, "none")
    assert os.getpid() in reading.threads
    assert {kind for kind, _ in reading.threads.values()} == {"any"}
    assert reading.process >= max(cpu for _, cpu in reading.threads.values())
