"""CodeWatcher: a changed file under a function's CodeUri or a layer's ContentUri
replaces that function's warm workers; connections, data and the other functions stay.

Uses ``watchfiles`` (Rust's notify: inotify on Linux, FSEvents on macOS), with its
default filter (no ``__pycache__``, ``.git``, editor swap files).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from wslocal.template import StageModel

log = logging.getLogger("wslocal")


class Reloadable(Protocol):
    async def reload_function(self, function: str) -> None: ...


def watched_folders(model: StageModel) -> list[Path]:
    """Every function's code folder and every layer folder, once each."""
    folders = {f.code_dir.resolve() for f in model.functions.values()}
    folders |= {layer.resolve() for f in model.functions.values() for layer in f.layer_dirs}
    return sorted(folders)


def functions_changed(model: StageModel, paths: Iterable[Path]) -> dict[str, list[str]]:
    """Which functions a set of changed files concerns, with the files' names: a file in
    a layer concerns every function that uses the layer."""
    changed: dict[str, list[str]] = {}
    for path in paths:
        resolved = path.resolve()
        for name, function in model.functions.items():
            folders = (function.code_dir, *function.layer_dirs)
            if any(resolved.is_relative_to(folder.resolve()) for folder in folders):
                changed.setdefault(name, []).append(resolved.name)
    return {name: sorted(set(files)) for name, files in changed.items()}


class CodeWatcher:
    def __init__(self, model: StageModel, stage: Reloadable, debounce_ms: int = 100) -> None:
        self._model = model
        self._stage = stage
        self._debounce_ms = debounce_ms

    async def run(self) -> None:
        """Watch until cancelled."""
        from watchfiles import awatch

        folders = watched_folders(self._model)
        async for changes in awatch(*folders, debounce=self._debounce_ms, recursive=True):
            paths = [Path(path) for _, path in changes]
            for function, files in sorted(functions_changed(self._model, paths).items()):
                await self._stage.reload_function(function)
                log.info("reloaded %s: %s changed", function, ", ".join(files))
