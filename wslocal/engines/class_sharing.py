"""A class-data-sharing archive for DynamoDB Local's JVM: the classes it loads, parsed
and verified once, mapped from a file at every later start (about half the JVM's CPU
until it answers, measured in docs/benchmarks.md).

The JVM writes the archive itself (``-XX:ArchiveClassesAtExit``) when a stage that found
none stops; the next starts map it (``-XX:SharedArchiveFile``). It lives in the per-user
cache, in a folder keyed by the jar and the JVM, so a new jar or JVM makes a new one. The
JVM refuses a classpath with a folder that has files in it, and DynamoDB Local's manifest
names its own folder (``.``) and its native libraries: the archive's JVM runs a copy of
the jar whose manifest names only the jars (the same classes), beside a link to the
original's libraries. Whatever goes wrong here (no cache, an old JVM, an archive cut
short), the JVM starts as it would without: the archive only ever saves time.
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

ARCHIVE = "classes.jsa"
JAR = "DynamoDBLocal.jar"
LIBRARIES = "DynamoDBLocal_lib"
MANIFEST = "META-INF/MANIFEST.MF"
WRITING = "classes.jsa.writing"
"""Locked (``flock``) by the stage whose JVM writes the archive, for as long as that stage
lives: the others start without it (each writer makes its stop seconds longer). The kernel
lets the lock go when that stage's process ends, however it ends."""


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


@dataclass(frozen=True)
class SharedClasses:
    """How to run the JVM with the archive: the jar, the options, and the archive it
    writes at exit when there is none yet (``pending``)."""

    jar: Path
    options: tuple[str, ...] = ()
    pending: Path | None = None
    lock: int | None = None
    """The open file holding the writer's lock, closed by ``keep``."""

    def keep(self, exit_code: int | None) -> None:
        """The JVM has exited: the archive it wrote becomes the one later starts map, if
        it exited on its own (a JVM killed mid-write leaves half an archive)."""
        if self.pending is None:
            return
        with contextlib.suppress(OSError):
            if exit_code is not None and exit_code >= 0 and self.pending.stat().st_size:
                self.pending.replace(self.pending.with_name(ARCHIVE))
        with contextlib.suppress(OSError):
            self.pending.unlink(missing_ok=True)
        if self.lock is not None:
            with contextlib.suppress(OSError):
                os.close(self.lock)


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
    for leftover in folder.glob(f"{ARCHIVE}.*"):
        if leftover.name != WRITING:
            with contextlib.suppress(OSError):
                leftover.unlink()
    return lock


def shared_classes(jar: Path, java: Path, cache: Path) -> SharedClasses:
    """How to start DynamoDB Local's ``jar`` on ``java`` with the archive in ``cache``:
    mapping it, or writing it at exit when there is none; the jar as it is, with no
    option, when the cache cannot be written."""
    try:
        folder = cache / "dynamodb-local-classes" / _key(jar, java.resolve())
        folder.mkdir(parents=True, exist_ok=True)
        if not (folder / JAR).exists():
            _copy_with_jars_only(jar, folder)
    except (OSError, zipfile.BadZipFile, UnicodeDecodeError):
        return SharedClasses(jar)
    # An old JVM ignores the options it does not know rather than refusing to start.
    tolerant = "-XX:+IgnoreUnrecognizedVMOptions"
    archive = folder / ARCHIVE
    if archive.exists():
        return SharedClasses(folder / JAR, (tolerant, f"-XX:SharedArchiveFile={archive}"))
    lock = _take_writing(folder)
    if lock is None:
        return SharedClasses(jar)
    pending = folder / f"{ARCHIVE}.{os.getpid()}-{time.monotonic_ns()}"
    options = (tolerant, f"-XX:ArchiveClassesAtExit={pending}")
    return SharedClasses(folder / JAR, options, pending, lock)
