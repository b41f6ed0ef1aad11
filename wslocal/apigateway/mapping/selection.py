"""Which request template an integration applies. REST: the one keyed by the request's
Content-Type, ``application/json`` when the request has none (docs: "Method request
behavior for payloads without mapping templates for REST APIs in API Gateway").
WebSocket: the one its ``TemplateSelectionExpression`` names."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from wslocal.apigateway.mapping.java import JavaNull, java
from wslocal.apigateway.mapping.jsonpath import read_path

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


_BODY_EXPRESSION = re.compile(r"^\$\{?request\.body\.?(?P<path>[^}]*)\}?$")


def select_websocket_template(
    templates: Mapping[str, str], expression: str | None, body: str
) -> str | None:
    """The WebSocket integration's template: its ``TemplateSelectionExpression``
    (``${request.body.<jsonpath>}``, or a static key such as ``\\$default``) evaluated on
    the frame, then the ``$default`` template when that key has none; None when neither
    exists (the ``PassthroughBehavior`` decides). Docs: "Data transformations for
    WebSocket APIs in API Gateway", "Template selection expressions"."""
    key = _websocket_template_key(expression or "\\$default", body)
    if key is not None and key in templates:
        return templates[key]
    return templates.get("$default")


def _websocket_template_key(expression: str, body: str) -> str | None:
    match = _BODY_EXPRESSION.match(expression.strip())
    if match is None:
        return expression.strip().replace("\\$", "$")
    try:
        document = json.loads(body)
    except ValueError:
        return None
    value = read_path(java(document), "$" + ("." + match["path"] if match["path"] else ""))
    if isinstance(value, JavaNull):
        return None
    return str(value)
