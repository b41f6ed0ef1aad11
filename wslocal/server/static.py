"""Serving the front end's static files, with a strict Content-Security-Policy that admits
connections to the page's own host and to the one API its ``config.js`` names."""

from __future__ import annotations

import mimetypes
import re
from pathlib import Path

_CONFIGURED_URL = re.compile(r"""websocketUrl\s*:\s*["'](wss?://[^"'/?#]+)""")


def content_security_policy(api_origin: str | None = None, *, for_meta: bool = False) -> str:
    """The page's policy: its own files only, and connections to its own host (CSP 3's
    'self' covers ws: and wss: to it) and to ``api_origin`` (the deployed API the page
    is configured for), no other server. ``for_meta``: the form a ``<meta>`` tag takes
    (hosting on S3/CloudFront sends no header), without the directives a meta ignores."""
    connect = " ".join(["'self'", *([api_origin] if api_origin else [])])
    directives = [
        "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
        f"connect-src {connect}", "object-src 'none'", "base-uri 'none'", "form-action 'self'",
        *([] if for_meta else ["frame-ancestors 'none'"]),
    ]  # fmt: skip
    return "; ".join(directives)


def configured_api_origin(static_dir: Path) -> str | None:
    """The origin of the API the page's ``config.js`` names (``wss://abc.execute-api...``),
    or None when it connects to the host that served it."""
    try:
        found = _CONFIGURED_URL.search((static_dir / "config.js").read_text(encoding="utf-8"))
    except OSError:
        return None
    return found.group(1) if found else None


def security_headers(static_dir: Path) -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(configured_api_origin(static_dir)),
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
