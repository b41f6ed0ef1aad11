"""Which Node runs a function, and the AWS SDK v3 Lambda's Node runtime gives it.

Lambda's ``nodejs18.x``, ``nodejs20.x`` and ``nodejs22.x`` run on the Node found on PATH;
when its major version differs from the declared one (or the name is a runtime Lambda has
retired), the function's notes say so. The SDK is the one the shipped ``sdk/package.json``
and its lockfile name, installed with ``npm ci`` once into the per-user cache (keyed by
the lockfile's hash) and put on every Node worker's NODE_PATH after the function's own
modules and its layers', so a function's own copy wins, as on Lambda. Other ``@aws-sdk/*``
packages a function names are installed when it is built (``sdk_clients``).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from wslocal.runtime.builds import BuildError
from wslocal.runtime.node import npm
from wslocal.template import FunctionModel, StageModel

LAMBDA_NODE_RUNTIMES = ("nodejs18.x", "nodejs20.x", "nodejs22.x")
"""The Node runtimes Lambda supports today; older names still fill public templates."""


@dataclass(frozen=True)
class NodeRuntime:
    """How a Node function's workers start."""

    interpreter: str
    """The ``node`` executable."""
    version: str
    """Its version, e.g. ``20.20.2``."""
    sdk: Path
    """The runtime's ``node_modules`` (AWS SDK v3)."""
    cache: Path
    """The per-user cache, where the function's dependencies and bundles are built."""
    notes: tuple[str, ...] = field(default=())

    language = "Node.js"
    """The banner's name for the functions' language."""
    packages = (
        "each function's package.json (npm ci) and esbuild bundles, built into the per-user "
        "cache; the AWS SDK v3 as Lambda's Node runtime has it"
    )
    """What is built for these functions, for the banner."""

    @property
    def label(self) -> str:
        return f"Node.js {self.version} ({self.interpreter})"


def declared_major(runtime: str) -> int | None:
    """``nodejs20.x`` -> 20; None for a name without a version."""
    found = re.fullmatch(r"nodejs(\d+)(\.x)?", runtime)
    return int(found.group(1)) if found else None


def version_notes(runtime: str, version: str) -> list[str]:
    """What to tell the user about running ``runtime`` on Node ``version``."""
    major = declared_major(runtime)
    installed = version.split(".")[0]
    if runtime not in LAMBDA_NODE_RUNTIMES:
        return [f"declares {runtime}, which Lambda no longer runs: runs on Node {version}"]
    if str(major) != installed:
        return [f"declares {runtime}: runs on the installed Node {version}"]
    return []


def find_node() -> tuple[str, str] | None:
    """The Node on PATH and its version, or None."""
    node = shutil.which("node")
    if node is None:
        return None
    try:
        done = subprocess.run(
            [node, "--version"], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    version = done.stdout.strip().removeprefix("v")
    return (node, version) if done.returncode == 0 and version else None


def sdk_files() -> tuple[bytes, bytes]:
    """The shipped package.json and package-lock.json of the runtime's SDK."""
    folder = resources.files("wslocal.runtime.node") / "sdk"
    return (folder / "package.json").read_bytes(), (folder / "package-lock.json").read_bytes()


def install_sdk(cache: Path) -> Path:
    """The SDK's node_modules in the cache, installed by ``npm ci`` the first time."""
    manifest, lock = sdk_files()
    key = hashlib.sha256(manifest + lock).hexdigest()[:16]
    target = cache / "node" / f"aws-sdk-{key}"
    npm.install_once({"package.json": manifest, "package-lock.json": lock}, target, "the AWS SDK")
    return target / "node_modules"


def is_node(function: FunctionModel) -> bool:
    return function.runtime.startswith("nodejs")


def prepare(model: StageModel, cache: Path) -> dict[str, NodeRuntime]:
    """Each Node function's runtime; the SDK installed if it is not yet. Raises
    BuildError when no Node is installed or the SDK cannot be installed."""
    functions = {name: f for name, f in model.functions.items() if is_node(f)}
    if not functions:
        return {}
    found = find_node()
    if found is None:
        raise BuildError(
            f"{', '.join(sorted(functions))}: Node.js functions, and there is no `node` on "
            "PATH (install Node.js 18 or newer)"
        )
    node, version = found
    sdk = install_sdk(cache)
    return {
        name: NodeRuntime(node, version, sdk, cache, tuple(version_notes(f.runtime, version)))
        for name, f in functions.items()
    }
