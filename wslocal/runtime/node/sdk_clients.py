"""The rest of the AWS SDK v3 Lambda's Node runtime ships: every ``@aws-sdk/*`` package a
function's code names, installed when it is first needed.

Lambda's runtime has the whole ``@aws-sdk`` scope (some 400 clients); the stage installs
the common ones up front (``sdk/package.json``) and any other one a function's sources
import or require when its worker is built: the sources are scanned for ``@aws-sdk/...``
specifiers (cheap: no cost at call time), and each package found nowhere the function
would find it (its own ``node_modules``, its layers', the runtime's SDK) is installed at
the SDK's pinned release line into a folder of its own in the per-user cache, once, then
put on NODE_PATH after the runtime's SDK, so a function's own copy still wins. A name npm
does not know stays unresolved, and the handler meets "Cannot find module" as on Lambda.

A name no scan can see (built at run time: ``require(`@aws-sdk/client-${name}`)``) is
installed when Node fails to find it: the worker runs ``python -m
wslocal.runtime.node.sdk_clients CACHE PACKAGE`` (``installer_command``; ``main`` below)
and looks in the folder it prints (``sdk_install.mjs``). The first such call waits for
npm (seconds: its function's timeout may pass), later ones find it at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from wslocal.runtime.builds import BuildError
from wslocal.runtime.node import npm

SOURCE_SUFFIXES = frozenset({".js", ".mjs", ".cjs", ".jsx", ".ts", ".mts", ".cts", ".tsx"})
LARGEST_SCANNED = 4 * 1024 * 1024
"""Bytes; a larger file is a vendored bundle, not the function's own source."""
SKIPPED_FOLDERS = frozenset({"node_modules", ".aws-sam", ".git", "__pycache__"})

_PACKAGE = re.compile(r"@aws-sdk/[a-z0-9][a-z0-9._-]*")
_SPECIFIER = re.compile(r"""["'`](@aws-sdk/[a-z0-9][a-z0-9._-]*)(?:/[^"'`\s]*)?["'`]""")
_UNKNOWN = ("E404", "404 Not Found", "ETARGET", "No matching version")
"""npm's words when the registry has no such package, or none in the release line."""


def runtime_packages(source: str) -> set[str]:
    """The ``@aws-sdk/*`` package names a source's string literals name (an import, a
    require, a dynamic import; a deep path such as ``@aws-sdk/client-s3/dist-cjs`` names
    its package)."""
    return set(_SPECIFIER.findall(source))


def release_line(manifest: bytes) -> str:
    """The version range the runtime's SDK is pinned at (every package of the shipped
    ``sdk/package.json`` shares it), e.g. ``>=3.800.0 <3.807.0``."""
    ranges = {str(line) for line in json.loads(manifest)["dependencies"].values()}
    if len(ranges) != 1:
        raise ValueError(f"the runtime's SDK pins more than one release line: {sorted(ranges)}")
    return ranges.pop()


def install_files(package: str, line: str) -> dict[str, bytes]:
    """The package.json that installs ``package`` alone, at the SDK's release line."""
    manifest = {
        "name": "wslocal-lambda-nodejs-runtime-sdk-client",
        "private": True,
        "dependencies": {package: line},
    }
    return {"package.json": json.dumps(manifest, indent=2).encode()}


def package_folder(cache: Path, package: str, line: str) -> Path:
    """Where ``package`` is installed: one folder per package and release line."""
    key = hashlib.sha256(f"{package}@{line}".encode()).hexdigest()[:12]
    return cache / "node" / "aws-sdk-clients" / f"{package.split('/')[-1]}-{key}"


def is_unknown(error: str) -> bool:
    """True when npm failed because the registry has no such package (or no release of
    it in the line): the function meets "Cannot find module", as on Lambda."""
    return any(word in error for word in _UNKNOWN)


def source_files(folder: Path) -> Iterator[Path]:
    """The function's own source files (not node_modules, hidden or very large ones)."""
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if d not in SKIPPED_FOLDERS and not d.startswith(".")]
        for name in files:
            path = Path(root, name)
            if path.suffix in SOURCE_SUFFIXES and path.stat().st_size <= LARGEST_SCANNED:
                yield path


def named_packages(folder: Path) -> set[str]:
    """Every ``@aws-sdk/*`` package ``folder``'s sources name."""
    found: set[str] = set()
    for path in source_files(folder):
        found |= runtime_packages(path.read_text(encoding="utf-8", errors="replace"))
    return found


def is_found(package: str, code_dir: Path, node_path: Iterable[Path]) -> bool:
    """True when Node would find ``package`` without the stage: in a node_modules at or
    above the function's code, or in a NODE_PATH folder (its dependencies, layers, SDK)."""
    folders = [d / "node_modules" for d in (code_dir, *code_dir.parents)] + list(node_path)
    return any((folder / package / "package.json").is_file() for folder in folders)


def install(package: str, cache: Path, manifest: bytes) -> Path | None:
    """``package``'s node_modules, installed at the SDK's release line the first time
    (under npm.install_once's lock, so concurrent workers install it once); None when
    npm does not know it (remembered, so it is asked once). Raises BuildError with npm's
    words for any other failure."""
    line = release_line(manifest)
    target = package_folder(cache, package, line)
    unknown = target.with_name(f"{target.name}.unknown")
    if unknown.is_file():
        return None
    try:
        npm.install_once(install_files(package, line), target, f"the AWS SDK's {package}")
    except BuildError as exc:
        if not is_unknown(str(exc)):
            raise
        unknown.parent.mkdir(parents=True, exist_ok=True)
        unknown.write_text(str(exc))
        return None
    return target / "node_modules"


def missing_packages(
    code_dir: Path, node_path: Iterable[Path], cache: Path, manifest: bytes
) -> list[Path]:
    """The node_modules folders of the ``@aws-sdk/*`` packages the function's code names
    and would not find, installed if they are not yet (NODE_PATH's last SDK folders)."""
    searched = list(node_path)
    found = []
    for package in sorted(named_packages(code_dir)):
        if not is_found(package, code_dir, searched):
            installed = install(package, cache, manifest)
            if installed is not None:
                found.append(installed)
    return found


INSTALLER_ENVIRONMENT = frozenset({
    "HOME", "PATH", "PYTHONPATH", "VIRTUAL_ENV", "NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE",
    "SSL_CERT_DIR", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy",
    "no_proxy",
})  # fmt: skip
"""The stage's variables its installer needs when a worker asks for a package: Python's
(a stage run from source finds wslocal), npm's (its registry, cache, proxies and CAs:
these, and every ``npm_config_*``), not the worker's Lambda-like ones."""


def installer_command(cache: Path, environ: dict[str, str] | None = None) -> str:
    """What a Node worker runs to install a package its code names at run time: the
    command and the environment, as JSON (``WSLOCAL_SDK_INSTALL``)."""
    environ = dict(os.environ if environ is None else environ)
    kept = {
        name: value
        for name, value in environ.items()
        if name in INSTALLER_ENVIRONMENT or name.lower().startswith("npm_config_")
    }
    command = [sys.executable, "-m", "wslocal.runtime.node.sdk_clients", str(cache)]
    return json.dumps({"command": command, "environment": kept})


def main(arguments: list[str]) -> int:
    """``CACHE PACKAGE``: install ``PACKAGE`` at the runtime's release line and print its
    node_modules folder (nothing when npm does not know it); npm's words and 1 on any
    other failure, 2 for a name outside the ``@aws-sdk`` scope."""
    from wslocal.runtime.node.runtime import sdk_files

    cache, package = arguments
    if not _PACKAGE.fullmatch(package):
        print(f"{package} is not a package of the @aws-sdk scope", file=sys.stderr)
        return 2
    try:
        folder = install(package, Path(cache), sdk_files()[0])
    except BuildError as exc:
        print(exc, file=sys.stderr)
        return 1
    if folder is not None:
        print(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
