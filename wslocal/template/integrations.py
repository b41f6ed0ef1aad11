"""WebSocket integrations other than the Lambda proxy: an ``AWS::ApiGatewayV2::Integration``
of type HTTP, HTTP_PROXY, MOCK or AWS, with its ``AWS::ApiGatewayV2::IntegrationResponse``
resources, read into an ``IntegrationModel``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from wslocal.exceptions import TemplateError
from wslocal.template.model import IntegrationModel, IntegrationResponseModel

KINDS = ("AWS_PROXY", "AWS", "HTTP", "HTTP_PROXY", "MOCK")
PASSTHROUGH = ("WHEN_NO_MATCH", "WHEN_NO_TEMPLATES", "NEVER")
MIN_TIMEOUT_MS = 50
MAX_TIMEOUT_MS = 29_000

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
) -> IntegrationModel:
    """``function``: the logical id an AWS integration's URI names, when it is a Lambda's."""
    kind = properties.get("IntegrationType")
    uri = str(properties.get("IntegrationUri") or "")
    if kind in ("HTTP", "HTTP_PROXY") and not uri.startswith(("http://", "https://")):
        raise TemplateError(f"{uri!r} is not an http(s) URL", integration_id, "IntegrationUri")
    passthrough = str(properties.get("PassthroughBehavior") or "WHEN_NO_MATCH")
    if passthrough not in PASSTHROUGH:
        raise TemplateError(
            f"{passthrough!r} is not one of {', '.join(PASSTHROUGH)}",
            integration_id,
            "PassthroughBehavior",
        )
    timeout_ms = int(properties.get("TimeoutInMillis") or MAX_TIMEOUT_MS)
    if not MIN_TIMEOUT_MS <= timeout_ms <= MAX_TIMEOUT_MS:
        raise TemplateError(
            f"{timeout_ms} is not between {MIN_TIMEOUT_MS} and {MAX_TIMEOUT_MS}",
            integration_id,
            "TimeoutInMillis",
        )
    return IntegrationModel(
        kind=str(kind),
        uri=uri,
        method=str(properties.get("IntegrationMethod") or "POST").upper(),
        timeout_s=timeout_ms / 1000,
        request_templates=_strings(properties.get("RequestTemplates"), integration_id),
        template_selection_expression=_optional(properties.get("TemplateSelectionExpression")),
        passthrough=passthrough,
        request_parameters=_strings(properties.get("RequestParameters"), integration_id),
        responses=tuple(
            IntegrationResponseModel(
                key=str(response.get("IntegrationResponseKey") or "$default"),
                templates=_strings(response.get("ResponseTemplates"), integration_id),
                template_selection_expression=_optional(
                    response.get("TemplateSelectionExpression")
                ),
            )
            for response in responses
        ),
        function=function,
        credentials=_optional(properties.get("CredentialsArn")),
    )


def _strings(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TemplateError(f"expected a map of strings, got {type(value).__name__}", where)
    return {str(key): str(item) for key, item in value.items()}


def _optional(value: Any) -> str | None:
    return None if value is None else str(value)
