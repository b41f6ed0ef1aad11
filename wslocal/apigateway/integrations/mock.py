"""MOCK: no backend. The request template's ``statusCode`` selects the integration
response, whose template is the answer (a WebSocket ping route, a REST stub)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from wslocal.apigateway.integration import ProxyResponse
from wslocal.apigateway.integrations.exceptions import IntegrationError
from wslocal.apigateway.integrations.templates import Render, request_body, shaped_answer
from wslocal.apigateway.mapping import render_with_overrides
from wslocal.template.model import IntegrationModel


def mock_status(rendered: str) -> int:
    """The ``statusCode`` the request template wrote; 200 when it wrote none."""
    try:
        document = json.loads(rendered) if rendered.strip() else {}
    except ValueError:
        document = {}
    if not isinstance(document, dict) or "statusCode" not in document:
        return 200
    try:
        return int(document["statusCode"])
    except (TypeError, ValueError):
        raise IntegrationError(
            f"the MOCK's statusCode {document['statusCode']!r} is not a number"
        ) from None


def mock_answer(
    integration: IntegrationModel,
    event: Mapping[str, Any],
    renderer: Render = render_with_overrides,
) -> ProxyResponse:
    status = mock_status(request_body(integration, event, renderer))
    return shaped_answer(integration, event, status, "", renderer=renderer)
