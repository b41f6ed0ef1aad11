"""Which request template an integration applies. REST: the one keyed by the request's
Content-Type, ``application/json`` when the request has none (docs: "Method request
behavior for payloads without mapping templates for REST APIs in API Gateway").
WebSocket: the one its ``TemplateSelectionExpression`` names."""

from __future__ import annotations

from collections.abc import Mapping

from wslocal.apigateway.routing import selection_key

DEFAULT_CONTENT_TYPE = "application/json"


def media_type(content_type: str | None) -> str:
    """``Application/JSON; charset=utf-8`` -> ``application/json``; none -> the default."""
    if content_type is None or not content_type.strip():
        return DEFAULT_CONTENT_TYPE
    return content_type.split(";", 1)[0].strip().lower()


def select_template(templates: Mapping[str, str], content_type: str | None) -> str | None:
    """The template for the request's content type, or None: then the integration's
    ``passthroughBehavior`` decides (pass the body through, or 415)."""
    wanted = media_type(content_type)
    for key, template in templates.items():
        if media_type(key) == wanted:
            return template
    return None


def select_websocket_template(
    templates: Mapping[str, str], expression: str | None, body: str
) -> str | None:
    """The WebSocket integration's template: its ``TemplateSelectionExpression``
    (``${request.body.<path>}`` variables and static text, or a static key such as
    ``\\$default``) evaluated on the frame as a route selection expression is, then the
    ``$default`` template when that key has none; None when neither exists (the
    ``PassthroughBehavior`` decides). Docs: "Data transformations for WebSocket APIs in
    API Gateway", "WebSocket selection expressions"."""
    key = _websocket_template_key(expression or "\\$default", body)
    if key is not None and key in templates:
        return templates[key]
    return templates.get("$default")


def _websocket_template_key(expression: str, body: str) -> str | None:
    """The key the expression gives (``\\$`` is a literal dollar); None when it reads
    the frame and the frame is not a JSON object."""
    expression = expression.strip()
    reads_frame = "$request.body" in expression or "${request.body" in expression
    key = selection_key(expression, body) if reads_frame else expression
    return None if key is None else key.replace("\\$", "$")
