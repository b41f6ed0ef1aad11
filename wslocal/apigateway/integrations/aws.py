"""AWS integrations: a Lambda function without the proxy (its payload and answer through
mapping templates, its errors chosen by ``errorMessage``), or a service action sent to the
stage's engine (``arn:aws:apigateway:{region}:dynamodb:action/PutItem``,
``...:sqs:path/{account}/{queue}``), as API Gateway calls the service's own HTTP API."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from wslocal.apigateway.integration import ProxyResponse
from wslocal.apigateway.integrations.backend import (
    BackendRequest,
    BackendResponse,
    backend_url,
    with_default_content_type,
)
from wslocal.apigateway.integrations.exceptions import IntegrationError
from wslocal.apigateway.integrations.parameters import integration_parameters, mapped_value
from wslocal.apigateway.integrations.templates import Render, request_body, shaped_answer
from wslocal.apigateway.mapping import render_with_overrides
from wslocal.template.model import IntegrationModel

_SERVICE_URI = re.compile(r"^arn:[^:]+:apigateway:[^:]*:([^:]+):(action|path)/(.*)$")
JSON_PROTOCOL = {
    "dynamodb": ("DynamoDB_20120810", "application/x-amz-json-1.0"),
}
"""Services whose actions are posted as JSON with ``X-Amz-Target``."""
ENDPOINT_VARIABLES = {"dynamodb": "AWS_ENDPOINT_URL_DYNAMODB", "sqs": "AWS_ENDPOINT_URL_SQS"}
"""The engines the stage runs, by the service name an integration URI has."""


@dataclass(frozen=True)
class ServiceAction:
    service: str
    action: str | None
    """``action/PutItem``'s action; None for a ``path/...`` URI."""
    path: str = ""


def service_action(uri: str) -> ServiceAction:
    match = _SERVICE_URI.match(uri)
    if match is None:
        raise IntegrationError(f"{uri!r} is not an API Gateway service URI")
    service, style, rest = match.groups()
    if style == "action":
        return ServiceAction(service, rest.split("&", 1)[0])
    return ServiceAction(service, None, rest)


def service_request(
    integration: IntegrationModel,
    event: Mapping[str, Any],
    endpoint: str,
    renderer: Render = render_with_overrides,
) -> BackendRequest:
    """The service's HTTP request, unsigned; ``endpoint``: the stage's engine for it."""
    parameters = integration_parameters(integration.request_parameters, event)
    request = BackendRequest(
        method=integration.method,
        url=service_request_url(integration, event, endpoint),
        headers=tuple(parameters.headers.items()),
        body=request_body(integration, event, renderer).encode("utf-8"),
        timeout_s=integration.timeout_s,
    )
    return with_service_headers(request, service_action(integration.uri))


def service_request_url(
    integration: IntegrationModel, event: Mapping[str, Any], endpoint: str
) -> str:
    """``action/X`` of a JSON service: the endpoint's root; of a query service:
    ``?Action=X``; ``path/p``: the endpoint's ``/p``; the mapped query string added."""
    action = service_action(integration.uri)
    parameters = integration_parameters(integration.request_parameters, event)
    base = endpoint.rstrip("/")
    if action.action is not None and action.service in JSON_PROTOCOL:
        return backend_url(base + "/", parameters)
    if action.action is not None:
        return backend_url(f"{base}/?Action={action.action}", parameters)
    return backend_url(f"{base}/{action.path}", parameters)


def with_service_headers(request: BackendRequest, action: ServiceAction) -> BackendRequest:
    """A JSON service's ``X-Amz-Target`` and content type; a query service's form type
    unless the integration set one."""
    headers = dict(request.headers)
    if action.action is not None and action.service in JSON_PROTOCOL:
        prefix, content_type = JSON_PROTOCOL[action.service]
        headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
        headers["X-Amz-Target"] = f"{prefix}.{action.action}"
    elif action.action is not None:
        content_type = "application/x-www-form-urlencoded"
    else:
        content_type = "application/json"
    return replace(request, headers=with_default_content_type(headers, content_type))


def service_answer(
    integration: IntegrationModel,
    event: Mapping[str, Any],
    response: BackendResponse,
    renderer: Render = render_with_overrides,
) -> ProxyResponse:
    return shaped_answer(integration, event, response.status, response.body, renderer=renderer)


def lambda_payload(
    integration: IntegrationModel,
    event: Mapping[str, Any],
    renderer: Render = render_with_overrides,
) -> Any:
    """The function's event: the rendered template, as the JSON it is (Lambda receives its
    bytes; a template that is not JSON gets the text)."""
    rendered = request_body(integration, event, renderer)
    try:
        return json.loads(rendered)
    except ValueError:
        return rendered


def lambda_answer(
    integration: IntegrationModel,
    event: Mapping[str, Any],
    result: Any,
    renderer: Render = render_with_overrides,
) -> ProxyResponse:
    """The function's result, as JSON, through the ``$default`` integration response."""
    return shaped_answer(integration, event, 200, json.dumps(result), renderer=renderer)


def lambda_error_answer(
    integration: IntegrationModel,
    event: Mapping[str, Any],
    error: Mapping[str, Any],
    renderer: Render = render_with_overrides,
) -> ProxyResponse:
    """A function's error: the integration response whose pattern matches its
    ``errorMessage`` (else ``$default``) shapes the error document."""
    document = {key: error[key] for key in ("errorMessage", "errorType") if key in error}
    if "stackTrace" in error:
        document["stackTrace"] = error["stackTrace"]
    message = str(error.get("errorMessage", ""))
    return shaped_answer(
        integration, event, 200, json.dumps(document), error_message=message, renderer=renderer
    )


def sqs_send_message_request(
    integration: IntegrationModel, event: Mapping[str, Any], endpoint: str
) -> BackendRequest:
    """An HTTP API's ``SQS-SendMessage``: its fields from the request (``$request.body.x``,
    ``$request.header.x``, ``$context.x``, literals), as SQS's JSON protocol takes them."""
    fields: dict[str, Any] = {}
    for name, source in integration.request_parameters.items():
        if name == "Region":
            continue
        value = mapped_value(source, event)
        if name in ("MessageAttributes", "MessageSystemAttributes"):
            try:
                fields[name] = json.loads(value)
            except ValueError:
                raise IntegrationError(f"{name} is not JSON: {value!r}") from None
        elif name == "DelaySeconds":
            fields[name] = int(value) if value.isdigit() else value
        else:
            fields[name] = value
    return BackendRequest(
        method="POST",
        url=endpoint.rstrip("/") + "/",
        headers=(
            ("Content-Type", "application/x-amz-json-1.0"),
            ("X-Amz-Target", "AmazonSQS.SendMessage"),
        ),
        body=json.dumps(fields).encode("utf-8"),
        timeout_s=integration.timeout_s,
    )
