"""The request templates a template declares, found by route: a WebSocket route's
integration (``AWS::ApiGatewayV2::Route`` -> ``Integration.RequestTemplates``), a REST
method (``AWS::ApiGateway::Method``'s ``Integration.RequestTemplates``, its path built
from its resources) or an OpenAPI body's ``x-amazon-apigateway-integration``.

For ``wslocal render-template``: it reads templates as written (a ``Fn::Sub`` template is
taken as its text), and never needs the rest of the stage's model.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from wslocal.exceptions import TemplateError

_SUB_NAME = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.[^}]*)?\}")
_HTTP_METHODS = (
    "get", "put", "post", "delete", "patch", "head", "options", "x-amazon-apigateway-any-method",
)  # fmt: skip


@dataclass(frozen=True)
class RequestTemplates:
    """One integration's request templates and where they were found."""

    route: str
    """The WebSocket route key, or ``METHOD /path`` for a REST method."""
    api: str
    """The logical id of the API."""
    integration: str
    """The logical id of the integration (or of the method / the API, for OpenAPI)."""
    templates: Mapping[str, str]
    selection_expression: str | None = None
    """WebSocket: the integration's ``TemplateSelectionExpression``; REST: None."""
    websocket: bool = False


def request_templates(resources: Mapping[str, Any]) -> list[RequestTemplates]:
    """Every integration in ``resources`` that has request templates."""
    return [
        *_websocket_integrations(resources),
        *_rest_methods(resources),
        *_openapi_bodies(resources),
    ]


def find_request_templates(
    resources: Mapping[str, Any], route: str | None, integration: str | None, api: str | None
) -> RequestTemplates:
    """The one integration named by route key (``sendMessage``, ``POST /pets``) or by
    logical id; a TemplateError listing what there is when none or several fit."""
    found = request_templates(resources)
    fits = [
        each
        for each in found
        if (route is None or _same_route(each.route, route))
        and (integration is None or each.integration == integration)
        and (api is None or each.api == api)
    ]
    if len(fits) == 1:
        return fits[0]
    listing = ", ".join(f"{each.route} ({each.api}.{each.integration})" for each in found)
    if not fits:
        raise TemplateError(
            "no integration with request templates matches"
            + (f"; there are: {listing}" if found else ": the template has none")
        )
    raise TemplateError(
        f"several integrations match ({listing}): name one with --api or --integration"
    )


def _same_route(declared: str, wanted: str) -> bool:
    if declared == wanted:
        return True
    method, _, path = wanted.partition(" ")
    declared_method, _, declared_path = declared.partition(" ")
    return bool(path) and method.upper() == declared_method and path == declared_path


def _mentions(value: Any) -> set[str]:
    """The logical ids a property names (``Ref``, ``Fn::GetAtt``, ``${X}`` in ``Fn::Sub``)."""
    if isinstance(value, str):
        return set(_SUB_NAME.findall(value))
    if isinstance(value, list):
        return set().union(*(_mentions(item) for item in value)) if value else set()
    if isinstance(value, Mapping):
        if "Ref" in value and isinstance(value["Ref"], str):
            return {value["Ref"]}
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return {str(target[0] if isinstance(target, list) else str(target).split(".")[0])}
        return set().union(*(_mentions(item) for item in value.values())) if value else set()
    return set()


def _text(value: Any, where: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        text = sub[0] if isinstance(sub, list) and sub else sub
        if isinstance(text, str):
            return text
    raise TemplateError("a request template must be text", where, "RequestTemplates")


def _templates(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(key): _text(template, where) for key, template in value.items()}


def _of_type(resources: Mapping[str, Any], kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for logical_id, resource in resources.items():
        if isinstance(resource, Mapping) and resource.get("Type") == kind:
            yield logical_id, dict(resource.get("Properties") or {})


def _websocket_integrations(resources: Mapping[str, Any]) -> Iterator[RequestTemplates]:
    integrations = dict(_of_type(resources, "AWS::ApiGatewayV2::Integration"))
    for logical_id, route in _of_type(resources, "AWS::ApiGatewayV2::Route"):
        for target in _mentions(route.get("Target")) & integrations.keys():
            properties = integrations[target]
            templates = _templates(properties.get("RequestTemplates"), target)
            if templates:
                yield RequestTemplates(
                    route=str(route.get("RouteKey", logical_id)),
                    api=next(iter(_mentions(route.get("ApiId"))), ""),
                    integration=target,
                    templates=templates,
                    selection_expression=properties.get("TemplateSelectionExpression"),
                    websocket=True,
                )


def _rest_methods(resources: Mapping[str, Any]) -> Iterator[RequestTemplates]:
    paths = dict(_of_type(resources, "AWS::ApiGateway::Resource"))

    def path_of(resource: Any, depth: int = 0) -> str:
        parent = next(iter(_mentions(resource) & paths.keys()), None)
        if parent is None or depth > 50:
            return ""
        properties = paths[parent]
        return (
            path_of(properties.get("ParentId"), depth + 1) + "/" + str(properties.get("PathPart"))
        )

    for logical_id, method in _of_type(resources, "AWS::ApiGateway::Method"):
        integration = method.get("Integration") or {}
        templates = _templates(integration.get("RequestTemplates"), logical_id)
        if templates:
            yield RequestTemplates(
                route=f"{str(method.get('HttpMethod', 'ANY')).upper()} "
                + (path_of(method.get("ResourceId")) or "/"),
                api=next(iter(_mentions(method.get("RestApiId"))), ""),
                integration=logical_id,
                templates=templates,
            )


def _openapi_bodies(resources: Mapping[str, Any]) -> Iterator[RequestTemplates]:
    for kind, key in (
        ("AWS::Serverless::Api", "DefinitionBody"),
        ("AWS::ApiGateway::RestApi", "Body"),
    ):
        for logical_id, api in _of_type(resources, kind):
            body = api.get(key)
            paths = body.get("paths") if isinstance(body, Mapping) else None
            for path, operations in (paths or {}).items():
                for method, operation in (operations or {}).items():
                    if method.lower() not in _HTTP_METHODS or not isinstance(operation, Mapping):
                        continue
                    integration = operation.get("x-amazon-apigateway-integration") or {}
                    templates = _templates(integration.get("requestTemplates"), logical_id)
                    if templates:
                        verb = "ANY" if method.startswith("x-amazon") else method.upper()
                        yield RequestTemplates(
                            route=f"{verb} {path}",
                            api=logical_id,
                            integration=logical_id,
                            templates=templates,
                        )
