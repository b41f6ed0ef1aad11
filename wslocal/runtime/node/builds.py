"""A Node function's code as ``sam build`` makes it, built when a worker starts (cached,
so an unchanged function costs a walk of its folder): its package.json dependencies
installed into the cache (keyed by the lockfile's hash), its layers' ``nodejs/
node_modules``, and with ``BuildMethod: esbuild`` its bundle (keyed by its sources), so
an edit reaches the next worker. A failed build raises FunctionBuildError with npm's or
esbuild's words."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from wslocal import lifeline
from wslocal.exceptions import FunctionBuildError, TemplateError
from wslocal.runtime.builds import BuildError
from wslocal.runtime.node import npm, sdk_clients
from wslocal.runtime.node.esbuild import esbuild_arguments, install_esbuild
from wslocal.runtime.node.runtime import declared_major, sdk_files
from wslocal.template import FunctionModel

SKIPPED_FOLDERS = sdk_clients.SKIPPED_FOLDERS


@dataclass(frozen=True)
class NodeCode:
    """Where a Node worker finds its code: the task root (the CodeUri, or the bundle),
    and NODE_PATH's folders in the order Lambda searches them."""

    task_root: Path
    node_path: tuple[Path, ...]


def manifest_files(folder: Path) -> dict[str, bytes] | None:
    """The folder's package.json and lockfile when it declares dependencies to install;
    else None."""
    manifest = folder / "package.json"
    if not manifest.is_file():
        return None
    try:
        declared = json.loads(manifest.read_text(encoding="utf-8")).get("dependencies")
    except (ValueError, AttributeError) as exc:
        raise FunctionBuildError(f"{manifest}: not a JSON object: {exc}") from None
    if not declared:
        return None
    files = {"package.json": manifest.read_bytes()}
    for name in npm.LOCKFILES:
        if (folder / name).is_file():
            files[name] = (folder / name).read_bytes()
    return files


def build_key(parts: list[bytes], node_version: str) -> str:
    """A cache key: what was built from, the Node major and the machine."""
    digest = hashlib.sha256(f"node{node_version.split('.')[0]}-{platform.machine()}".encode())
    for part in parts:
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()[:16]


def _slot(folder: Path, kind: str) -> str:
    """A cache name per source folder: its name and a hash of where it is."""
    return f"{folder.name}-{hashlib.sha256(str(folder).encode()).hexdigest()[:8]}-{kind}"


def dependencies(folder: Path, cache: Path, node_version: str) -> Path | None:
    """``folder``'s dependencies' node_modules in the cache, installed once; None when
    it declares none."""
    files = manifest_files(folder)
    if files is None:
        return None
    lock = next((files[name] for name in npm.LOCKFILES if name in files), files["package.json"])
    key = build_key([lock], node_version)
    target = cache / "builds" / f"{_slot(folder, 'npm')}-{key}"
    try:
        npm.install_once(files, target, str(folder / "package.json"))
    except BuildError as exc:
        raise FunctionBuildError(str(exc)) from None
    return target / "node_modules"


def layer_modules(layer: Path, cache: Path, node_version: str, major: int) -> list[Path]:
    """A layer's folders for NODE_PATH, in Lambda's order: its ``nodejs/nodeMAJOR/
    node_modules`` for the function's Node version, then ``nodejs/node_modules`` (as
    Lambda unpacks them under /opt), then the dependencies its package.json declares (a
    layer SAM builds)."""
    unpacked = [
        layer / "nodejs" / f"node{major}" / "node_modules",
        layer / "nodejs" / "node_modules",
    ]
    found = [folder for folder in unpacked if folder.is_dir()]
    for folder in (layer, layer / "nodejs"):
        installed = dependencies(folder, cache, node_version) if folder.is_dir() else None
        if installed is not None:
            found.append(installed)
    return found


def source_fingerprint(folder: Path) -> bytes:
    """Every source file's path, size and modification time (not node_modules or
    hidden folders): what an esbuild bundle is keyed by."""
    entries = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_FOLDERS and not d.startswith("."))
        for name in sorted(files):
            path = Path(root, name)
            stat = path.stat()
            entries.append(f"{path.relative_to(folder)}\0{stat.st_size}\0{stat.st_mtime_ns}")
    return "\n".join(entries).encode()


def bundle(function: FunctionModel, node_path: list[Path], cache: Path, node_version: str) -> Path:
    """The function's esbuild bundle (its task root), built when its sources changed;
    older bundles of the same folder are removed."""
    properties = json.dumps(function.build_properties, sort_keys=True).encode()
    key = build_key([properties, source_fingerprint(function.code_dir)], node_version)
    slot = _slot(function.code_dir, "esbuild")
    target = cache / "builds" / f"{slot}-{key}"
    if (target / ".complete").is_file():
        return target
    partial = npm.partial_folder(target)
    try:
        esbuild = install_esbuild(cache)
        arguments = esbuild_arguments(function.build_properties, partial)
    except (BuildError, TemplateError) as exc:
        raise FunctionBuildError(f"{function.logical_id}: {exc}") from None
    shutil.rmtree(partial, ignore_errors=True)
    command, fds = lifeline.bound([str(esbuild), *arguments, "--log-level=error"])
    done = subprocess.run(  # it ends with the stage, however the stage ends
        command, pass_fds=fds,
        cwd=function.code_dir, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        env={**os.environ, "NODE_PATH": os.pathsep.join(str(p) for p in node_path)},
        check=False,
    )  # fmt: skip
    if done.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        words = (done.stderr or done.stdout).strip()[-2000:]
        raise FunctionBuildError(f"{function.logical_id}: esbuild failed:\n{words}")
    npm.settle(partial, target)
    for old in target.parent.glob(f"{slot}-*"):
        if old != target and ".partial-" not in old.name:
            shutil.rmtree(old, ignore_errors=True)
    return target


def function_code(function: FunctionModel, sdk: Path, cache: Path, node_version: str) -> NodeCode:
    """Build what the function needs and say where its worker finds it. NODE_PATH as
    Lambda's: the function's dependencies, the layers', the runtime's SDK, the task
    root (a function's own copy wins: it comes first). The runtime's SDK is its common
    clients, then any other ``@aws-sdk/*`` package the function's sources name."""
    own = dependencies(function.code_dir, cache, node_version)
    modules = [own] if own is not None else []
    major = declared_major(function.runtime) or int(node_version.split(".")[0])
    for layer in function.layer_dirs:
        modules += layer_modules(layer, cache, node_version, major)
    modules.append(sdk)
    try:
        modules += sdk_clients.missing_packages(function.code_dir, modules, cache, sdk_files()[0])
    except BuildError as exc:
        raise FunctionBuildError(f"{function.logical_id}: {exc}") from None
    task_root = function.code_dir
    if function.build_method == "esbuild":
        task_root = bundle(function, modules, cache, node_version)
    return NodeCode(task_root, (*modules, task_root))
