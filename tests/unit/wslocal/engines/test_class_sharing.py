"""DynamoDB Local's class-data archive: written once by one JVM, mapped by later starts,
and never in the way of a start (no cache, a JVM killed mid-write)."""

import os
import zipfile

from wslocal.engines.class_sharing import ARCHIVE, jars_only, shared_classes

MANIFEST = (
    "Manifest-Version: 1.0\r\n"
    "Main-Class: software.amazon.dynamodb.services.local.main.ServerRunner\r\n"
    "Class-Path: . log4j2.xml DynamoDBLocal_lib/a.jar DynamoDBLocal_lib/li\r\n"
    " bsqlite4java-linux-amd64.so DynamoDBLocal_lib/b.jar\r\n"
    "\r\n"
)


def put_jar(tmp_path):
    folder = tmp_path / "lib" / "dynamodb_local"
    (folder / "DynamoDBLocal_lib").mkdir(parents=True)
    jar = folder / "DynamoDBLocal.jar"
    with zipfile.ZipFile(jar, "w") as archive:
        archive.writestr("META-INF/MANIFEST.MF", MANIFEST)
        archive.writestr("Main.class", b"\xca\xfe\xba\xbe")
    java = tmp_path / "jdk" / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_bytes(b"java")
    return jar, java


def test_the_class_path_keeps_only_the_jars_folded_at_72_bytes():
    manifest = jars_only(MANIFEST)
    unfolded = manifest.replace("\r\n ", "")
    assert "Class-Path: DynamoDBLocal_lib/a.jar DynamoDBLocal_lib/b.jar\r\n" in unfolded
    assert all(len(line) <= 72 for line in manifest.split("\r\n"))
    assert manifest.startswith("Manifest-Version: 1.0\r\nMain-Class: ")


def test_the_first_start_runs_a_copy_that_writes_the_archive_at_exit(tmp_path):
    jar, java = put_jar(tmp_path)
    classes = shared_classes(jar, java, tmp_path / "cache")
    assert classes.pending is not None
    assert f"-XX:ArchiveClassesAtExit={classes.pending}" in classes.options
    with zipfile.ZipFile(classes.jar) as copy:
        assert copy.read("Main.class") == b"\xca\xfe\xba\xbe"
        assert "Class-Path: DynamoDBLocal_lib/a.jar" in copy.read("META-INF/MANIFEST.MF").decode()
    assert (classes.jar.parent / "DynamoDBLocal_lib").resolve() == jar.parent / "DynamoDBLocal_lib"


def test_while_one_jvm_writes_the_archive_another_starts_without_it(tmp_path):
    jar, java = put_jar(tmp_path)
    shared_classes(jar, java, tmp_path / "cache")
    second = shared_classes(jar, java, tmp_path / "cache")
    assert (second.jar, second.options, second.pending) == (jar, (), None)


def test_an_archive_written_by_a_jvm_that_exited_is_mapped_by_the_next_start(tmp_path):
    jar, java = put_jar(tmp_path)
    first = shared_classes(jar, java, tmp_path / "cache")
    assert first.pending is not None
    first.pending.write_bytes(b"classes")
    first.keep(143)  # SIGTERM's exit, the archive written
    later = shared_classes(jar, java, tmp_path / "cache")
    assert f"-XX:SharedArchiveFile={first.jar.parent / ARCHIVE}" in later.options
    assert later.pending is None


def test_an_archive_of_a_killed_jvm_is_dropped_and_written_again_next_time(tmp_path):
    jar, java = put_jar(tmp_path)
    first = shared_classes(jar, java, tmp_path / "cache")
    assert first.pending is not None
    first.pending.write_bytes(b"half")
    first.keep(-9)
    assert not (first.jar.parent / ARCHIVE).exists()
    assert shared_classes(jar, java, tmp_path / "cache").pending is not None


def test_a_cache_that_cannot_be_written_leaves_the_jvm_as_it_was(tmp_path):
    jar, java = put_jar(tmp_path)
    (tmp_path / "cache").write_text("a file, not a folder")
    classes = shared_classes(jar, java, tmp_path / "cache")
    assert (classes.jar, classes.options) == (jar, ())


def test_a_writer_whose_stage_died_is_replaced_and_its_half_archive_removed(tmp_path):
    jar, java = put_jar(tmp_path)
    first = shared_classes(jar, java, tmp_path / "cache")
    assert first.pending is not None and first.lock is not None
    first.pending.write_bytes(b"half")
    os.close(first.lock)  # its stage died: the kernel lets the lock go
    second = shared_classes(jar, java, tmp_path / "cache")
    assert second.pending is not None and second.pending != first.pending
    assert not first.pending.exists()
