"""An HTTP API's routes written as resources: ``AWS::ApiGatewayV2::Route``s with their
``Integration``s and the ``Authorizer``s they name (the form without an OpenAPI body),
read into the same route and authorizer models as the OpenAPI form."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wslocal.exceptions import TemplateError
from wslocal.template.integrations import (
    SUBTYPES,
    integration_model,
    subtype_integration,
)
from wslocal.template.intrinsics import Resolver
from wslocal.template.model import (
    IntegrationModel,
    ProxyAuthorizerModel,
    ProxyRouteModel,
)
from wslocal.template.routes import function_for_uri
from wslocal.template.shapes import whole_number

HTTP_TIMEOUT_S = 30.0
"""An HTTP API integration's timeout when it names none."""


def v2_routes(
    api: str,
    resources: Mapping[str, Any],
    resolver: Resolver,
    functions_by_name: Mapping[str, str],
    skipped: list[str],
) -> tuple[list[ProxyRouteModel], dict[str, ProxyAuthorizerModel]]:
    """Routes written as ``AWS::ApiGatewayV2::Route`` resources with their integrations,
    and the ``AWS::ApiGatewayV2::Authorizer`` resources they name (by logical id)."""
    api_ref = resolver.resolve({"Ref": api})
    integrations: dict[str, Mapping[str, Any]] = {}
    authorizers: dict[str, ProxyAuthorizerModel] = {}
    by_ref: dict[str, str] = {}
    integration_ids: dict[str, str] = {}
    routes: list[tuple[str, Mapping[str, Any]]] = []
    for logical_id, resource in resources.items():
        kind = resource.get("Type")
        if kind not in (
            "AWS::ApiGatewayV2::Integration",
            "AWS::ApiGatewayV2::Route",
            "AWS::ApiGatewayV2::Authorizer",
        ):
            continue
        properties = resolver.resolve(resource.get("Properties") or {}, logical_id)
        if properties.get("ApiId") != api_ref:
            continue
        if kind == "AWS::ApiGatewayV2::Integration":
            integrations[str(resolver.resolve({"Ref": logical_id}))] = properties
            integration_ids[str(resolver.resolve({"Ref": logical_id}))] = logical_id
        elif kind == "AWS::ApiGatewayV2::Authorizer":
            authorizer = _v2_authorizer(logical_id, properties, functions_by_name, skipped)
            if authorizer is not None:
                authorizers[logical_id] = authorizer
                by_ref[str(resolver.resolve({"Ref": logical_id}))] = logical_id
        else:
            routes.append((logical_id, properties))
    found = []
    for logical_id, properties in routes:
        key = str(properties.get("RouteKey", ""))
        method, _, path = key.partition(" ")
        if key != "$default" and not path.startswith("/"):
            raise TemplateError(f"{key!r} is not METHOD /path or $default", logical_id, "RouteKey")
        target = str(properties.get("Target", "")).removeprefix("integrations/")
        integration = integrations.get(target)
        if integration is None:
            skipped.append(f"{api} {key}: its integration is not emulated (Lambda proxy)")
            continue
        served = _v2_integration(
            integration, integration_ids[target], functions_by_name, logical_id
        )
        if served is None:
            what = integration.get("IntegrationSubtype") or integration.get("IntegrationType")
            skipped.append(f"{api} {key}: its {what} integration is not emulated")
            continue
        function, model = served
        found.append(
            ProxyRouteModel(
                method="ANY" if key == "$default" else method.upper(),
                path="$default" if key == "$default" else path,
                function=function,
                payload_format=str(integration.get("PayloadFormatVersion", "2.0")),
                timeout_s=float(integration.get("TimeoutInMillis", HTTP_TIMEOUT_S * 1000)) / 1000,
                authorizer=_v2_route_authorizer(logical_id, properties, by_ref, api, key, skipped),
                scopes=tuple(str(scope) for scope in properties.get("AuthorizationScopes") or ()),
                integration=model,
            )
        )
    return found, authorizers


def _v2_authorizer(
    logical_id: str,
    properties: Mapping[str, Any],
    functions_by_name: Mapping[str, str],
    skipped: list[str],
) -> ProxyAuthorizerModel | None:
    """An HTTP API's ``AWS::ApiGatewayV2::Authorizer``: a Lambda ``REQUEST`` one, or
    ``JWT``."""
    kind = str(properties.get("AuthorizerType", "")).upper()
    sources = properties.get("IdentitySource") or []
    if isinstance(sources, str):
        sources = [source.strip() for source in sources.split(",") if source.strip()]
    identity = tuple(str(source) for source in sources)
    if kind == "REQUEST":
        return ProxyAuthorizerModel(
            name=logical_id,
            kind="REQUEST",
            function=function_for_uri(
                properties.get("AuthorizerUri"), functions_by_name, logical_id, "AuthorizerUri"
            ),
            identity_sources=identity,
            ttl_s=whole_number(
                properties.get("AuthorizerResultTtlInSeconds"),
                0,
                logical_id,
                "AuthorizerResultTtlInSeconds",
            ),
            payload_format=str(properties.get("AuthorizerPayloadFormatVersion", "2.0")),
            simple_responses=str(properties.get("EnableSimpleResponses", False)).lower() == "true",
        )
    if kind == "JWT":
        config = properties.get("JwtConfiguration") or {}
        audience = config.get("Audience") or []
        return ProxyAuthorizerModel(
            name=logical_id,
            kind="JWT",
            identity_sources=identity or ("$request.header.Authorization",),
            issuer=str(config.get("Issuer", "")) or None,
            audience=tuple(str(a) for a in ([audience] if isinstance(audience, str) else audience)),
        )
    skipped.append(f"{logical_id}: authorizer type {kind!r} is not emulated")
    return None


def _v2_route_authorizer(
    logical_id: str,
    properties: Mapping[str, Any],
    by_ref: Mapping[str, str],
    api: str,
    key: str,
    skipped: list[str],
) -> str | None:
    """The authorizer (logical id) a route's ``AuthorizationType`` and ``AuthorizerId``
    name; None for an open route, or one whose authorization is not emulated (said)."""
    kind = str(properties.get("AuthorizationType", "NONE")).upper()
    if kind == "NONE":
        return None
    if kind not in ("CUSTOM", "JWT"):
        skipped.append(f"{api} {key}: its {kind} authorization is not emulated; served open")
        return None
    authorizer = by_ref.get(str(properties.get("AuthorizerId")))
    if authorizer is None:
        raise TemplateError(
            f"names no authorizer of {api} (AuthorizationType {kind})", logical_id, "AuthorizerId"
        )
    return authorizer


def _v2_integration(
    integration: Mapping[str, Any],
    integration_id: str,
    functions_by_name: Mapping[str, str],
    route: str,
) -> tuple[str | None, IntegrationModel | None] | None:
    """An HTTP API integration: a Lambda proxy's function, an HTTP_PROXY or a first-class
    AWS integration's model; None when the stage does not serve it."""
    kind = integration.get("IntegrationType")
    subtype = integration.get("IntegrationSubtype")
    if subtype is not None:
        if subtype not in SUBTYPES:
            return None
        return None, subtype_integration(integration_id, integration)
    if kind == "HTTP_PROXY":
        return None, integration_model(integration_id, integration, [], None, http_api=True)
    if kind == "AWS_PROXY":
        function = function_for_uri(
            integration.get("IntegrationUri"), functions_by_name, route, "Target"
        )
        return function, None
    return None
