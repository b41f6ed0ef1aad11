"""Mapping templates: API Gateway's Velocity, on airspeed, with its variables ($input,
$util, $context, $stageVariables) and their documented quirks. Pure: no sockets, no
asyncio. ``render`` parses the template on each call; a route that renders the same
template per request keeps a ``MappingTemplate`` and calls ``render_compiled``, or
``render_with_overrides`` for what the template set in ``$context.requestOverride`` and
``$context.responseOverride`` too.

On the way back (integration responses), ``body`` is the backend's body and ``params``
still the method request's parameters, as on API Gateway.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from wslocal.apigateway.mapping.engine import MappingTemplate
from wslocal.apigateway.mapping.overrides import Rendering
from wslocal.apigateway.mapping.selection import (
    DEFAULT_CONTENT_TYPE,
    media_type,
    select_template,
    select_websocket_template,
)
from wslocal.apigateway.mapping.variables import InputVariable
from wslocal.exceptions import MappingBodyNotJsonError, MappingTemplateError

__all__ = [
    "DEFAULT_CONTENT_TYPE",
    "MappingBodyNotJsonError",
    "MappingInput",
    "MappingTemplate",
    "MappingTemplateError",
    "Rendering",
    "media_type",
    "render",
    "render_compiled",
    "render_with_overrides",
    "select_template",
    "select_websocket_template",
]


@dataclass(frozen=True)
class MappingInput:
    """What one rendering sees: ``$input`` (body, params), ``$context``, ``$stageVariables``."""

    body: str
    """The request body, the WebSocket frame, or (integration response) the backend's body."""
    params: Mapping[str, Mapping[str, str]]
    """``{"path": {...}, "querystring": {...}, "header": {...}}``; a missing part is empty."""
    context: Mapping[str, Any]
    """``$context``: nested dicts (``identity``, ``authorizer``, ...)."""
    stage_variables: Mapping[str, str] = field(default_factory=dict)


def render(template: str, given: MappingInput) -> str:
    """The template's output on ``given``, as API Gateway would send it.

    Raises ``MappingTemplateError`` (reason, line, column) when the template does not parse
    or a directive fails; ``MappingBodyNotJsonError`` (a subclass, API Gateway's 400) when
    it reads ``$input.json``/``$input.path`` of a body that is not JSON."""
    return render_compiled(MappingTemplate(template), given)


def render_compiled(template: MappingTemplate, given: MappingInput) -> str:
    """``render`` with a template parsed beforehand (no parsing per request)."""
    return render_with_overrides(template, given).body


def render_with_overrides(template: MappingTemplate | str, given: MappingInput) -> Rendering:
    """The output and what the template set in ``$context.requestOverride`` (headers,
    query string, path of the integration request) and ``$context.responseOverride``
    (headers and status of the method response)."""
    compiled = template if isinstance(template, MappingTemplate) else MappingTemplate(template)
    return compiled.render(
        InputVariable(given.body, given.params), given.context, given.stage_variables
    )
