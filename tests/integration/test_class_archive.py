"""DynamoDB Local's class-data archive on a real JVM: written in the background by a JVM
of its own (a stop never waits for it), mapped by later starts only once a trial JVM
mapped it, and an archive that crashes or is refused by the JVM is replaced."""

import time

import pytest

from tests.support.paths import ROOT
from wslocal.cache import CACHE_VARIABLE
from wslocal.engines.class_sharing import ARCHIVE, REFUSED
from wslocal.engines.dynamodb import find_dynamodb_local_jar, start_dynamodb_local

pytestmark = pytest.mark.integration

WRITER_TIMEOUT_S = 180.0


@pytest.fixture
def jar(tmp_path, monkeypatch):
    """DynamoDB Local's jar, with a per-user cache of this test's own."""
    found = find_dynamodb_local_jar(ROOT)
    if found is None:
        pytest.skip("DynamoDB Local's jar is not installed (npm ci)")
    monkeypatch.setenv(CACHE_VARIABLE, str(tmp_path / "cache"))
    return found


def archives(tmp_path):
    return sorted(path.name for path in (tmp_path / "cache").rglob("*.jsa*"))


def written_archive(jar):
    """Start once, let the writer finish; return the archive's path."""
    with start_dynamodb_local(jar, "us-east-1") as engine:
        engine.write_class_archive("us-east-1")
        assert engine.writer is not None
        engine.writer.join(WRITER_TIMEOUT_S)
        assert engine.writer.kept
        assert engine.classes is not None and engine.classes.copy is not None
        return engine.classes.copy.parent / ARCHIVE


def test_the_archive_the_writer_kept_is_mapped_by_the_next_start(jar):
    archive = written_archive(jar)
    with start_dynamodb_local(jar, "us-east-1") as engine:
        assert engine.classes is not None and engine.classes.mapped == archive
        assert engine.log is not None and REFUSED not in engine.log.read_text()
        assert engine.classes.pending is None


def test_a_stop_does_not_wait_for_the_writer_and_leaves_no_dump(jar, tmp_path):
    with start_dynamodb_local(jar, "us-east-1") as engine:
        engine.write_class_archive("us-east-1")
        time.sleep(0.5)  # the writer's JVM is starting
    assert engine.writer is not None
    engine.writer.join(30)  # killed by the stop: its thread only cleans up
    assert engine.writer.kept is False
    assert archives(tmp_path) == ["classes.jsa.writing"]  # the lock's file: no dump kept
    with start_dynamodb_local(jar, "us-east-1") as again:
        assert again.classes is not None and again.classes.pending is not None  # its turn


def test_an_archive_cut_short_that_crashes_the_jvm_is_removed_and_written_again(jar, tmp_path):
    archive = written_archive(jar)
    archive.write_bytes(archive.read_bytes()[: 1 << 20])  # as a dump cut short would be
    with start_dynamodb_local(jar, "us-east-1") as engine:
        assert engine.exit_report() is None  # started again, without it
        assert not archive.exists()
        assert engine.classes is not None and engine.classes.pending is not None
