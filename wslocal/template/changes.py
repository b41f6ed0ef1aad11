"""What an edit of the template changed, for the stage to apply and to say.

Pure: two models in, one ``TemplateChanges`` out. The stage replaces only what changed,
so an edit of one route keeps every connection, every warm worker of the other
functions, and every stream position of the untouched event sources.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from wslocal.template.model import StageModel


@dataclass(frozen=True)
class Changed:
    """Names added, removed, and changed (present in both, defined differently)."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    def describe(self, what: str) -> str:
        parts = [f"+{name}" for name in self.added]
        parts += [f"-{name}" for name in self.removed]
        parts += [f"~{name}" for name in self.changed]
        return f"{what} {' '.join(parts)}"

    @property
    def gone_or_changed(self) -> tuple[str, ...]:
        return self.removed + self.changed


def _compare(old: Mapping[str, Any], new: Mapping[str, Any]) -> Changed:
    return Changed(
        added=tuple(sorted(new.keys() - old.keys())),
        removed=tuple(sorted(old.keys() - new.keys())),
        changed=tuple(sorted(k for k in old.keys() & new.keys() if old[k] != new[k])),
    )


@dataclass(frozen=True)
class TemplateChanges:
    api_replaced: bool = False
    """The WebSocket API is another resource now: its connections do not survive."""
    api_settings: bool = False
    """Same API, another route selection expression."""
    routes: Changed = Changed()
    functions: Changed = Changed()
    tables: Changed = Changed()
    queues: Changed = Changed()
    event_sources: Changed = Changed()
    proxy_apis: Changed = Changed()
    """REST and HTTP APIs: a changed one answers by its new routes at once."""

    def __bool__(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self))

    def describe(self) -> str:
        """One line for the log: ``routes +ping; functions ~EchoFn; tables +Orders``."""
        parts = []
        if self.api_replaced:
            parts.append("the WebSocket API was replaced")
        if self.api_settings:
            parts.append("the route selection expression")
        for name in ("routes", "functions", "tables", "queues", "event_sources", "proxy_apis"):
            changed: Changed = getattr(self, name)
            if changed:
                label = "REST/HTTP APIs" if name == "proxy_apis" else name.replace("_", " ")
                parts.append(changed.describe(label))
        return "; ".join(parts) or "nothing the stage serves"


def compare(old: StageModel, new: StageModel) -> TemplateChanges:
    """The differences that matter to a running stage."""

    def by_id(items: tuple[Any, ...]) -> dict[str, Any]:
        return {item.logical_id: item for item in items}

    def sources(model: StageModel) -> dict[str, Any]:
        found: tuple[Any, ...] = (*model.stream_sources, *model.queue_sources)
        return {source.name: source for source in found}

    return TemplateChanges(
        api_replaced=old.api_logical_id != new.api_logical_id,
        api_settings=old.route_selection_expression != new.route_selection_expression,
        routes=_compare(old.routes, new.routes),
        functions=_compare(old.functions, new.functions),
        tables=_compare(by_id(old.tables), by_id(new.tables)),
        queues=_compare(by_id(old.queues), by_id(new.queues)),
        event_sources=_compare(sources(old), sources(new)),
        proxy_apis=_compare(by_id(old.proxy_apis), by_id(new.proxy_apis)),
    )
