"""``$context.requestOverride`` and ``$context.responseOverride``: what a template sets
there replaces the integration request's headers, query string and path parameters, or
the method response's headers and status (docs: "Override your API's request and
response parameters and status codes for REST APIs in API Gateway")."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from wslocal.apigateway.mapping.java import JavaMap, JavaNull, plain
from wslocal.exceptions import MappingTemplateError

REQUEST_PARTS = ("header", "path", "querystring")


@dataclass(frozen=True)
class Rendering:
    """A template's output and the overrides it set."""

    body: str
    request_override: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """``{"header": {...}, "path": {...}, "querystring": {...}}``: only what was set."""
    response_headers: Mapping[str, str] = field(default_factory=dict)
    response_status: int | None = None


def with_override_maps(context: JavaMap) -> JavaMap:
    """``$context`` with empty override maps for the template to ``#set`` into."""
    context.setdefault("requestOverride", JavaMap((part, JavaMap()) for part in REQUEST_PARTS))
    context.setdefault("responseOverride", JavaMap(header=JavaMap()))
    return context


def rendering(body: str, context: JavaMap) -> Rendering:
    """What the template set, read back from ``$context`` after it ran."""
    request = context.get("requestOverride")
    response = context.get("responseOverride")
    request_override = {
        part: _strings(request.get(part)) for part in REQUEST_PARTS if isinstance(request, dict)
    }
    return Rendering(
        body=body,
        request_override={part: values for part, values in request_override.items() if values},
        response_headers=_strings(response.get("header")) if isinstance(response, dict) else {},
        response_status=_status(response.get("status")) if isinstance(response, dict) else None,
    )


def _strings(values: Any) -> dict[str, str]:
    if not isinstance(values, dict):
        return {}
    return {
        str(key): str(value)
        for key, value in values.items()
        if not isinstance(value, JavaNull) and value is not None
    }


def _status(value: Any) -> int | None:
    if value is None or isinstance(value, JavaNull):
        return None
    try:
        status = int(str(plain(value)))
    except ValueError:
        raise MappingTemplateError(
            f"$context.responseOverride.status {value!r} is not a status"
        ) from None
    if not 100 <= status <= 599:
        raise MappingTemplateError(f"$context.responseOverride.status {status} is not a status")
    return status
