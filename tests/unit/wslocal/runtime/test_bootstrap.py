import io

from wslocal.runtime.bootstrap import redirect_endpoint

HOSTS = {"127.0.0.1:3001", "abcdefghij.execute-api.us-east-1.amazonaws.com"}


def test_the_deployed_endpoint_is_pointed_at_the_local_stage():
    assert (
        redirect_endpoint(
            "https://abcdefghij.execute-api.us-east-1.amazonaws.com/dev",
            HOSTS,
            "http://127.0.0.1:3001",
        )
        == "http://127.0.0.1:3001/dev"
    )


def test_an_endpoint_built_from_the_events_domain_name_is_pointed_at_the_stage():
    assert redirect_endpoint("https://127.0.0.1:3001/local", HOSTS, "http://127.0.0.1:3001") == (
        "http://127.0.0.1:3001/local"
    )


def test_other_endpoints_are_left_alone():
    assert (
        redirect_endpoint("https://example.com/x", HOSTS, "http://127.0.0.1:3001")
        == "https://example.com/x"
    )
    assert redirect_endpoint(None, HOSTS, "http://127.0.0.1:3001") is None


PROBE = """
import os
from botocore import UNSIGNED
import boto3
from wslocal.runtime.bootstrap import install_endpoint_redirect
install_endpoint_redirect()
deployed = boto3.client("apigatewaymanagementapi", region_name="us-east-1",
    endpoint_url="https://abcdefghij.execute-api.us-east-1.amazonaws.com/dev")
from_variable = boto3.client("apigatewaymanagementapi", region_name="us-east-1")
elsewhere = boto3.client("apigatewaymanagementapi", region_name="us-east-1",
    endpoint_url="https://example.com/dev")
for client in (deployed, from_variable, elsewhere):
    print(client.meta.endpoint_url, client.meta.config.signature_version is UNSIGNED)
"""


def test_clients_for_the_stage_are_redirected_and_unsigned_others_untouched():
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "WSLOCAL_REDIRECT_HOSTS": ",".join(sorted(HOSTS)),
        "WSLOCAL_REDIRECT_TO": "http://127.0.0.1:3001",
        "AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI": "http://127.0.0.1:3001/local",
    }
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, check=True
    )
    assert result.stdout.splitlines() == [
        "http://127.0.0.1:3001/dev True",
        "http://127.0.0.1:3001/local True",
        "https://example.com/dev False",
    ]


class RecordedWrites:
    def __init__(self) -> None:
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return len(text)

    def flush(self) -> None:
        pass


def test_runtime_lines_logged_together_go_out_in_one_write_each_with_the_prefix(monkeypatch):
    from wslocal.runtime import bootstrap

    stdout = RecordedWrites()
    monkeypatch.setattr(bootstrap.sys, "stdout", stdout)
    bootstrap._log("END RequestId: r1", "REPORT RequestId: r1\tDuration: 1.00 ms", prefix="[Fn] ")
    assert stdout.writes == [
        "[Fn] END RequestId: r1\n[Fn] REPORT RequestId: r1\tDuration: 1.00 ms\n"
    ]


def test_a_runtime_line_without_a_prefix_given_takes_the_stages_from_the_environment(monkeypatch):
    from wslocal.runtime import bootstrap

    stdout = RecordedWrites()
    monkeypatch.setattr(bootstrap.sys, "stdout", stdout)
    monkeypatch.setenv(bootstrap.LOG_PREFIX, "[Other] ")
    bootstrap._log("waiting for a debugger to attach")
    assert stdout.writes == ["[Other] waiting for a debugger to attach\n"]


class RecordedRawWrites(io.RawIOBase):
    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.writes.append(bytes(data))
        return len(data)


def unbuffered_text(raw: io.RawIOBase) -> io.TextIOWrapper:
    """A text stream as PYTHONUNBUFFERED makes stdout: every write goes through at once."""
    return io.TextIOWrapper(raw, encoding="utf-8", write_through=True)  # type: ignore[arg-type]


def test_a_printed_line_reaches_the_shared_pipe_in_one_write():
    from wslocal.runtime.bootstrap import write_whole_lines

    raw = RecordedRawWrites()
    stream = unbuffered_text(raw)
    write_whole_lines(stream)
    print('{"_aws": {}}', file=stream)
    assert raw.writes == [b'{"_aws": {}}\n']


def test_text_without_a_newline_goes_out_with_the_next_line():
    from wslocal.runtime.bootstrap import write_whole_lines

    raw = RecordedRawWrites()
    stream = unbuffered_text(raw)
    write_whole_lines(stream)
    stream.write("progress: ")
    assert raw.writes == []
    stream.write("[Fn] END RequestId: r1\n")
    assert raw.writes == [b"progress: [Fn] END RequestId: r1\n"]
