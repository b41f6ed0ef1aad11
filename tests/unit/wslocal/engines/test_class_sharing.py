"""DynamoDB Local's class-data archive: written once by one writer JVM, kept only once a
trial JVM mapped it, mapped by later starts, removed when the JVM refuses it, and never in
the way of a start (no cache, a dump cut short)."""

import os
import zipfile

from wslocal.engines.class_sharing import ARCHIVE, REFUSED, jars_only, shared_classes

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


def kept_archive(jar, java, cache):
    """The first stage's ``SharedClasses``, its archive written and mapped by a trial JVM."""
    first = shared_classes(jar, java, cache)
    assert first.pending is not None
    first.pending.write_bytes(b"classes")
    first.keep(mapped_by_trial=True)
    return first


def test_the_class_path_keeps_only_the_jars_folded_at_72_bytes():
    manifest = jars_only(MANIFEST)
    unfolded = manifest.replace("\r\n ", "")
    assert "Class-Path: DynamoDBLocal_lib/a.jar DynamoDBLocal_lib/b.jar\r\n" in unfolded
    assert all(len(line) <= 72 for line in manifest.split("\r\n"))
    assert manifest.startswith("Manifest-Version: 1.0\r\nMain-Class: ")


def test_the_first_start_runs_the_jar_as_it_is_and_a_copy_is_made_for_the_writer(tmp_path):
    jar, java = put_jar(tmp_path)
    classes = shared_classes(jar, java, tmp_path / "cache")
    assert (classes.jar, classes.options, classes.mapped) == (jar, (), None)
    assert classes.pending is not None and classes.copy is not None
    assert f"-XX:ArchiveClassesAtExit={classes.pending}" in classes.writing_options()
    with zipfile.ZipFile(classes.copy) as copy:
        assert copy.read("Main.class") == b"\xca\xfe\xba\xbe"
        assert "Class-Path: DynamoDBLocal_lib/a.jar" in copy.read("META-INF/MANIFEST.MF").decode()
    assert (classes.copy.parent / "DynamoDBLocal_lib").resolve() == jar.parent / "DynamoDBLocal_lib"


def test_a_trial_jvm_must_map_the_dump_or_fail(tmp_path):
    jar, java = put_jar(tmp_path)
    classes = shared_classes(jar, java, tmp_path / "cache")
    assert "-Xshare:on" in classes.trial_options()
    assert f"-XX:SharedArchiveFile={classes.pending}" in classes.trial_options()


def test_while_one_stage_writes_the_archive_another_starts_without_it(tmp_path):
    jar, java = put_jar(tmp_path)
    shared_classes(jar, java, tmp_path / "cache")
    second = shared_classes(jar, java, tmp_path / "cache")
    assert (second.jar, second.options, second.pending) == (jar, (), None)


def test_a_dump_a_trial_jvm_mapped_is_mapped_by_the_next_start(tmp_path):
    jar, java = put_jar(tmp_path)
    first = shared_classes(jar, java, tmp_path / "cache")
    assert first.pending is not None
    first.pending.write_bytes(b"classes")
    assert first.keep(mapped_by_trial=True)
    later = shared_classes(jar, java, tmp_path / "cache")
    archive = first.pending.with_name(ARCHIVE)
    assert f"-XX:SharedArchiveFile={archive}" in later.options
    assert (later.jar, later.mapped, later.pending) == (first.copy, archive, None)


def test_a_dump_cut_short_is_dropped_and_written_again_by_the_next_start(tmp_path):
    jar, java = put_jar(tmp_path)
    first = shared_classes(jar, java, tmp_path / "cache")
    assert first.pending is not None
    first.pending.write_bytes(b"half")
    assert not first.keep(mapped_by_trial=False)  # the trial JVM crashed or refused it
    assert not first.pending.exists()
    assert not first.pending.with_name(ARCHIVE).exists()
    assert shared_classes(jar, java, tmp_path / "cache").pending is not None


def test_an_archive_an_earlier_wslocal_kept_unverified_is_never_mapped(tmp_path):
    jar, java = put_jar(tmp_path)
    first = shared_classes(jar, java, tmp_path / "cache")
    assert first.copy is not None
    first.drop_pending()
    (first.copy.parent / "classes.jsa").write_bytes(b"half")
    again = shared_classes(jar, java, tmp_path / "cache")
    assert (again.mapped, again.options) == (None, ())
    assert again.pending is not None


def test_an_archive_the_jvm_refused_is_removed_so_the_next_start_writes_it(tmp_path):
    jar, java = put_jar(tmp_path)
    kept_archive(jar, java, tmp_path / "cache")
    mapping = shared_classes(jar, java, tmp_path / "cache")
    log = f"[0.048s][warning][cds,dynamic] {REFUSED}. The top archive failed to load: x.jsa\n"
    assert mapping.refused(log)
    assert mapping.mapped is not None and not mapping.mapped.exists()
    assert shared_classes(jar, java, tmp_path / "cache").pending is not None


def test_an_archive_the_jvm_mapped_is_kept(tmp_path):
    jar, java = put_jar(tmp_path)
    kept_archive(jar, java, tmp_path / "cache")
    mapping = shared_classes(jar, java, tmp_path / "cache")
    assert not mapping.refused("Initializing DynamoDB Local with the following configuration:\n")
    assert mapping.mapped is not None and mapping.mapped.exists()


def test_a_cache_that_cannot_be_written_leaves_the_jvm_as_it_was(tmp_path):
    jar, java = put_jar(tmp_path)
    (tmp_path / "cache").write_text("a file, not a folder")
    classes = shared_classes(jar, java, tmp_path / "cache")
    assert (classes.jar, classes.options, classes.pending) == (jar, (), None)


def test_a_writer_whose_stage_died_is_replaced_and_its_half_archive_removed(tmp_path):
    jar, java = put_jar(tmp_path)
    first = shared_classes(jar, java, tmp_path / "cache")
    assert first.pending is not None and first.lock is not None
    first.pending.write_bytes(b"half")
    os.close(first.lock)  # its stage died: the kernel lets the lock go
    second = shared_classes(jar, java, tmp_path / "cache")
    assert second.pending is not None and second.pending != first.pending
    assert not first.pending.exists()


def linked_checkout(tmp_path, jar):
    """``jar`` as a second checkout sees it: through a link to the first's folder (a git
    worktree whose node_modules links to the main checkout's)."""
    checkout = tmp_path / "worktree"
    checkout.mkdir()
    (checkout / "lib").symlink_to(tmp_path / "lib", target_is_directory=True)
    return checkout / jar.relative_to(tmp_path)


def test_a_checkout_reaching_the_jar_through_a_link_maps_the_archive_already_written(tmp_path):
    jar, java = put_jar(tmp_path)
    first = kept_archive(jar, java, tmp_path / "cache")
    linked = shared_classes(linked_checkout(tmp_path, jar), java, tmp_path / "cache")
    assert linked.mapped == first.pending.with_name(ARCHIVE)


def test_the_copy_links_to_the_libraries_where_they_are_not_through_a_checkout(tmp_path):
    jar, java = put_jar(tmp_path)
    classes = shared_classes(linked_checkout(tmp_path, jar), java, tmp_path / "cache")
    assert classes.copy is not None
    libraries = classes.copy.parent / "DynamoDBLocal_lib"
    assert libraries.readlink() == tmp_path / "lib" / "dynamodb_local" / "DynamoDBLocal_lib"
