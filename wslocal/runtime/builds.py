"""Each function's own Python and dependencies, as ``sam build`` and Lambda give them.

For every function: the interpreter of its declared runtime when one is here (on PATH,
in pyenv, or in uv's Pythons), else the stage's own with a warning; its CodeUri's and its
layers' ``requirements.txt`` installed with that interpreter's pip into per-user cache
folders keyed by the file's hash (built once); and a worker path with exactly Lambda's
pieces: the code, its dependencies, each layer and its dependencies, then what Lambda's
runtime itself provides (boto3, botocore and theirs). Nothing else of the stage's own
environment is importable, so a package missing from requirements.txt fails here as it
would on AWS.

The runtime's libraries are the stage's own (linked) when the function's interpreter can
import them; an older Python (``python3.8`` still fills public templates, and today's
botocore needs 3.9) gets its own, installed once with its pip: the newest boto3 that
supports it, as that Lambda runtime last had. When neither works the function runs on
the stage's Python, and its notes say so.
"""

from __future__ import annotations

import glob
import hashlib
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from wslocal import lifeline
from wslocal.exceptions import WslocalError
from wslocal.template import FunctionModel, StageModel

RUNTIME_PROVIDED = ("boto3", "botocore", "jmespath", "s3transfer", "dateutil", "six", "urllib3")
"""What Lambda's Python runtime has besides the standard library."""


class BuildError(WslocalError):
    """A requirements.txt could not be installed; the message has pip's last words."""


@dataclass(frozen=True)
class FunctionRuntime:
    """How a function's workers start: which Python, and what is on their path."""

    interpreter: str
    version: str
    paths: tuple[Path, ...]
    """After the code folder: dependencies, layers and theirs, the runtime's libraries."""
    notes: tuple[str, ...] = field(default=())
    debugger: Path | None = None
    """Where this Python imports debugpy from, for a function run under a debugger
    (``--debug``); None otherwise: debugpy is not on a function's path, as on Lambda."""

    language = "Python"
    """The banner's name for the functions' language."""
    packages = (
        "each function's requirements.txt and its layers', built once into the per-user "
        "cache; boto3 and botocore as Lambda's runtime has them"
    )
    """What is built for these functions, for the banner."""

    @property
    def label(self) -> str:
        return f"python{self.version} ({self.interpreter})"


def declared_version(runtime: str) -> str:
    """``python3.13`` -> ``3.13``."""
    return runtime.removeprefix("python")


def find_interpreter(version: str, environ: Mapping[str, str] = os.environ) -> str | None:
    """A Python of ``version``: this one, on PATH, in pyenv or in uv's Pythons."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        return sys.executable
    found = shutil.which(f"python{version}", path=environ.get("PATH"))
    if found and _answers(found, version):
        return found
    home = Path(environ.get("HOME", str(Path.home())))
    pyenv = Path(environ.get("PYENV_ROOT") or home / ".pyenv")
    uv = Path(environ.get("UV_PYTHON_INSTALL_DIR") or home / ".local/share/uv/python")
    patterns = (
        str(pyenv / "versions" / f"{version}*" / "bin" / f"python{version}"),
        str(uv / f"cpython-{version}*" / "bin" / f"python{version}"),
    )
    for pattern in patterns:
        for candidate in sorted(glob.glob(pattern), reverse=True):
            if _answers(candidate, version):
                return candidate
    return None


def _answers(interpreter: str, version: str) -> bool:
    """The interpreter runs and is the version asked for (a pyenv shim may not be)."""
    try:
        done = subprocess.run(
            [interpreter, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True, text=True, timeout=20, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and done.stdout.strip() == version


def requirements_of(folder: Path) -> bytes | None:
    """The folder's requirements.txt, or None when it names nothing to install."""
    path = folder / "requirements.txt"
    if not path.is_file():
        return None
    text = path.read_bytes()
    lines = [line.strip() for line in text.decode("utf-8", "replace").splitlines()]
    return text if any(line and not line.startswith("#") for line in lines) else None


def build_dependencies(folder: Path, interpreter: str, version: str, cache: Path) -> Path | None:
    """Install ``folder/requirements.txt`` once into the cache; the folder, or None."""
    requirements = requirements_of(folder)
    if requirements is None:
        return None
    key = hashlib.sha256(requirements + f"{version}-{platform.machine()}".encode()).hexdigest()
    target = cache / "builds" / f"{folder.resolve().name}-py{version}-{key[:16]}"
    return _pip_install(
        interpreter,
        ["-r", str(folder / "requirements.txt")],
        target,
        f"{folder / 'requirements.txt'}",
    )


def _pip_install(interpreter: str, what: list[str], target: Path, label: str) -> Path:
    """``pip install --target`` once: a finished folder is marked and reused, a failed one
    removed; two stages building the same folder at once keep the first."""
    if (target / ".complete").is_file():
        return target
    partial = target.with_name(f"{target.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    command, fds = lifeline.bound(
        [interpreter, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--no-warn-script-location", *what, "--target", str(partial)]
    )  # fmt: skip
    done = subprocess.run(
        command, pass_fds=fds, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    if done.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        raise BuildError(f"{label}: pip failed: {pip_error(done.stderr)}")
    (partial / ".complete").write_text("")
    if target.exists():  # built meanwhile by another stage
        shutil.rmtree(partial, ignore_errors=True)
    else:
        partial.rename(target)
    return target


def pip_error(stderr: str) -> str:
    """What pip said went wrong: its ERROR lines (a configured index may fill stderr with
    warnings first), else the end of what it printed."""
    errors = [
        line.removeprefix("ERROR: ") for line in stderr.splitlines() if line.startswith("ERROR:")
    ]
    if errors:
        return "; ".join(errors)
    lines = [line for line in stderr.splitlines() if not line.startswith("WARNING:")]
    return "\n".join(lines).strip()[-500:] or "no message"


def runtime_libraries(cache: Path) -> Path:
    """A folder holding exactly what Lambda's runtime provides (links to this
    environment's boto3, botocore and their dependencies) and the worker bootstrap."""
    wanted = {name: _location(name) for name in (*RUNTIME_PROVIDED, "wslocal")}
    key = hashlib.sha256(repr(sorted(wanted.items())).encode()).hexdigest()[:16]
    folder = cache / "runtime" / key
    if (folder / ".complete").is_file():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    for location in wanted.values():
        link = folder / location.name
        if not link.exists():
            link.symlink_to(location)
    (folder / ".complete").write_text("")
    return folder


def libraries_for(interpreter: str, version: str, linked: Path, cache: Path) -> Path:
    """The runtime's libraries as ``interpreter`` can import them: the stage's own
    (``linked``) when they import there, else boto3 installed for that Python, with the
    bootstrap linked beside it. Raises BuildError when neither can be had."""
    if interpreter == sys.executable or _imports_runtime(interpreter, version, linked):
        return linked
    target = cache / "runtime" / f"py{version}-{platform.machine()}"
    built = _pip_install(interpreter, ["boto3"], target, f"boto3 for python{version}")
    folder = bootstrap_beside(built, cache)
    if not _imports_runtime(interpreter, version, folder):
        raise BuildError(f"python{version} cannot run the worker bootstrap")
    return folder


def bootstrap_beside(built: Path, cache: Path) -> Path:
    """A folder of links to what ``built`` holds and to this stage's own ``wslocal``.
    The build is shared by every checkout using the cache; the bootstrap is the one of
    the stage running, so each ``wslocal`` gets a folder of its own (a link inside the
    build would go on pointing at whichever checkout made it, or nowhere once it moved)."""
    own = _location("wslocal")
    key = hashlib.sha256(f"{built}\0{own}".encode()).hexdigest()[:16]
    folder = cache / "runtime" / key
    if (folder / ".complete").is_file():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    entries = [e for e in built.iterdir() if not e.name.startswith(".") and e.name != own.name]
    for location in (*entries, own):
        link = folder / location.name
        if not link.is_symlink():
            link.symlink_to(location)
    (folder / ".complete").write_text("")
    return folder


def _imports_runtime(interpreter: str, version: str, folder: Path) -> bool:
    """``interpreter`` can import boto3 (and make a client) and the bootstrap from
    ``folder``."""
    probe = (
        "import boto3, wslocal.runtime.bootstrap, wslocal.runtime.forkserver; "
        "boto3.session.Session(region_name='us-east-1').client('dynamodb')"
    )
    return _imports(interpreter, version, folder, probe)


def _imports(interpreter: str, version: str, folder: Path, probe: str) -> bool:
    """``interpreter`` runs ``probe`` with only ``folder`` on its path; remembered in
    the folder, since it cannot change."""
    marker = folder / f".imports-py{version}"
    if marker.is_file():
        return True
    try:
        done = subprocess.run(
            [interpreter, "-S", "-c", probe],
            env={"PYTHONPATH": str(folder), "PATH": os.environ.get("PATH", "")},
            capture_output=True, timeout=60, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return False
    if done.returncode != 0:
        return False
    marker.write_text("")
    return True


def debugger_libraries(interpreter: str, version: str, cache: Path) -> Path:
    """A folder from which ``interpreter`` imports debugpy: a link to the stage's own
    when that Python can import it, else debugpy installed once for that Python, as
    boto3 is (``libraries_for``). Raises BuildError when neither can be had."""
    own = _location("debugpy")
    key = hashlib.sha256(str(own).encode()).hexdigest()[:16]
    linked = cache / "debugger" / key
    if not (linked / ".complete").is_file():
        linked.mkdir(parents=True, exist_ok=True)
        if not (linked / own.name).exists():
            (linked / own.name).symlink_to(own)
        (linked / ".complete").write_text("")
    if interpreter == sys.executable or _imports(interpreter, version, linked, "import debugpy"):
        return linked
    target = cache / "debugger" / f"py{version}-{platform.machine()}"
    built = _pip_install(interpreter, ["debugpy"], target, f"debugpy for python{version}")
    if not _imports(interpreter, version, built, "import debugpy"):
        raise BuildError(f"python{version} cannot import debugpy")
    return built


def _location(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise BuildError(f"{name} is not installed with wslocal")
    origin = Path(spec.origin)
    return origin.parent if origin.name == "__init__.py" else origin


def prepare(
    model: StageModel, cache: Path, debugged: Collection[str] = ()
) -> dict[str, FunctionRuntime]:
    """Each Python function's interpreter and worker path; builds what is missing. Each
    declared version is looked for once (a probe runs the interpreter). The
    ``debugged`` functions get debugpy for their Python too."""
    functions = {n: f for n, f in model.functions.items() if f.runtime.startswith("python")}
    if not functions:
        return {}
    linked = runtime_libraries(cache)
    versions = {declared_version(function.runtime) for function in functions.values()}
    interpreters = {version: find_interpreter(version) for version in sorted(versions)}
    runtimes = {
        name: _prepare_function(function, cache, linked, interpreters)
        for name, function in functions.items()
    }
    for name in debugged:
        runtime = runtimes.get(name)
        if runtime is not None:
            debugger = debugger_libraries(runtime.interpreter, runtime.version, cache)
            runtimes[name] = replace(runtime, debugger=debugger)
    return runtimes


def _prepare_function(
    function: FunctionModel, cache: Path, linked: Path, interpreters: Mapping[str, str | None]
) -> FunctionRuntime:
    version = declared_version(function.runtime)
    interpreter = interpreters[version]
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    notes: list[str] = []
    libraries = linked
    if interpreter is None:
        notes.append(
            f"declares {function.runtime}, none found (PATH, pyenv, uv): runs on {running}; "
            f"`pyenv install {version}` or `uv python install {version}` gives it one"
        )
        interpreter, version = sys.executable, running
    else:
        try:
            libraries = libraries_for(interpreter, version, linked, cache)
        except BuildError as exc:
            notes.append(f"declares {function.runtime}, but {exc}: runs on {running}")
            interpreter, version = sys.executable, running
    paths: list[Path] = []
    started = time.perf_counter()
    for folder in (function.code_dir, *function.layer_dirs):
        if folder != function.code_dir:
            paths.append(folder)
        built = build_dependencies(folder, interpreter, version, cache)
        if built is not None:
            paths.append(built)
    elapsed = time.perf_counter() - started
    if elapsed > 1:
        notes.append(f"dependencies built in {elapsed:.1f} s")
    return FunctionRuntime(interpreter, version, (*paths, libraries), tuple(notes))
