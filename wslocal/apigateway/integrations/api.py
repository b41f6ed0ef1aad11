"""HTTP, HTTP_PROXY and AWS integrations of REST and HTTP APIs: the backend's request
from the method request, and the client's response from the backend's.

REST picks its request template by the request's ``Content-Type`` (``passthroughBehavior``
when none matches: pass through, or 415), its integration response by ``selectionPattern``
against the backend's status (or a Lambda's ``errorMessage``), whose ``statusCode``,
``responseParameters`` and ``responseTemplates`` make the method response. HTTP_PROXY
passes the request and the answer through; an HTTP API's parameter mapping
(``overwrite:``, ``append:``, ``remove:`` on ``header.``, ``querystring.``, ``path``)
changes the request on its way.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from wslocal.apigateway.integrations.backend import (
    BackendRequest,
    BackendResponse,
    Headers,
    backend_url,
    with_default_content_type,
)
from wslocal.apigateway.integrations.exceptions import EndpointTimeoutError, IntegrationError
from wslocal.apigateway.integrations.inputs import mapping_input
from wslocal.apigateway.integrations.mock import mock_status
from wslocal.apigateway.integrations.parameters import (
    IntegrationParameters,
    integration_parameters,
    mapped_value,
)
from wslocal.apigateway.integrations.selection import integration_response
from wslocal.apigateway.integrations.templates import Render
from wslocal.apigateway.mapping import (
    MappingTemplateError,
    Rendering,
    render_with_overrides,
    select_template,
)
from wslocal.apigateway.proxy.responses import ProxyResponse
from wslocal.template.model import IntegrationModel

JSON = "application/json"
_HOP_BY_HOP = {"host", "connection", "content-length", "transfer-encoding", "keep-alive"}


class UnsupportedMediaTypeError(IntegrationError):
    """No request template for the content type, and the passthrough behaviour refuses."""


def request_body(event: Mapping[str, Any]) -> bytes:
    body = event.get("body")
    if body is None:
        return b""
    if event.get("isBase64Encoded"):
        return base64.b64decode(str(body))
    return str(body).encode("utf-8")


def _header(event: Mapping[str, Any], name: str) -> str | None:
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name.lower():
            return str(value)
    return None


def _templated_body(
    integration: IntegrationModel, event: Mapping[str, Any], renderer: Render
) -> bytes:
    return _templated(integration, event, renderer).body.encode("utf-8", "surrogateescape")


def _templated(
    integration: IntegrationModel, event: Mapping[str, Any], renderer: Render
) -> Rendering:
    """The request template for the request's content type rendered (with the
    ``$context.requestOverride`` it set), or the body passed through."""
    content_type = _header(event, "Content-Type")
    template = select_template(integration.request_templates, content_type)
    if template is None:
        if integration.passthrough == "NEVER" or (
            integration.passthrough == "WHEN_NO_TEMPLATES" and integration.request_templates
        ):
            raise UnsupportedMediaTypeError(
                f"no request template for {content_type or JSON!r} "
                f"(passthroughBehavior {integration.passthrough})"
            )
        return Rendering(request_body(event).decode("utf-8", "surrogateescape"))
    try:
        return renderer(template, mapping_input(event))
    except MappingTemplateError as exc:
        raise IntegrationError(f"the request template does not render: {exc}") from exc


def rest_request(
    integration: IntegrationModel,
    event: Mapping[str, Any],
    url: str | None = None,
    renderer: Render = render_with_overrides,
) -> BackendRequest:
    """The backend's request; ``url``: a service engine's, else the integration's URI."""
    parameters = integration_parameters(integration.request_parameters, event)
    method = str(event.get("httpMethod") or "GET")
    if integration.kind == "HTTP_PROXY":
        path = {str(k): str(v) for k, v in (event.get("pathParameters") or {}).items()}
        filled = backend_url(integration.uri, _with_path(parameters, path))
        query = [
            (str(k), str(v))
            for k, values in (event.get("multiValueQueryStringParameters") or {}).items()
            for v in values
        ]
        headers = {
            str(k): str(v)
            for k, v in (event.get("headers") or {}).items()
            if str(k).lower() not in _HOP_BY_HOP
        }
        headers.update(parameters.headers)
        return BackendRequest(
            method=method if integration.method == "ANY" else integration.method,
            url=_with_query(filled, query),
            headers=tuple(headers.items()),
            body=request_body(event),
            timeout_s=integration.timeout_s,
        )
    rendered = _templated(integration, event, renderer)
    override = rendered.request_override
    parameters = IntegrationParameters(
        {**parameters.headers, **override.get("header", {})},
        {**parameters.query, **override.get("querystring", {})},
        {**parameters.path, **override.get("path", {})},
    )
    return BackendRequest(
        method=integration.method,
        url=url or backend_url(integration.uri, parameters),
        headers=with_default_content_type(dict(parameters.headers), JSON),
        body=rendered.body.encode("utf-8", "surrogateescape"),
        timeout_s=integration.timeout_s,
    )


def _with_path(parameters: Any, path: Mapping[str, str]) -> Any:
    return type(parameters)(parameters.headers, parameters.query, {**path, **parameters.path})


def _with_query(url: str, query: list[tuple[str, str]]) -> str:
    if not query:
        return url
    parts = urlsplit(url)
    joined = "&".join(part for part in (parts.query, urlencode(query)) if part)
    return urlunsplit(parts._replace(query=joined))


def rest_answer(
    integration: IntegrationModel,
    event: Mapping[str, Any],
    response: BackendResponse,
    error_message: str | None = None,
    renderer: Render = render_with_overrides,
) -> ProxyResponse:
    """The method response: the backend's as it is (HTTP_PROXY), or through the
    integration response its status (or ``error_message``) selects; with none selected
    (no pattern matches and no default), ``IntegrationError``: REST answers 500."""
    if integration.kind == "HTTP_PROXY":
        headers = [(k, v) for k, v in response.headers if k.lower() not in _HOP_BY_HOP]
        return ProxyResponse(response.status, headers, response.body.encode("utf-8"))
    chosen = integration_response(integration, response.status, error_message)
    if chosen is None:
        # API Gateway's words in the execution log; the client gets its 500.
        raise IntegrationError(
            "Execution failed due to configuration error: No match for output mapping and no"
            f" default output mapping configured. Endpoint Response Status Code: {response.status}"
        )
    rendered = Rendering(response.body)
    template = select_template(chosen.templates, JSON) if chosen.templates else None
    if template is not None:
        try:
            rendered = renderer(template, mapping_input(event, response.body))
        except MappingTemplateError as exc:
            raise IntegrationError(f"the response template does not render: {exc}") from exc
    # $context.responseOverride: what the response template set wins over the integration
    # response's status and header mappings (docs: "Override your API's request and
    # response parameters and status codes for REST APIs").
    mapped = {**_response_headers(chosen.parameters, response.headers), **rendered.response_headers}
    return ProxyResponse(
        rendered.response_status or chosen.status or 200,
        list(with_default_content_type(mapped, JSON)),
        rendered.body.encode(),
    )


def passed_through(response: BackendResponse) -> ProxyResponse:
    """An HTTP API's AWS service integration (a subtype): the service's answer as it is,
    its status and body (HTTP APIs have no integration responses)."""
    return ProxyResponse(response.status, [("Content-Type", JSON)], response.body.encode("utf-8"))


def rest_mock_answer(
    integration: IntegrationModel,
    event: Mapping[str, Any],
    renderer: Render = render_with_overrides,
) -> ProxyResponse:
    """A REST ``mock``: the request template's ``statusCode`` selects the integration
    response, whose template (rendered on an empty body) is the answer."""
    status = mock_status(_templated(integration, event, renderer).body)
    return rest_answer(integration, event, BackendResponse(status, ""), renderer=renderer)


def _response_headers(parameters: Mapping[str, str], backend: Headers) -> dict[str, str]:
    """``method.response.header.X`` from a literal or ``integration.response.header.Y``."""
    given = {name.lower(): value for name, value in backend}
    headers = {}
    for destination, source in parameters.items():
        if not destination.startswith("method.response.header."):
            continue
        name = destination.removeprefix("method.response.header.")
        if len(source) >= 2 and source.startswith("'") and source.endswith("'"):
            headers[name] = source[1:-1]
        elif source.startswith("integration.response.header."):
            value = given.get(source.removeprefix("integration.response.header.").lower())
            if value is not None:
                headers[name] = value
    return headers


def lambda_rest_payload(
    integration: IntegrationModel,
    event: Mapping[str, Any],
    renderer: Render = render_with_overrides,
) -> Any:
    """A Lambda non-proxy's event: the template for the request's content type rendered
    (as the JSON it is), or the body passed through."""
    rendered = _templated_body(integration, event, renderer).decode("utf-8")
    try:
        return json.loads(rendered)
    except ValueError:
        return rendered


def lambda_rest_answer(
    integration: IntegrationModel,
    event: Mapping[str, Any],
    result: Any,
    error: Any = None,
    renderer: Render = render_with_overrides,
) -> ProxyResponse:
    """A Lambda non-proxy's result (200) or error, through the integration responses."""
    if error is not None:
        document = {k: error[k] for k in ("errorMessage", "errorType") if k in error}
        message = str(error.get("errorMessage", ""))
        answer = BackendResponse(200, json.dumps(document))
        return rest_answer(integration, event, answer, message, renderer)
    return rest_answer(
        integration, event, BackendResponse(200, json.dumps(result)), renderer=renderer
    )


def failure(api_kind: str, error: IntegrationError) -> ProxyResponse:
    """What REST (504, 415, 500) and HTTP APIs (503, 500) answer when the integration gave
    no usable answer."""
    if isinstance(error, EndpointTimeoutError):
        status, message = (504, "Endpoint request timed out") if api_kind == "REST" else (
            503, "Service Unavailable"
        )  # fmt: skip
    elif isinstance(error, UnsupportedMediaTypeError):
        status, message = 415, "Unsupported Media Type"
    else:
        status = 500
        message = "Internal server error" if api_kind == "REST" else "Internal Server Error"
    return ProxyResponse(
        status, [("Content-Type", JSON)], json.dumps({"message": message}).encode()
    )


def http_api_request(integration: IntegrationModel, event: Mapping[str, Any]) -> BackendRequest:
    """An HTTP API's HTTP_PROXY request: the client's, through the parameter mapping."""
    headers = {
        str(k): str(v)
        for k, v in (event.get("headers") or {}).items()
        if str(k).lower() not in _HOP_BY_HOP
    }
    query = _client_query(event)
    uri = integration.uri
    for name, value in (event.get("pathParameters") or {}).items():
        uri = uri.replace("{" + str(name) + "+}", str(value)).replace(
            "{" + str(name) + "}", quote(str(value), safe="")
        )
    path: str | None = None
    for target, source in integration.request_parameters.items():
        action, _, where = target.partition(":")
        value = mapped_value(source, event)
        kind, _, name = where.partition(".")
        if kind == "header":
            key = next((k for k in headers if k.lower() == name.lower()), name)
            if action == "remove":
                headers.pop(key, None)
            elif action == "append" and key in headers:
                headers[key] = f"{headers[key]},{value}"
            else:
                headers[key] = value
        elif kind == "querystring":
            if action != "append":
                query = [pair for pair in query if pair[0] != name]
            if action != "remove":
                query.append((name, quote(value, safe="")))
        elif kind == "path" and action == "overwrite":
            path = value
        else:
            raise IntegrationError(f"parameter mapping {target!r} is not one API Gateway takes")
    parts = urlsplit(uri)
    if path is not None:
        parts = parts._replace(path=path)
    joined = "&".join(
        part for part in (parts.query, "&".join(f"{k}={v}" for k, v in query)) if part
    )
    uri = urlunsplit(parts._replace(query=joined))
    context = event.get("requestContext") or {}
    method = str(event.get("httpMethod") or context.get("http", {}).get("method", "GET"))
    return BackendRequest(
        method=method if integration.method == "ANY" else integration.method,
        url=uri,
        headers=tuple(headers.items()),
        body=request_body(event),
        timeout_s=integration.timeout_s,
    )


def _client_query(event: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The query string as the client sent it (payload 2.0's raw one, or 1.0's pairs)."""
    if "rawQueryString" in event:
        pairs = str(event.get("rawQueryString") or "").split("&")
        return [(name, value) for name, _, value in (p.partition("=") for p in pairs if p)]
    return [
        (str(k), quote(str(v), safe=""))
        for k, values in (event.get("multiValueQueryStringParameters") or {}).items()
        for v in values
    ]
