"""HTTP and HTTP_PROXY integrations: the web server's request, shaped from the route's.

HTTP renders the request template (the seed's
``{"connectionId": "$context.connectionId", "message": $input.json('$.message')}``) and
reads the answer through an integration response; HTTP_PROXY sends the frame as it came
and returns the server's body as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wslocal.apigateway.integration import ProxyResponse
from wslocal.apigateway.integrations.backend import (
    BackendRequest,
    BackendResponse,
    backend_url,
    with_default_content_type,
)
from wslocal.apigateway.integrations.parameters import integration_parameters
from wslocal.apigateway.integrations.templates import Render, request_body, shaped_answer
from wslocal.apigateway.mapping import render_with_overrides
from wslocal.template.model import IntegrationModel


def http_request(
    integration: IntegrationModel,
    event: Mapping[str, Any],
    renderer: Render = render_with_overrides,
) -> BackendRequest:
    proxy = integration.kind == "HTTP_PROXY"
    body = str(event.get("body") or "") if proxy else request_body(integration, event, renderer)
    parameters = integration_parameters(integration.request_parameters, event)
    return BackendRequest(
        method=integration.method,
        url=backend_url(integration.uri, parameters),
        headers=with_default_content_type(dict(parameters.headers), "application/json"),
        body=body.encode("utf-8"),
        timeout_s=integration.timeout_s,
    )


def http_answer(
    integration: IntegrationModel,
    event: Mapping[str, Any],
    response: BackendResponse,
    renderer: Render = render_with_overrides,
) -> ProxyResponse:
    if integration.kind == "HTTP_PROXY":
        return ProxyResponse(response.status, response.body)
    return shaped_answer(integration, event, response.status, response.body, renderer=renderer)
