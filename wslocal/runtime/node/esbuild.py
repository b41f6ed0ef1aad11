"""``Metadata: BuildMethod: esbuild`` as ``sam build`` runs it: the function's
``BuildProperties`` as esbuild's command-line options (pure), and the esbuild npm
package, installed into the per-user cache once."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wslocal.exceptions import TemplateError
from wslocal.runtime.node import npm

ESBUILD_VERSION = "0.28.2"
DEFAULT_TARGET = "es2020"
"""SAM's defaults: minified, es2020, CommonJS, no source map."""


def _listed(value: Any, name: str) -> list[str]:
    """A property SAM takes as a list (or one comma-separated string)."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    raise TemplateError(f"BuildProperties.{name} must be a list of strings")


def _flag(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def esbuild_arguments(properties: Mapping[str, Any], outdir: Path) -> list[str]:
    """esbuild's arguments for one function: its entry points bundled for Node into
    ``outdir``, with each property SAM maps (EntryPoints, Minify, Target, Sourcemap,
    External, Format, OutExtension, Loader, Banner, MainFields)."""
    entry_points = _listed(properties.get("EntryPoints", []), "EntryPoints")
    if not entry_points:
        raise TemplateError("BuildProperties.EntryPoints names no file to bundle")
    arguments = [*entry_points, "--bundle", "--platform=node", f"--outdir={outdir}"]
    if _flag(properties.get("Minify", True)):
        arguments.append("--minify")
    if _flag(properties.get("Sourcemap", False)):
        arguments.append("--sourcemap")
    arguments.append(f"--target={properties.get('Target', DEFAULT_TARGET)}")
    arguments.append(f"--format={properties.get('Format', 'cjs')}")
    for option, name in (("external", "External"), ("loader", "Loader"),
                         ("out-extension", "OutExtension")):  # fmt: skip
        arguments += [f"--{option}:{value}" for value in _listed(properties.get(name, []), name)]
    if properties.get("Banner"):
        arguments.append(f"--banner:{properties['Banner']}")
    if properties.get("MainFields"):
        fields = _listed(properties["MainFields"], "MainFields")
        arguments.append(f"--main-fields={','.join(fields)}")
    return arguments


def install_esbuild(cache: Path) -> Path:
    """The esbuild executable, from npm into the cache the first time."""
    manifest = {"name": "wslocal-esbuild", "private": True,
                "dependencies": {"esbuild": ESBUILD_VERSION}}  # fmt: skip
    target = cache / "node" / f"esbuild-{ESBUILD_VERSION}"
    npm.install_once({"package.json": json.dumps(manifest).encode()}, target, "esbuild")
    return target / "node_modules" / ".bin" / "esbuild"
