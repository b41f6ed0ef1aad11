"""Route selection, as API Gateway does it for WebSocket APIs.

The route selection expression is evaluated against the message body: ``$request.body.x``
or ``${request.body.x.y}`` (nested paths), several of them, and static text between them.
A missing path selects the empty string, a non-string value its JSON text. The result must
equal a route key exactly; otherwise, or when the body is not JSON, ``$default``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from typing import Any

DEFAULT_ROUTE = "$default"
RESERVED_ROUTES = frozenset({"$connect", "$disconnect", "$default"})

_VARIABLE = re.compile(r"\$\{request\.body\.([^}]*)\}|\$request\.body\.([A-Za-z0-9_\-.]+)")


def select_route(expression: str, body: str | None, route_keys: Collection[str]) -> str | None:
    """The route key a message goes to, or None when nothing matches and there is no
    ``$default`` route (the client then gets the Forbidden message)."""
    key = selection_key(expression, body)
    if key is not None and key in route_keys and key not in ("$connect", "$disconnect"):
        return key
    return DEFAULT_ROUTE if DEFAULT_ROUTE in route_keys else None


def selection_key(expression: str, body: str | None) -> str | None:
    """Evaluate the expression; None when the body is not a JSON object."""
    try:
        document = json.loads(body) if body is not None else None
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    return _VARIABLE.sub(
        lambda match: _lookup(document, match.group(1) or match.group(2)), expression
    )


def _lookup(document: dict[str, Any], path: str) -> str:
    value: Any = document
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return ""
        value = value[part]
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))
