"""Which request template, which integration response and which response template API
Gateway uses for a WebSocket route's integration.

The integration's ``TemplateSelectionExpression`` (``\\$default``, ``$request.body.action``)
picks a key of its ``RequestTemplates``, ``$default`` when nothing else matches;
``PassthroughBehavior`` says what happens when no template applies. Integration responses
are keyed by a status pattern (``/4\\d\\d/``) for HTTP backends or an error-message regex
for Lambda, with ``$default`` for the rest.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from wslocal.apigateway.integrations.exceptions import IntegrationError
from wslocal.apigateway.routing import selection_key
from wslocal.template.model import IntegrationModel, IntegrationResponseModel

DEFAULT = "$default"
PASSTHROUGH = None
"""No template applies and the body passes through as it came."""


def template_key(expression: str | None, body: str | None) -> str:
    """The selection expression's value for this message (``\\$default`` is ``$default``)."""
    if not expression:
        return DEFAULT
    literal = expression.replace("\\$", "$")
    if "$request." not in literal and "${request." not in literal:
        return literal
    return selection_key(expression, body) or DEFAULT


def request_template(integration: IntegrationModel, body: str | None) -> str | None:
    """The request template to render, or ``PASSTHROUGH``; raises IntegrationError when the
    passthrough behaviour refuses a message no template matches."""
    templates = integration.request_templates
    key = template_key(integration.template_selection_expression, body)
    chosen = _template(templates, key)
    if chosen is not None:
        return chosen
    if integration.passthrough == "WHEN_NO_MATCH" or (
        integration.passthrough == "WHEN_NO_TEMPLATES" and not templates
    ):
        return PASSTHROUGH
    raise IntegrationError(
        f"no request template for {key!r} (PassthroughBehavior {integration.passthrough}): "
        "Unsupported Media Type"
    )


def _template(templates: Mapping[str, str], key: str) -> str | None:
    if key in templates:
        return templates[key]
    return templates.get(DEFAULT)


def integration_response(
    integration: IntegrationModel, status: int | None = None, error_message: str | None = None
) -> IntegrationResponseModel | None:
    """The integration response for a backend's status (HTTP, MOCK) or a Lambda's error
    message (None when the function returned): the first whose pattern matches, else
    ``$default``, else None (the backend's body passes through)."""
    subject = error_message if error_message is not None else None
    if subject is None and status is not None and integration.function is None:
        subject = str(status)
    default = None
    for response in integration.responses:
        if response.key == DEFAULT:
            default = response
        elif subject is not None and _pattern_matches(response.key, subject):
            return response
    return default


def _pattern_matches(key: str, subject: str) -> bool:
    """``/4\\d\\d/`` or a bare regex, matched against the whole subject, as Java's
    ``String.matches`` does."""
    pattern = key[1:-1] if len(key) >= 2 and key.startswith("/") and key.endswith("/") else key
    try:
        return re.fullmatch(pattern, subject, re.DOTALL) is not None
    except re.error:
        return False


def response_template(
    response: IntegrationResponseModel, body: str | None, status: int | None = None
) -> str | None:
    """The integration response's template for the backend's answer, its selection
    expression read against the answer (``$integration.response.statuscode``, or a
    literal); None: none applies, the body goes back as the backend sent it."""
    if not response.templates:
        return None
    expression = response.template_selection_expression
    if expression and status is not None:
        for variable in ("${integration.response.statuscode}", "$integration.response.statuscode"):
            expression = expression.replace(variable, str(status))
    key = template_key(expression, body)
    return _template(response.templates, key)
