"""A class-data-sharing archive for DynamoDB Local's JVM: the classes it loads, parsed
and verified once, mapped from a file at every later start (about half the JVM's CPU
until it answers, measured in docs/benchmarks.md).

The archive is written by a JVM of its own (``-XX:ArchiveClassesAtExit``), run in the
background by the first stage that finds none (``wslocal.engines.class_archive``), never by
the stage's JVM: a stop never waits for a dump. It becomes the archive later starts map
(``-XX:SharedArchiveFile``) only once a trial JVM has mapped it (``-Xshare:on``): a dump
cut short makes the JVM crash or refuse it, so an unverified one is never mapped. It
lives in the per-user cache, in a folder keyed by the jar and the JVM, so a new jar or
JVM makes a new one; by the jar's real path, so checkouts whose ``node_modules`` links to
one folder (git worktrees) share one, rather than each starting without until one of its
stages outlives the writer. One the JVM refuses anyway (its log says so) is removed and
written again. The JVM refuses a classpath with a folder that has files in it, and DynamoDB
Local's manifest names its own folder (``.``) and its native libraries: the archive's
JVM runs a copy of the jar whose manifest names only the jars (the same classes), beside
a link to the original's libraries. Whatever goes wrong here (no cache, an old JVM, an
archive cut short), the JVM starts as it would without: the archive only ever saves time.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

ARCHIVE = "verified-classes.jsa"
"""The archive a trial JVM has mapped (an earlier wslocal kept ``classes.jsa`` unverified)."""
JAR = "DynamoDBLocal.jar"
LIBRARIES = "DynamoDBLocal_lib"
MANIFEST = "META-INF/MANIFEST.MF"
WRITING = "classes.jsa.writing"
"""Locked (``flock``) by the stage whose writer JVM makes the archive, until it is kept
or dropped: the others start without it meanwhile. The kernel lets the lock go when that
stage's process ends, however it ends."""
PENDING = "classes.jsa."
"""The prefix of an archive being written (a dead writer's is removed by the next)."""
REFUSED = "Unable to use shared archive"
"""What the JVM logs (a warning, on by default) when it cannot map the archive."""
TOLERANT = "-XX:+IgnoreUnrecognizedVMOptions"
"""An old JVM ignores the options it does not know rather than refusing to start."""


def jars_only(manifest: str) -> str:
    """The manifest with its ``Class-Path`` reduced to jar files (no folders, no native
    libraries), each line folded at 72 bytes as the JAR format asks."""
    unfolded = manifest.replace("\r\n", "\n").replace("\n ", "")
    lines = []
    for line in unfolded.split("\n"):
        if line.startswith("Class-Path:"):
            jars = [entry for entry in line.split()[1:] if entry.endswith(".jar")]
            line = " ".join(["Class-Path:", *jars])
        lines.append(line)
    folded = []
    for line in lines:
        folded.append(line[:72])
        folded.extend(" " + line[start : start + 71] for start in range(72, len(line), 71))
    return "\r\n".join(folded).rstrip("\r\n") + "\r\n\r\n"


@dataclass
class SharedClasses:
    """How to run the stage's JVM (``jar``, ``options``): mapping the verified archive
    (``mapped``), or without one; and, when there is none and this stage is the one to
    write it, the file its writer JVM dumps to (``pending``, with the writer's ``lock``)."""

    jar: Path
    options: tuple[str, ...] = ()
    mapped: Path | None = None
    pending: Path | None = None
    copy: Path | None = None
    """The jar the archive's JVMs run (the writer's and every later start's)."""
    lock: int | None = None
    """The open file holding the writer's lock, closed by ``keep`` or ``drop_pending``."""

    def writing_options(self) -> tuple[str, ...]:
        """The writer JVM's options: dump the classes it loaded to ``pending`` at exit."""
        assert self.pending is not None
        return (TOLERANT, f"-XX:ArchiveClassesAtExit={self.pending}")

    def trial_options(self) -> tuple[str, ...]:
        """A trial JVM's options: map ``pending`` or fail (``-Xshare:on``), rather than
        run without it as a start would."""
        assert self.pending is not None
        return (TOLERANT, "-Xshare:on", f"-XX:SharedArchiveFile={self.pending}")

    def keep(self, mapped_by_trial: bool) -> bool:
        """The writer JVM has dumped and a trial JVM has tried the dump: it becomes the
        archive later starts map if the trial mapped it; else it is dropped (the next
        start writes it again). Return whether it was kept."""
        if self.pending is None:
            return False
        kept = False
        if mapped_by_trial:
            with contextlib.suppress(OSError):
                if self.pending.stat().st_size:
                    self.pending.replace(self.pending.with_name(ARCHIVE))
                    kept = True
        self.drop_pending()
        return kept

    def drop_pending(self) -> None:
        """The dump is not kept (its writer was stopped, or it failed): remove it and
        let the writer's lock go."""
        if self.pending is not None:
            with contextlib.suppress(OSError):
                self.pending.unlink(missing_ok=True)
        lock, self.lock = self.lock, None  # closed once: its number may be reused after
        if lock is not None:
            with contextlib.suppress(OSError):
                os.close(lock)

    def refused(self, log: str) -> bool:
        """The JVM that started mapping the archive said it could not (``log``, its
        output): the archive is removed, so the next ``shared_classes`` writes another.
        Return whether it was."""
        if self.mapped is None or REFUSED not in log:
            return False
        self.drop_mapped()
        return True

    def drop_mapped(self) -> None:
        """Remove the archive this start mapped (the JVM refused it, or died with it)."""
        if self.mapped is not None:
            with contextlib.suppress(OSError):
                self.mapped.unlink(missing_ok=True)


def _key(jar: Path, java: Path) -> str:
    """The jar and the JVM (its library, where the JDK's layout has it) by path, size
    and time: either changes, the archive no longer fits."""
    jvm = java.parent.parent / "lib" / "server" / "libjvm.so"
    parts = []
    for path in (jar, jvm if jvm.exists() else java):
        stat = path.stat()
        parts.append(f"{path}|{stat.st_size}|{stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _copy_with_jars_only(jar: Path, folder: Path) -> None:
    """``folder/DynamoDBLocal.jar``: the jar, its manifest's Class-Path reduced to jars;
    ``folder/DynamoDBLocal_lib``: a link to the original's libraries."""
    libraries = folder / LIBRARIES
    if not libraries.exists():
        libraries.symlink_to(jar.parent / LIBRARIES, target_is_directory=True)
    partial = folder / f"{JAR}.{os.getpid()}.partial"
    with zipfile.ZipFile(jar) as original, zipfile.ZipFile(partial, "w") as copy:
        for entry in original.infolist():
            data = original.read(entry)
            if entry.filename == MANIFEST:
                data = jars_only(data.decode("utf-8")).encode("utf-8")
            copy.writestr(entry, data)
    partial.replace(folder / JAR)


def _take_writing(folder: Path) -> int | None:
    """The writer's lock (an open file to keep until the archive is kept), unless another
    stage holds it; with it, what writers that died before keeping theirs left is removed."""
    try:
        lock = os.open(folder / WRITING, os.O_CREAT | os.O_WRONLY)
    except OSError:
        return None
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(lock)
        return None
    for leftover in folder.glob(f"{PENDING}*"):
        if leftover.name != WRITING:
            with contextlib.suppress(OSError):
                leftover.unlink()
    return lock


def shared_classes(jar: Path, java: Path, cache: Path) -> SharedClasses:
    """How to start DynamoDB Local's ``jar`` on ``java`` with the archive in ``cache``:
    mapping it, or without it and with the archive to write (when no other stage is
    writing it); the jar as it is, with no option, when the cache cannot be written."""
    try:
        real = jar.resolve()
        folder = cache / "dynamodb-local-classes" / _key(real, java.resolve())
        folder.mkdir(parents=True, exist_ok=True)
        if not (folder / JAR).exists():
            _copy_with_jars_only(real, folder)
    except (OSError, zipfile.BadZipFile, UnicodeDecodeError):
        return SharedClasses(jar)
    archive = folder / ARCHIVE
    if archive.exists():
        options = (TOLERANT, f"-XX:SharedArchiveFile={archive}")
        return SharedClasses(folder / JAR, options, mapped=archive, copy=folder / JAR)
    lock = _take_writing(folder)
    if lock is None:
        return SharedClasses(jar)
    pending = folder / f"{PENDING}{os.getpid()}-{time.monotonic_ns()}"
    return SharedClasses(jar, pending=pending, copy=folder / JAR, lock=lock)
