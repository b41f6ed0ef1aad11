"""Which route of a REST or HTTP API answers a request, as API Gateway chooses.

Paths are matched segment by segment: a literal segment beats a ``{parameter}``, which
beats a greedy ``{name+}`` (one or more segments, only last); on the same path an
explicit method beats ``ANY``. An HTTP API's ``$default`` route takes whatever nothing
else matched. The stage, when it is in the path (REST's ``/Prod``, an HTTP API's named
stage), is taken off first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import unquote

from wslocal.template.model import ProxyApiModel, ProxyRouteModel


@dataclass(frozen=True)
class RouteMatch:
    route: ProxyRouteModel
    path: str
    """The request's path without the stage (REST's ``path``)."""
    path_parameters: dict[str, str]
    """Decoded; a greedy ``{proxy+}`` is under ``proxy``."""


def strip_stage(api: ProxyApiModel, path: str) -> str | None:
    """The path without the API's stage; None when the request is not under it."""
    if not api.stage_in_path:
        return path
    prefix = f"/{api.stage_name}"
    if path == prefix or path.startswith(f"{prefix}/"):
        return path[len(prefix) :] or "/"
    return None


def match_route(api: ProxyApiModel, method: str, request_path: str) -> RouteMatch | None:
    """The route for ``method`` on ``request_path`` (the path as sent, stage included)."""
    path = strip_stage(api, request_path)
    if path is None:
        return None
    segments = _segments(path)
    best: tuple[tuple[int, ...], ProxyRouteModel, dict[str, str]] | None = None
    for route in api.routes:
        if route.path == "$default" or route.method not in (method, "ANY"):
            continue
        parameters = _match(_segments(route.path), segments)
        if parameters is None:
            continue
        rank = (*_specificity(route.path), 1 if route.method == method else 0)
        if best is None or rank > best[0]:
            best = (rank, route, parameters)
    if best is not None:
        return RouteMatch(best[1], path, best[2])
    default = next((route for route in api.routes if route.path == "$default"), None)
    return RouteMatch(default, path, {}) if default is not None else None


def _segments(path: str) -> list[str]:
    return [segment for segment in path.split("/") if segment]


def _match(template: Sequence[str], segments: Sequence[str]) -> dict[str, str] | None:
    parameters: dict[str, str] = {}
    for index, part in enumerate(template):
        if part.startswith("{") and part.endswith("+}"):
            rest = segments[index:]
            if not rest or index != len(template) - 1:
                return None
            parameters[part[1:-2]] = unquote("/".join(rest))
            return parameters
        if index >= len(segments):
            return None
        if part.startswith("{") and part.endswith("}"):
            parameters[part[1:-1]] = unquote(segments[index])
        elif part != segments[index]:
            return None
    return parameters if len(template) == len(segments) else None


def _specificity(path: str) -> tuple[int, ...]:
    """Per segment: literal 3, parameter 2, greedy 1; compared left to right."""
    ranks = []
    for part in _segments(path):
        if part.startswith("{") and part.endswith("+}"):
            ranks.append(1)
        elif part.startswith("{"):
            ranks.append(2)
        else:
            ranks.append(3)
    return tuple(ranks)
