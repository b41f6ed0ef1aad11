"""Children bound to the lifeline end with the process that started them, whatever ends
it, and are otherwise the programs themselves."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.support.processes import children_of, running, still_running
from wslocal import lifeline

STAGE = textwrap.dedent(
    """
    import os, subprocess, sys, threading, time
    from wslocal import lifeline

    def start():
        if sys.argv[1] == "bound":
            line, fds = lifeline.bound(["sleep", "60"])
            env = None
        else:
            variable, fds = lifeline.inherited()
            line = [sys.executable, "-c",
                    "from wslocal import lifeline; import time; lifeline.watch(); time.sleep(60)"]
            env = {**os.environ, **variable}
        child = subprocess.Popen(line, pass_fds=fds, env=env, start_new_session=True)
        print(child.pid, flush=True)

    # started from a thread that ends at once, as the stage starts its engines
    thread = threading.Thread(target=start)
    thread.start()
    thread.join()
    time.sleep(60)
    """
)


@pytest.fixture
def stage():
    """A process standing for the stage: it starts one child, says its pid, and waits."""
    started = []

    def start(kind):
        process = subprocess.Popen(
            [sys.executable, "-c", STAGE, kind], stdout=subprocess.PIPE, text=True
        )
        started.append(process)
        return process, int(process.stdout.readline())

    yield start
    for process in started:
        process.kill()
        process.wait()


@pytest.mark.parametrize("kind", ["bound", "watching"])
def test_a_child_ends_when_the_stage_is_killed(stage, kind):
    # GIVEN a child started from a thread that has already ended
    process, child = stage(kind)
    assert running(child)
    # WHEN the stage is killed with SIGKILL
    process.kill()
    process.wait()
    # THEN its child ends too
    assert still_running([child], timeout=10) == []


def test_a_bound_program_is_the_child_itself():
    line, fds = lifeline.bound(["sh", "-c", "echo $0; exit 3", "hello"])
    done = subprocess.run(line, pass_fds=fds, capture_output=True, text=True, timeout=10)
    assert (done.returncode, done.stdout) == (3, "hello\n")


def test_a_bound_program_gets_the_signals_sent_to_it():
    line, fds = lifeline.bound(["sleep", "60"])
    process = subprocess.Popen(line, pass_fds=fds)
    try:
        os.kill(process.pid, signal.SIGTERM)
        assert process.wait(timeout=10) == -signal.SIGTERM
    finally:
        process.kill()


def test_a_bound_program_leads_its_process_group_so_its_own_children_end_with_it():
    line, fds = lifeline.bound(["sleep", "60"])
    process = subprocess.Popen(line, pass_fds=fds)
    try:
        deadline = time.monotonic() + 10
        while os.getpgid(process.pid) != process.pid and time.monotonic() < deadline:
            time.sleep(0.05)
        assert os.getpgid(process.pid) == process.pid != os.getpgid(0)
    finally:
        process.kill()
        process.wait()


def test_a_lifeline_a_child_made_non_blocking_is_not_taken_for_the_stages_end():
    # GIVEN the lifeline's read end made non-blocking, as a Node worker's stream makes the
    # description it shares with every other child
    line, fds = lifeline.bound(["sleep", "60"])
    os.set_blocking(fds[0], False)
    process = subprocess.Popen(line, pass_fds=fds)
    try:
        # THEN its bound program runs on (its watcher once read "nothing yet" as the end)
        with pytest.raises(subprocess.TimeoutExpired):
            process.wait(timeout=2)
    finally:
        os.set_blocking(fds[0], True)
        process.kill()
        process.wait()


def test_the_watcher_ends_with_its_program():
    line, fds = lifeline.bound(["sleep", "60"])
    process = subprocess.Popen(line, pass_fds=fds, start_new_session=True)
    try:
        watchers = []
        for _ in range(50):
            watchers = children_of(process.pid)
            if watchers:
                break
            time.sleep(0.1)
        assert len(watchers) == 1
        process.terminate()
        process.wait(timeout=10)
        assert still_running(watchers, timeout=10) == []
    finally:
        process.kill()


def test_a_program_that_is_not_there_is_not_found():
    with pytest.raises(FileNotFoundError):
        lifeline.bound(["no-such-program-here"])


def test_a_process_given_no_lifeline_watches_nothing(monkeypatch):
    monkeypatch.delenv(lifeline.VARIABLE, raising=False)
    lifeline.watch()
    assert lifeline.inherited_fd() is None


def test_a_watching_child_keeps_the_variable_from_its_handlers():
    variable, fds = lifeline.inherited()
    code = "import os; from wslocal import lifeline; lifeline.watch(); print(dict(os.environ))"
    done = subprocess.run(
        [sys.executable, "-c", code],
        pass_fds=fds,
        env={**os.environ, **variable},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0 and lifeline.VARIABLE not in done.stdout


def test_a_worker_importing_the_bootstrap_does_not_import_shutil():
    # a worker's cold start imports the lifeline; shutil (and bz2, lzma with it, about
    # 4 ms) is for bound(), which only the stage calls
    code = (
        "import sys, wslocal.runtime.bootstrap; print(sorted({'shutil', 'bz2'} & set(sys.modules)))"
    )
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run(
        [sys.executable, "-S", "-c", code],
        env={"PYTHONPATH": str(root), "PATH": os.environ.get("PATH", "")},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (done.returncode, done.stdout) == (0, "[]\n"), done.stderr
