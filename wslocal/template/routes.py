"""Routes of the WebSocket API: each route's integration (a Lambda proxy's function, or
an ``IntegrationModel``), its route response and its REQUEST authorizer."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from wslocal.exceptions import TemplateError
from wslocal.template.integrations import KINDS, integration_model, is_lambda_invocation
from wslocal.template.intrinsics import Resolver
from wslocal.template.model import AuthorizerModel, IntegrationModel, RouteModel
from wslocal.template.shapes import reading

_FUNCTION_ARN = re.compile(r"arn:[^:]+:lambda:[^:]*:[^:]*:function:([^/:]+)")


def function_for_uri(uri: Any, functions_by_name: Mapping[str, str], where: str, prop: str) -> str:
    match = _FUNCTION_ARN.search(str(uri))
    if match is None or match.group(1) not in functions_by_name:
        raise TemplateError(f"{uri!r} does not name a function of this template", where, prop)
    return functions_by_name[match.group(1)]


def routes_of_api(
    resources: Mapping[str, Any],
    api_logical_id: str,
    resolver: Resolver,
    functions_by_name: Mapping[str, str],
) -> dict[str, RouteModel]:
    def of_api(kind: str) -> dict[str, tuple[str, dict[str, Any]]]:
        """The API's resources of ``kind`` by what ``Ref`` gives for them (their id, as
        other resources name them), each with its logical id and resolved properties."""
        found = {}
        for logical_id, resource in resources.items():
            with reading(logical_id):
                if resource.get("Type") != kind:
                    continue
                properties = resolver.resolve(resource.get("Properties") or {}, logical_id)
                if properties.get("ApiId") == resolver.resolve({"Ref": api_logical_id}):
                    found[str(resolver.resolve({"Ref": logical_id}))] = (logical_id, properties)
        return found

    integrations = of_api("AWS::ApiGatewayV2::Integration")
    authorizers = of_api("AWS::ApiGatewayV2::Authorizer")
    two_way = {
        str(p.get("RouteId")) for _, p in of_api("AWS::ApiGatewayV2::RouteResponse").values()
    }
    responses_by_integration: dict[str, list[Mapping[str, Any]]] = {}
    for _, response in of_api("AWS::ApiGatewayV2::IntegrationResponse").values():
        responses_by_integration.setdefault(str(response.get("IntegrationId")), []).append(response)
    routes: dict[str, RouteModel] = {}
    for route_id, (logical_id, properties) in of_api("AWS::ApiGatewayV2::Route").items():
        with reading(logical_id):
            key = properties.get("RouteKey")
            if not isinstance(key, str):
                raise TemplateError("is required", logical_id, "RouteKey")
            target = str(properties.get("Target", ""))
            if target.removeprefix("integrations/") not in integrations:
                raise TemplateError(
                    f"Target {target!r} is not an integration of this API", logical_id, "Target"
                )
            integration_id, integration = integrations[target.removeprefix("integrations/")]
            function, custom = _integration(
                integration_id,
                integration,
                responses_by_integration.get(target.removeprefix("integrations/"), []),
                functions_by_name,
            )
            authorizer = None
            if properties.get("AuthorizationType") == "CUSTOM":
                authorizer = _authorizer(
                    properties.get("AuthorizerId"), authorizers, functions_by_name, logical_id
                )
            elif properties.get("AuthorizationType") not in (None, "NONE"):
                raise TemplateError(
                    f"AuthorizationType {properties['AuthorizationType']} is not emulated",
                    logical_id,
                    "AuthorizationType",
                )
            routes[key] = RouteModel(
                route_key=key,
                function=function,
                two_way=route_id in two_way,
                authorizer=authorizer,
                integration=custom,
            )
    return routes


def _integration(
    integration_id: str,
    properties: Mapping[str, Any],
    responses: list[Mapping[str, Any]],
    functions_by_name: Mapping[str, str],
) -> tuple[str | None, IntegrationModel | None]:
    """The function of a Lambda proxy integration, or the model of any other kind."""
    kind = properties.get("IntegrationType")
    if kind not in KINDS:
        raise TemplateError(
            f"IntegrationType {kind!r} is not one of {', '.join(KINDS)}",
            integration_id,
            "IntegrationType",
        )
    uri = properties.get("IntegrationUri")
    if kind == "AWS_PROXY":
        return function_for_uri(uri, functions_by_name, integration_id, "IntegrationUri"), None
    function = None
    if kind == "AWS" and is_lambda_invocation(str(uri)):
        function = function_for_uri(uri, functions_by_name, integration_id, "IntegrationUri")
    return None, integration_model(integration_id, properties, responses, function)


def _authorizer(
    authorizer_id: Any,
    authorizers: Mapping[str, tuple[str, Mapping[str, Any]]],
    functions_by_name: Mapping[str, str],
    route: str,
) -> AuthorizerModel:
    if authorizer_id not in authorizers:
        raise TemplateError("does not name an authorizer of this API", route, "AuthorizerId")
    logical_id, properties = authorizers[authorizer_id]
    if properties.get("AuthorizerType") != "REQUEST":
        raise TemplateError("only REQUEST authorizers are emulated", logical_id, "AuthorizerType")
    return AuthorizerModel(
        logical_id=logical_id,
        function=function_for_uri(
            properties.get("AuthorizerUri"), functions_by_name, logical_id, "AuthorizerUri"
        ),
        identity_sources=tuple(properties.get("IdentitySource") or ()),
    )
