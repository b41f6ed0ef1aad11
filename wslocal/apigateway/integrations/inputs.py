"""What a mapping template sees of a request: the same event a Lambda proxy integration
gets, read as ``$input``, ``$context`` and ``$stageVariables``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wslocal.apigateway.mapping import MappingInput


def mapping_input(event: Mapping[str, Any], body: str | None = None) -> MappingInput:
    """The request's template input; ``body`` replaces the request's (a response template
    reads the backend's answer as ``$input``)."""
    return MappingInput(
        body=str(event.get("body") or "") if body is None else body,
        params={
            "path": dict(event.get("pathParameters") or {}),
            "querystring": dict(event.get("queryStringParameters") or {}),
            "header": dict(event.get("headers") or {}),
        },
        context=dict(event.get("requestContext") or {}),
        stage_variables=dict(event.get("stageVariables") or {}),
    )
