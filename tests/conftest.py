"""Fixtures every layer of the suite shares, and the check that the suite leaves no
process of the stage running."""

import os
import uuid

import pytest

from tests.support.processes import kill_all, stage_processes_of, still_running

# Every process the tests start inherits it (workers excepted: they get Lambda's
# environment, and are found by ancestry), so one left over is found even orphaned.
SESSION_VARIABLE = "WSLOCAL_TEST_SESSION"
os.environ[SESSION_VARIABLE] = uuid.uuid4().hex
LEFT_OVER_GRACE_S = 10.0

# boto3 must never reach a real AWS account from the tests.
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_REGION", "us-east-1")
for _name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
    os.environ[_name] = "testing"
os.environ.pop("AWS_PROFILE", None)
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "ServerlessChatTests")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "chat")


@pytest.fixture
def aws_region() -> str:
    return "us-east-1"


@pytest.fixture
def chat_tables(aws_region: str):
    """The template's tables in moto: ``.connections`` and ``.messages`` boto3 Tables."""
    from types import SimpleNamespace

    import boto3
    from moto import mock_aws

    from tests.support.tables import create_chat_tables

    with mock_aws():
        names = create_chat_tables(boto3.client("dynamodb", region_name=aws_region))
        resource = boto3.resource("dynamodb", region_name=aws_region)
        yield SimpleNamespace(
            connections=resource.Table(names["ConnectionsTable"]),
            messages=resource.Table(names["MessagesTable"]),
            names=names,
        )


@pytest.fixture(scope="session")
def dynamodb_local():
    """Amazon DynamoDB Local, from the npm package, in memory, for the whole session."""
    import shutil

    from tests.support.paths import ROOT
    from wslocal.engines.dynamodb import find_dynamodb_local_jar, start_dynamodb_local

    jar = find_dynamodb_local_jar(ROOT)
    assert jar is not None, "DynamoDB Local is missing: run `npm ci` (make test does)"
    assert shutil.which("java"), "DynamoDB Local needs java"
    engine = start_dynamodb_local(jar, region="us-east-1")
    yield engine
    engine.stop()


@pytest.fixture
def room() -> str:
    """A fresh room per test, so tests sharing a stage never hear each other."""
    import uuid

    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def moto_server_url():
    """moto's server in this process, on a free port: handlers post to its Management API
    over real HTTP (the layer's keep-alive client is not botocore, so moto's mock cannot
    intercept it); what it receives lands in the backends the mock's tests read."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def pytest_sessionfinish(session, exitstatus):
    """Fail the run when a moto server, DynamoDB Local, a worker or a ``wslocal start``
    the tests started still runs once they are done (given a few seconds to end), name
    each, and kill them so that nothing outlives the run."""
    marker = f"{SESSION_VARIABLE}={os.environ[SESSION_VARIABLE]}"
    found = stage_processes_of(marker, os.getpid())
    left = still_running(list(found), timeout=LEFT_OVER_GRACE_S)
    if not left:
        return
    kill_all(left)
    lines = [f"  {pid}: {found[pid][:160]}" for pid in left]
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    message = "\n".join(
        ["processes the tests started were still running at the end (now killed):", *lines]
    )
    if reporter is not None:
        reporter.write_sep("!", "processes left behind", red=True, bold=True)
        reporter.write_line(message)
    else:
        print(message)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
