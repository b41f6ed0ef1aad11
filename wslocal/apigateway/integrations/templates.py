"""A request through its request template, an answer through its integration response:
the shaping every non-proxy integration (HTTP, MOCK, AWS) shares."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from wslocal.apigateway.integration import ProxyResponse
from wslocal.apigateway.integrations.exceptions import IntegrationError
from wslocal.apigateway.integrations.inputs import mapping_input
from wslocal.apigateway.integrations.selection import (
    PASSTHROUGH,
    integration_response,
    request_template,
    response_template,
)
from wslocal.apigateway.mapping import (
    MappingInput,
    MappingTemplate,
    MappingTemplateError,
    Rendering,
    render_with_overrides,
)
from wslocal.template.model import IntegrationModel

Render = Callable[[str, MappingInput], Rendering]
"""How a template is rendered (its output and the ``$context`` overrides it set):
``render_with_overrides`` parses it each time; ``CompiledTemplates.render`` parses each
text once."""


class CompiledTemplates:
    """Each template's text parsed once, for the stage's lifetime (a route renders the same
    templates for every message; parsing is most of a rendering's cost)."""

    def __init__(self, limit: int = 1024) -> None:
        self._compiled: dict[str, MappingTemplate] = {}
        self._limit = limit

    def render(self, template: str, given: MappingInput) -> Rendering:
        compiled = self._compiled.get(template)
        if compiled is None:
            compiled = MappingTemplate(template)
            if len(self._compiled) < self._limit:
                self._compiled[template] = compiled
        return render_with_overrides(compiled, given)


def request_body(
    integration: IntegrationModel,
    event: Mapping[str, Any],
    renderer: Render = render_with_overrides,
) -> str:
    """What the backend receives: the chosen request template rendered on the request, or
    the request's body when it passes through."""
    body = event.get("body")
    template = request_template(integration, body)
    if template is PASSTHROUGH:
        return str(body or "")
    try:
        return renderer(template, mapping_input(event)).body
    except MappingTemplateError as exc:
        raise IntegrationError(f"the request template does not render: {exc}") from exc


def shaped_answer(
    integration: IntegrationModel,
    event: Mapping[str, Any],
    status: int,
    body: str,
    error_message: str | None = None,
    renderer: Render = render_with_overrides,
) -> ProxyResponse:
    """The backend's answer through the integration response it selects (by ``status``,
    or by a Lambda's ``error_message``); the body unchanged when none has a template."""
    response = integration_response(integration, status, error_message)
    template = None if response is None else response_template(response, body, status)
    if template is None:
        return ProxyResponse(status, body)
    try:
        return ProxyResponse(status, renderer(template, mapping_input(event, body)).body)
    except MappingTemplateError as exc:
        raise IntegrationError(f"the response template does not render: {exc}") from exc
