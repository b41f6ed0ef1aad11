"""Real-shaped events as fixtures, loaded by one helper (Powertools' load_event)."""

import json
from typing import Any

from tests.support.paths import EVENTS


def load_event(name: str) -> dict[str, Any]:
    """The sample event ``events/<name>.json``, a fresh copy each time."""
    return json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8"))
