"""WebSocket integrations other than the Lambda proxy: an ``AWS::ApiGatewayV2::Integration``
of type HTTP, HTTP_PROXY, MOCK or AWS, with its ``AWS::ApiGatewayV2::IntegrationResponse``
resources, read into an ``IntegrationModel``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from wslocal.exceptions import TemplateError
from wslocal.template.model import IntegrationModel, IntegrationResponseModel
from wslocal.template.shapes import optional_text, whole_number

KINDS = ("AWS_PROXY", "AWS", "HTTP", "HTTP_PROXY", "MOCK")
PASSTHROUGH = ("WHEN_NO_MATCH", "WHEN_NO_TEMPLATES", "NEVER")
MIN_TIMEOUT_MS = 50
MAX_TIMEOUT_MS = 29_000
HTTP_API_MAX_TIMEOUT_MS = 30_000

SUBTYPES = ("SQS-SendMessage",)
"""HTTP APIs' first-class AWS integrations the stage serves."""
_SUBTYPE_FIELDS = {
    "SQS-SendMessage": (
        ("QueueUrl", "MessageBody"),
        ("DelaySeconds", "MessageAttributes", "MessageDeduplicationId", "MessageGroupId",
         "MessageSystemAttributes", "Region"),
    ),
}  # fmt: skip
_DESTINATION = re.compile(r"^integration\.request\.(header|querystring|path)\.[^.\s]+$")
_SOURCE = re.compile(
    r"^('.*'|context\.\S+|stageVariables\.\S+"
    r"|(route|method)\.request\.(header|querystring|path|body)\.\S+)$"
)
_HTTP_API_DESTINATION = re.compile(
    r"^(overwrite|append|remove):(header\.\S+|querystring\.\S+)$|^overwrite:path$"
)
_SERVICE_URI = re.compile(r"^arn:[^:]+:apigateway:[^:]*:[^:]+:(action|path)/.+")
_LAMBDA_INVOCATION = re.compile(r"^arn:[^:]+:apigateway:[^:]*:lambda:path/")


def is_lambda_invocation(uri: str) -> bool:
    """``arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/.../invocations``, or
    a function's own ARN: the AWS integration invokes a function."""
    return bool(_LAMBDA_INVOCATION.match(uri)) or (":lambda:" in uri and ":function:" in uri)


def integration_model(
    integration_id: str,
    properties: Mapping[str, Any],
    responses: list[Mapping[str, Any]],
    function: str | None,
    http_api: bool = False,
) -> IntegrationModel:
    """``function``: the logical id an AWS integration's URI names, when it is a Lambda's;
    ``http_api``: an HTTP API's (30 s at most, parameter mapping), else a WebSocket API's
    (29 s, ``integration.request.*`` parameters)."""
    max_timeout_ms = HTTP_API_MAX_TIMEOUT_MS if http_api else MAX_TIMEOUT_MS
    kind = properties.get("IntegrationType")
    uri = str(properties.get("IntegrationUri") or "")
    _check_uri(str(kind), uri, function, integration_id, "IntegrationUri")
    passthrough = str(properties.get("PassthroughBehavior") or "WHEN_NO_MATCH")
    if passthrough not in PASSTHROUGH:
        raise TemplateError(
            f"{passthrough!r} is not one of {', '.join(PASSTHROUGH)}",
            integration_id,
            "PassthroughBehavior",
        )
    timeout_ms = whole_number(
        properties.get("TimeoutInMillis") or None, MAX_TIMEOUT_MS, integration_id, "TimeoutInMillis"
    )
    if not MIN_TIMEOUT_MS <= timeout_ms <= max_timeout_ms:
        raise TemplateError(
            f"{timeout_ms} is not between {MIN_TIMEOUT_MS} and {max_timeout_ms}",
            integration_id,
            "TimeoutInMillis",
        )
    parameters = _strings(properties.get("RequestParameters"), integration_id)
    if http_api:
        check_parameter_mapping(parameters, integration_id, "RequestParameters")
    else:
        check_request_parameters(parameters, integration_id, "RequestParameters")
    return IntegrationModel(
        logical_id=integration_id,
        kind=str(kind),
        uri=uri,
        method=str(properties.get("IntegrationMethod") or "POST").upper(),
        timeout_s=timeout_ms / 1000,
        request_templates=_strings(properties.get("RequestTemplates"), integration_id),
        template_selection_expression=optional_text(
            properties.get("TemplateSelectionExpression"),
            integration_id,
            "TemplateSelectionExpression",
        ),
        passthrough=passthrough,
        request_parameters=parameters,
        responses=tuple(
            IntegrationResponseModel(
                key=str(response.get("IntegrationResponseKey") or "$default"),
                templates=_strings(response.get("ResponseTemplates"), integration_id),
                template_selection_expression=optional_text(
                    response.get("TemplateSelectionExpression"),
                    integration_id,
                    "IntegrationResponse.TemplateSelectionExpression",
                ),
            )
            for response in responses
        ),
        function=function,
        credentials=_optional(properties.get("CredentialsArn")),
    )


def _check_uri(kind: str, uri: str, function: str | None, where: str, prop: str) -> None:
    if kind in ("HTTP", "HTTP_PROXY") and not uri.startswith(("http://", "https://")):
        raise TemplateError(f"{uri!r} is not an http(s) URL", where, prop)
    if kind == "AWS" and function is None and not _SERVICE_URI.match(uri):
        raise TemplateError(
            f"{uri!r} is neither a function's invocation nor "
            "arn:aws:apigateway:{region}:{service}:action/{Action} (or :path/...)",
            where,
            prop,
        )


def _strings(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TemplateError(f"expected a map of strings, got {type(value).__name__}", where)
    return {str(key): str(item) for key, item in value.items()}


def _optional(value: Any) -> str | None:
    return None if value is None else str(value)


def openapi_integration(
    integration: Mapping[str, Any], function: str | None, where: str
) -> IntegrationModel:
    """An OpenAPI ``x-amazon-apigateway-integration`` of type http, http_proxy or aws (a
    REST API's, or an HTTP API's http_proxy); its ``responses`` are keyed by selection
    pattern, ``default`` for the rest."""
    kind = str(integration.get("type", "")).upper()
    uri = str(integration.get("uri") or "")
    _check_uri(kind, uri, function, where, "uri")
    passthrough = str(integration.get("passthroughBehavior") or "WHEN_NO_MATCH").upper()
    if passthrough not in PASSTHROUGH:
        raise TemplateError(
            f"{passthrough!r} is not one of {', '.join(PASSTHROUGH)}", where, "passthroughBehavior"
        )
    responses = []
    for pattern, response in (integration.get("responses") or {}).items():
        if not isinstance(response, Mapping):
            raise TemplateError(f"response {pattern!r} is not a map", where, "responses")
        responses.append(
            IntegrationResponseModel(
                key="$default" if pattern == "default" else str(pattern),
                templates=_strings(response.get("responseTemplates"), where),
                status=int(response.get("statusCode", 200)),
                parameters=_strings(response.get("responseParameters"), where),
            )
        )
    parameters = _strings(integration.get("requestParameters"), where)
    if kind == "HTTP_PROXY" and any(":" in key.split(".")[0] for key in parameters):
        check_parameter_mapping(parameters, where, "requestParameters")
    else:
        check_request_parameters(parameters, where, "requestParameters")
    return IntegrationModel(
        kind=kind,
        logical_id=where,
        uri=uri,
        method=str(integration.get("httpMethod") or "POST").upper(),
        timeout_s=float(integration.get("timeoutInMillis") or MAX_TIMEOUT_MS) / 1000,
        request_templates=_strings(integration.get("requestTemplates"), where),
        passthrough=passthrough,
        request_parameters=parameters,
        responses=tuple(responses),
        function=function,
        credentials=_optional(integration.get("credentials")),
    )


def subtype_integration(integration_id: str, properties: Mapping[str, Any]) -> IntegrationModel:
    """An HTTP API's ``IntegrationSubtype`` integration, its required fields checked."""
    subtype = str(properties.get("IntegrationSubtype"))
    parameters = _strings(properties.get("RequestParameters"), integration_id)
    required, optional = _SUBTYPE_FIELDS[subtype]
    missing = [name for name in required if name not in parameters]
    unknown = [name for name in parameters if name not in (*required, *optional)]
    if missing or unknown:
        problem = f"missing {', '.join(missing)}" if missing else f"unknown {', '.join(unknown)}"
        raise TemplateError(f"{subtype}: {problem}", integration_id, "RequestParameters")
    timeout_ms = int(properties.get("TimeoutInMillis") or 30_000)
    return IntegrationModel(
        logical_id=integration_id,
        kind="AWS",
        uri=f"arn:aws:apigateway:{parameters.get('Region', '')}:sqs:action/SendMessage",
        timeout_s=timeout_ms / 1000,
        request_parameters=parameters,
        credentials=_optional(properties.get("CredentialsArn")),
        subtype=subtype,
    )


def check_request_parameters(parameters: Mapping[str, str], where: str, prop: str) -> None:
    """WebSocket and REST ``RequestParameters``: ``integration.request.{header,querystring,
    path}.name`` from a request parameter, ``context.*``, ``stageVariables.*`` or a
    ``'literal'``; anything else is refused at start, not answered 500 at each call."""
    for destination, source in parameters.items():
        if not _DESTINATION.match(destination):
            raise TemplateError(
                f"{destination!r} is not an integration request parameter", where, prop
            )
        if not _SOURCE.match(source):
            raise TemplateError(f"{source!r} is not a source API Gateway maps from", where, prop)


def check_parameter_mapping(parameters: Mapping[str, str], where: str, prop: str) -> None:
    """An HTTP API's parameter mapping: ``overwrite:``, ``append:`` or ``remove:`` on
    ``header.name`` or ``querystring.name``, or ``overwrite:path``."""
    for destination in parameters:
        if not _HTTP_API_DESTINATION.match(destination):
            raise TemplateError(f"{destination!r} is not a parameter mapping", where, prop)
