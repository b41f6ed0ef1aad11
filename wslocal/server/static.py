"""Serving the front end's static files, with a strict Content-Security-Policy."""

from __future__ import annotations

import mimetypes
from pathlib import Path

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    # The page's own host (CSP 3's 'self' covers ws: and wss: to it) and API Gateway's
    # endpoints, for a config.js that names the deployed API; no other server.
    "connect-src 'self' wss://*.amazonaws.com; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def resolve_static(root: Path, url_path: str) -> Path | None:
    """The file under ``root`` that ``url_path`` names, or None (never outside root)."""
    relative = url_path.lstrip("/") or "index.html"
    candidate = (root / relative).resolve()
    if not candidate.is_relative_to(root.resolve()):
        return None
    if candidate.is_dir():
        candidate = candidate / "index.html"
    return candidate if candidate.is_file() else None


def content_type(path: Path) -> str:
    guessed = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if guessed.startswith("text/") or guessed in ("application/javascript", "application/json"):
        guessed += "; charset=utf-8"
    return guessed
