"""The stage's watchers: a changed file under a function's CodeUri or a layer's
ContentUri replaces that function's warm workers (CodeWatcher); an edited template
reloads what it changed (TemplateWatcher). Connections and data stay.

Uses ``watchfiles`` (Rust's notify: inotify on Linux, FSEvents on macOS), with its
default filter (no ``__pycache__``, ``.git``, editor swap files).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

from wslocal.template import StageModel

log = logging.getLogger("wslocal")


class Reloadable(Protocol):
    model: StageModel

    async def reload_function(self, function: str) -> None: ...

    async def reload_template(self) -> Any: ...


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
    """Watches the folders of the stage's current model; ``refresh`` after the model
    changed starts watching the new set."""

    def __init__(self, stage: Reloadable, debounce_ms: int = 100) -> None:
        self._stage = stage
        self._debounce_ms = debounce_ms
        self._refresh = asyncio.Event()

    def refresh(self) -> None:
        self._refresh.set()

    async def run(self) -> None:
        """Watch until cancelled."""
        from watchfiles import awatch

        while True:
            self._refresh.clear()
            folders = watched_folders(self._stage.model)
            async for changes in awatch(
                *folders, debounce=self._debounce_ms, recursive=True, stop_event=self._refresh
            ):
                paths = [Path(path) for _, path in changes]
                for function, files in sorted(functions_changed(self._stage.model, paths).items()):
                    if function in self._stage.model.functions:
                        await self._stage.reload_function(function)
                        log.info("reloaded %s: %s changed", function, ", ".join(files))


class TemplateWatcher:
    """Watches the template's folder (not its subfolders) for writes to the template:
    editors that save by renaming a new file over it are seen too."""

    def __init__(self, template: Path, stage: Reloadable, debounce_ms: int = 200) -> None:
        self._template = template.resolve()
        self._stage = stage
        self._debounce_ms = debounce_ms

    def _is_template(self, _change: Any, path: str) -> bool:
        return Path(path) == self._template

    async def run(self) -> None:
        from watchfiles import awatch

        async for _ in awatch(
            self._template.parent,
            debounce=self._debounce_ms,
            recursive=False,
            watch_filter=self._is_template,
        ):
            if self._template.exists():
                await self._stage.reload_template()
