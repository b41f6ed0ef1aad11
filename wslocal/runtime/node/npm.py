"""npm installs into the per-user cache, once: a folder holding a package.json (and its
lockfile, when there is one) gets its ``node_modules`` as ``sam build`` installs them,
without dev dependencies; a finished folder is marked and reused, a failed one removed
with npm's own words in the error."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

from wslocal import lifeline
from wslocal.runtime.builds import BuildError

LOCKFILES = ("package-lock.json", "npm-shrinkwrap.json")


def install_command(npm: str, locked: bool) -> list[str]:
    """``npm ci`` with a lockfile (exactly what it pins), else ``npm install``; no dev
    dependencies, no audit or funding chatter."""
    verb = "ci" if locked else "install"
    return [npm, verb, "--omit=dev", "--no-audit", "--no-fund", "--loglevel=error"]


def npm_error(stderr: str) -> str:
    """What npm said went wrong: its ``npm error`` lines, else the end of its output."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    errors = [
        line.split(" ", 2)[-1] if line.startswith(("npm error", "npm ERR!")) else line
        for line in lines
        if line.startswith(("npm error", "npm ERR!")) and "A complete log" not in line
    ]
    return "\n".join(errors or lines)[-1500:] or "no message"


def partial_folder(target: Path) -> Path:
    """Where to build ``target`` before it is renamed into place: one per process and
    thread, so two workers starting at once (or two stages) never build into the same
    folder; the first to finish wins."""
    return target.with_name(f"{target.name}.partial-{os.getpid()}-{threading.get_ident()}")


def settle(partial: Path, target: Path) -> None:
    """Mark ``partial`` finished and move it into place, unless ``target`` was finished
    meanwhile by another worker or stage (then ``partial`` is dropped)."""
    (partial / ".complete").write_text("")
    try:
        partial.rename(target)
    except OSError:
        if not target.exists():
            raise
        shutil.rmtree(partial, ignore_errors=True)


@contextlib.contextmanager
def install_lock(target: Path) -> Iterator[None]:
    """Held while ``target`` is installed: workers and stages that need it at once wait
    for the first one's install rather than each running npm."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.with_name(f"{target.name}.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def install_once(files: Mapping[str, bytes], target: Path, label: str) -> Path:
    """``target`` with ``files`` written and npm's install run in it, built the first
    time (once: under a lock); raises BuildError with npm's words when it fails."""
    if (target / ".complete").is_file():
        return target
    with install_lock(target):
        if (target / ".complete").is_file():
            return target
        return _install(files, target, label)


def _install(files: Mapping[str, bytes], target: Path, label: str) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise BuildError(f"{label}: npm is not installed (it comes with Node.js)")
    partial = partial_folder(target)
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    for name, content in files.items():
        (partial / name).write_bytes(content)
    command, fds = lifeline.bound(install_command(npm, any(name in files for name in LOCKFILES)))
    done = subprocess.run(  # it and its scripts end with the stage, however the stage ends
        command, pass_fds=fds,
        cwd=partial, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False,
        env={**os.environ, "NODE_ENV": "production"},
    )  # fmt: skip
    if done.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        raise BuildError(f"{label}: npm failed: {npm_error(done.stderr or done.stdout)}")
    settle(partial, target)
    return target
