"""The template's outline, checked before anything is read: every resource a map with a
string ``Type``, ``Properties`` and a function's ``Events`` maps, ``Globals`` sections
maps. A template is input nobody here wrote; what does not fit gets a ``TemplateError``
naming the resource and the property, never a traceback (``reading`` is the last net,
naming at least the resource)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from wslocal.exceptions import TemplateError

UNEXPECTED_SHAPES = (TypeError, ValueError, AttributeError, KeyError, IndexError)


def check_outline(document: Mapping[str, Any]) -> None:
    for section in ("Parameters", "Conditions", "Mappings", "Globals", "Outputs"):
        if document.get(section) is not None and not isinstance(document[section], Mapping):
            raise TemplateError(f"the {section} section is not a map")
    for name, values in (document.get("Globals") or {}).items():
        if not isinstance(values, Mapping):
            raise TemplateError(f"Globals.{name} is not a map")
    for name, parameter in (document.get("Parameters") or {}).items():
        if not isinstance(parameter, Mapping):
            raise TemplateError("is not a map", str(name))
    for logical_id, resource in document["Resources"].items():
        where = str(logical_id)
        if not isinstance(resource, Mapping):
            raise TemplateError("is not a map with a Type", where)
        if not isinstance(resource.get("Type"), str):
            raise TemplateError("is missing or not a string", where, "Type")
        if "Condition" in resource and not isinstance(resource["Condition"], str):
            raise TemplateError("is not the name of a condition", where, "Condition")
        properties = resource.get("Properties")
        if properties is not None and not isinstance(properties, Mapping):
            raise TemplateError("is not a map", where, "Properties")
        if resource["Type"] == "AWS::Serverless::Function":
            _check_events(where, (properties or {}).get("Events"))


def _check_events(where: str, events: Any) -> None:
    if events is None:
        return
    if not isinstance(events, Mapping):
        raise TemplateError("is not a map of events", where, "Events")
    for name, event in events.items():
        if not isinstance(event, Mapping) or not isinstance(event.get("Type"), str):
            raise TemplateError("is not an event with a Type", where, f"Events.{name}")
        if event.get("Properties") is not None and not isinstance(event["Properties"], Mapping):
            raise TemplateError("is not a map", where, f"Events.{name}.Properties")


@contextmanager
def reading(where: str | None) -> Iterator[None]:
    """Read one resource: a value of a shape the reader did not expect becomes a
    TemplateError naming it."""
    try:
        yield
    except UNEXPECTED_SHAPES as exc:
        raise TemplateError(
            f"a value has a shape the stage cannot read ({type(exc).__name__}: {exc})", where
        ) from None


def whole_number(value: Any, default: int, where: str, prop: str) -> int:
    """A property that is a whole number (a TTL, a timeout): anything else is refused,
    naming the resource and the property."""
    if value is None:
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise TemplateError(f"{value!r} is not a whole number", where, prop) from None


def optional_text(value: Any, where: str, prop: str) -> str | None:
    """A property that is text when present (an expression): a list or a map is refused,
    naming the resource and the property."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise TemplateError(f"expected text, got {type(value).__name__}", where, prop)
