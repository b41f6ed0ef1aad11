"""The per-user cache: what the stage fetches or builds once (DynamoDB Local from npm,
functions' dependencies) and keeps across runs and projects."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

CACHE_VARIABLE = "WSLOCAL_CACHE_DIR"


def cache_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """``$WSLOCAL_CACHE_DIR``, else ``$XDG_CACHE_HOME/wslocal``, else ``~/.cache/wslocal``."""
    if environ.get(CACHE_VARIABLE):
        return Path(environ[CACHE_VARIABLE])
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "wslocal"
