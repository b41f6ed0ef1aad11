"""Which request template a REST integration applies: the one keyed by the request's
Content-Type, ``application/json`` when the request has none (docs: "Method request
behavior for payloads without mapping templates for REST APIs in API Gateway")."""

from __future__ import annotations

from collections.abc import Mapping

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
