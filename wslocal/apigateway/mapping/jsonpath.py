"""JSONPath as ``$input.path`` and ``$input.json`` read it (API Gateway uses Jayway's
JsonPath): a *definite* path (``$.a.b``, ``$.a[0]``, ``$['a b']``) gives one value, or null
when it is not there; any other (``$..a``, ``$.a[*].b``, filters, slices) gives the list of
what matched, empty when nothing did.

The common definite paths are walked directly (a template calls them on every request);
the rest go to jsonpath-ng's parser.
"""

from __future__ import annotations

import re
from typing import Any

from jsonpath_ng import Child, Fields, Index, Root, This
from jsonpath_ng.ext.parser import parse as parse_jsonpath

from wslocal.apigateway.mapping.java import NULL, JavaList

_DEFINITE = re.compile(r"\$(?:\.[\w$-]+|\[\d+\]|\['[^']*'\]|\[\"[^\"]*\"\])*")
_STEP = re.compile(r"\.([\w$-]+)|\[(\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")


def read_path(document: Any, path: str) -> Any:
    """What ``path`` selects in ``document`` (Java values in, the same objects out)."""
    path = path.strip()
    if _DEFINITE.fullmatch(path):
        return _walk(document, [_key(step) for step in _STEP.finditer(path, 1)])
    try:
        expression = parse_jsonpath(path)
    except Exception as exc:  # jsonpath-ng raises bare Exceptions for bad syntax
        raise ValueError(f"invalid JSONPath {path!r}: {exc}") from None
    matches = [match.value for match in expression.find(document)]
    if _is_definite(expression):
        return matches[0] if matches else NULL
    return JavaList(matches)


def _key(step: re.Match[str]) -> str | int:
    name, index, single, double = step.groups()
    if index is not None:
        return int(index)
    return next(part for part in (name, single, double) if part is not None)


def _walk(document: Any, keys: list[str | int]) -> Any:
    value = document
    for key in keys:
        if isinstance(key, int) and isinstance(value, list):
            if key >= len(value):
                return NULL
            value = value[key]
        elif isinstance(key, str) and isinstance(value, dict) and key in value:
            value = dict.__getitem__(value, key)
        else:
            return NULL
    return value


def _is_definite(expression: Any) -> bool:
    if isinstance(expression, Root | This):
        return True
    if isinstance(expression, Child):
        return _is_definite(expression.left) and _is_definite(expression.right)
    if isinstance(expression, Fields):
        return len(expression.fields) == 1 and expression.fields[0] != "*"
    return isinstance(expression, Index) and len(getattr(expression, "indices", [0])) == 1
