"""The values a template sees, shaped as API Gateway's Java objects behave in Velocity.

API Gateway runs Apache Velocity on the JVM: a template calls Java methods on what it gets
(``$s.length()``, ``$list.size()``, ``$map.keySet()``), a map renders as ``{a=1, b=2}``,
``true`` renders in lower case, and a null reference renders as nothing (its "quiet"
rendering; plain Velocity would print the reference's text). airspeed, the Python Velocity
engine, calls Python attributes and renders with ``str()``; the classes here give each value
the Java methods and the Java rendering, so the engine itself is used unchanged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any


class JavaNull:
    """Java's ``null`` as API Gateway renders it: empty text, false in ``#if``, and every
    property or call on it is null again (``$missing.a.b()`` renders nothing)."""

    __slots__ = ()

    def __str__(self) -> str:
        return ""

    def __repr__(self) -> str:
        return "null"

    def __bool__(self) -> bool:
        return False

    def __eq__(self, other: object) -> bool:
        return other is None or isinstance(other, JavaNull)

    def __hash__(self) -> int:
        return 0

    def __getitem__(self, _: object) -> JavaNull:
        return self

    def __getattr__(self, name: str) -> JavaNull:
        if name.startswith("_"):  # Python's own protocols (copy, pickle) are not names
            raise AttributeError(name)
        return self

    def __call__(self, *_: object) -> JavaNull:
        return self

    def __iter__(self) -> Iterator[Any]:
        return iter(())

    def __len__(self) -> int:
        return 0


NULL = JavaNull()


class JavaBoolean(int):
    """A JSON ``true``/``false``: renders as Java does (``true``), still a truth value
    for ``#if`` and equal to the template's own ``true``."""

    def __str__(self) -> str:
        return "true" if self else "false"

    __repr__ = __str__


def _java_text(value: Any) -> str:
    """A value as Java's ``toString()`` writes it inside a map or list."""
    if value is None or isinstance(value, JavaNull):
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class JavaString(str):
    """A Java String: its common methods, each returning Java-like values again."""

    def length(self) -> int:
        return len(self)

    def isEmpty(self) -> bool:
        return not self

    def equals(self, other: object) -> bool:
        return str(self) == other

    def equalsIgnoreCase(self, other: object) -> bool:
        return isinstance(other, str) and self.lower() == other.lower()

    def contains(self, part: str) -> bool:
        return str(part) in self

    def startsWith(self, prefix: str) -> bool:
        return self.startswith(prefix)

    def endsWith(self, suffix: str) -> bool:
        return self.endswith(suffix)

    def indexOf(self, part: str) -> int:
        return self.find(part)

    def lastIndexOf(self, part: str) -> int:
        return self.rfind(part)

    def charAt(self, index: int) -> JavaString:
        return JavaString(self[index])

    def substring(self, start: int, end: int | None = None) -> JavaString:
        if not 0 <= start <= (len(self) if end is None else end) <= len(self):
            raise IndexError(f"substring({start}, {end}) of a string of length {len(self)}")
        return JavaString(self[start:end])

    def toLowerCase(self) -> JavaString:
        return JavaString(self.lower())

    def toUpperCase(self) -> JavaString:
        return JavaString(self.upper())

    def trim(self) -> JavaString:
        return JavaString(self.strip(" \t\n\r\x0b\x0c\x00"))

    def toString(self) -> JavaString:
        return self

    def replace(self, old: str, new: str, count: int = -1) -> JavaString:  # type: ignore[override]
        return JavaString(str.replace(self, old, new, count))

    def matches(self, regex: str) -> bool:
        return re.fullmatch(regex, self) is not None

    def replaceAll(self, regex: str, replacement: str) -> JavaString:
        return JavaString(re.sub(regex, _python_replacement(replacement), self))

    def replaceFirst(self, regex: str, replacement: str) -> JavaString:
        return JavaString(re.sub(regex, _python_replacement(replacement), self, count=1))

    def split(self, regex: str, limit: int = 0) -> JavaList:  # type: ignore[override]
        parts = re.split(regex, self, maxsplit=max(limit - 1, 0))
        if limit == 0:
            while parts and not parts[-1]:
                parts.pop()
        return JavaList(JavaString(part) for part in parts)


def _python_replacement(replacement: str) -> str:
    """Java's replacement text (``$1`` a group, ``\\$`` a dollar) in Python's terms."""
    out = []
    i = 0
    while i < len(replacement):
        char = replacement[i]
        if char == "\\" and i + 1 < len(replacement):
            out.append(replacement[i + 1].replace("\\", "\\\\"))
            i += 2
            continue
        group = re.match(r"\$(\d+)", replacement[i:])
        if group:
            out.append(f"\\g<{group.group(1)}>")
            i += len(group.group(0))
            continue
        out.append("\\\\" if char == "\\" else char)
        i += 1
    return "".join(out)


class JavaList(list[Any]):
    """A Java List; renders as compact JSON, as API Gateway renders a JSON array."""

    def size(self) -> int:
        return len(self)

    def isEmpty(self) -> bool:
        return not self

    def get(self, index: int) -> Any:
        return self[index]

    def contains(self, value: object) -> bool:
        return value in self

    def add(self, value: Any) -> JavaBoolean:
        """Java's ``List.add``: renders ``true`` (``#set($_ = $list.add(x))`` hides it)."""
        self.append(java(value))
        return JavaBoolean(True)

    def __str__(self) -> str:
        return json.dumps(plain(self), separators=(",", ":"), ensure_ascii=False)


class JavaMap(dict[str, Any]):
    """A Java Map (a JSON object, ``$input.params()``): its methods, and ``{a=1, b=2}``
    when rendered. A missing key reads as null, as Velocity reads a Map."""

    def __getitem__(self, key: str) -> Any:
        if dict.__contains__(self, key):
            return dict.__getitem__(self, key)
        if isinstance(key, str) and hasattr(type(self), key):
            raise KeyError(key)  # a method: the engine then calls it
        return NULL

    def __setitem__(self, key: str, value: Any) -> None:
        dict.__setitem__(self, key, java(value))

    def get(self, key: str, default: Any = NULL) -> Any:
        return dict.get(self, key, default)

    def size(self) -> int:
        return len(self)

    def isEmpty(self) -> bool:
        return not self

    def containsKey(self, key: str) -> bool:
        return key in self

    def keySet(self) -> JavaList:
        return JavaList(self.keys())

    def values(self) -> JavaList:  # type: ignore[override]
        return JavaList(dict.values(self))

    def entrySet(self) -> JavaList:
        return JavaList(JavaMap(key=key, value=value) for key, value in self.items())

    def put(self, key: str, value: Any) -> Any:
        previous = dict.get(self, key, NULL)
        self[key] = value
        return previous

    def putAll(self, other: Mapping[str, Any]) -> None:
        for key, value in other.items():
            self[key] = value

    def remove(self, key: str) -> Any:
        return self.pop(key, NULL)

    def toString(self) -> JavaString:
        return JavaString(self)

    def __str__(self) -> str:
        return "{" + ", ".join(f"{key}={_java_text(value)}" for key, value in self.items()) + "}"

    __repr__ = __str__


def java(value: Any) -> Any:
    """A Python value (parsed JSON, a dict of parameters) as the template's Java value;
    a Java value is returned as is (the same object: templates change them in place)."""
    kind = type(value)
    if kind is str:
        return JavaString(value)
    if kind is dict:
        return JavaMap((str(key), java(item)) for key, item in value.items())
    if kind is int or kind is float:
        return value
    if isinstance(value, JavaNull | JavaBoolean | JavaString | JavaList | JavaMap):
        return value
    if value is None:
        return NULL
    if isinstance(value, bool):
        return JavaBoolean(value)
    if isinstance(value, str):
        return JavaString(value)
    if isinstance(value, Mapping):
        return JavaMap((str(key), java(item)) for key, item in value.items())
    if isinstance(value, list | tuple):
        return JavaList(java(item) for item in value)
    return value


def plain(value: Any) -> Any:
    """A template's value back as plain JSON-able Python (for ``$input.json``)."""
    if value is None or isinstance(value, JavaNull):
        return None
    if isinstance(value, JavaBoolean | bool):
        return bool(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, Iterable):
        return [plain(item) for item in value]
    if isinstance(value, int | float):
        return value
    return str(value)
