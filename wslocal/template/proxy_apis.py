"""The template's REST APIs (``AWS::ApiGateway::RestApi``) and HTTP APIs
(``AWS::ApiGatewayV2::Api`` with ``ProtocolType: HTTP``), read from their OpenAPI
``Body`` (what aws-sam-translator makes of ``AWS::Serverless::Api``, ``HttpApi`` and
``Events: Api|HttpApi``, or a template's own ``DefinitionBody``) and, for HTTP APIs, from
``AWS::ApiGatewayV2::Route`` resources, for REST APIs from ``AWS::ApiGateway::Method``
resources (``rest_resources``). Each method of each path becomes a ``ProxyRouteModel``;
integrations the stage does not serve are listed as not emulated."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from wslocal.exceptions import TemplateError
from wslocal.template import http_api_routes
from wslocal.template.http_api_routes import HTTP_TIMEOUT_S
from wslocal.template.integrations import (
    is_lambda_invocation,
    openapi_integration,
)
from wslocal.template.intrinsics import Resolver
from wslocal.template.model import (
    CorsModel,
    MockResponseModel,
    ProxyApiModel,
    ProxyAuthorizerModel,
    ProxyRouteModel,
)
from wslocal.template.rest_resources import (
    RestMethod,
    cloudformation_names,
    deployment_stage,
    rest_methods,
)
from wslocal.template.routes import function_for_uri
from wslocal.template.shapes import reading, whole_number

REST_TIMEOUT_S = 29.0
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch")
_ANY = "x-amazon-apigateway-any-method"


def proxy_apis(
    resources: Mapping[str, Any], resolver: Resolver, functions_by_name: Mapping[str, str]
) -> tuple[list[ProxyApiModel], list[str]]:
    """Every REST and HTTP API of ``resources``, and one line per route not served."""
    apis: list[ProxyApiModel] = []
    skipped: list[str] = []
    for logical_id, resource in resources.items():
        with reading(logical_id):
            kind = resource.get("Type")
            properties = resolver.resolve(resource.get("Properties") or {}, logical_id)
            if kind == "AWS::ApiGateway::RestApi":
                apis.append(
                    _rest_api(
                        logical_id, properties, resources, resolver, functions_by_name, skipped
                    )
                )
            elif kind == "AWS::ApiGatewayV2::Api" and _is_http_api(properties):
                apis.append(
                    _http_api(
                        logical_id, properties, resources, resolver, functions_by_name, skipped
                    )
                )
    return apis, skipped


def _is_http_api(properties: Mapping[str, Any]) -> bool:
    protocol = properties.get("ProtocolType")
    return protocol == "HTTP" or (protocol is None and "Body" in properties)


def _stage_of(
    resources: Mapping[str, Any],
    resolver: Resolver,
    kind: str,
    api_property: str,
    api: str,
    variables_property: str,
) -> tuple[str | None, dict[str, str]]:
    """The name and variables of the API's stage; (None, {}) when it has none."""
    api_ref = resolver.resolve({"Ref": api})
    for logical_id, resource in resources.items():
        if resource.get("Type") != kind:
            continue
        properties = resolver.resolve(resource.get("Properties") or {}, logical_id)
        if properties.get(api_property) == api_ref:
            name = properties.get("StageName")
            if not isinstance(name, str) or not name:
                raise TemplateError("is required", logical_id, "StageName")
            variables = properties.get(variables_property) or {}
            if not isinstance(variables, Mapping):
                raise TemplateError("is not a map of names to values", logical_id,
                                    variables_property)  # fmt: skip
            return name, {str(key): _string(value) for key, value in variables.items()}
    return None, {}


def _string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _rest_api(
    logical_id: str,
    properties: Mapping[str, Any],
    resources: Mapping[str, Any],
    resolver: Resolver,
    functions_by_name: Mapping[str, str],
    skipped: list[str],
) -> ProxyApiModel:
    body = _body(properties, logical_id)
    methods, schemes = rest_methods(logical_id, resources, resolver)
    authorizers = _authorizers(
        logical_id,
        {**(body.get("securityDefinitions") or {}), **schemes},
        "REST",
        functions_by_name,
        skipped,
    )
    binary = properties.get("BinaryMediaTypes") or body.get(
        "x-amazon-apigateway-binary-media-types", []
    )
    stage, variables = _stage_of(
        resources, resolver, "AWS::ApiGateway::Stage", "RestApiId", logical_id, "Variables"
    )
    if stage is None:
        stage, declared = deployment_stage(logical_id, resources, resolver)
        variables = {str(key): _string(value) for key, value in declared.items()}
    routes = _openapi_routes(logical_id, body, "REST", functions_by_name, authorizers, skipped)
    routes += _method_routes(methods, functions_by_name, authorizers, skipped)
    return ProxyApiModel(
        logical_id=logical_id,
        api_id=str(resolver.resolve({"Ref": logical_id})),
        kind="REST",
        stage_name=stage or "Prod",
        routes=tuple(routes),
        binary_media_types=tuple(str(t).replace("~1", "/") for t in binary),
        authorizers=authorizers,
        stage_variables=variables,
    )


def _http_api(
    logical_id: str,
    properties: Mapping[str, Any],
    resources: Mapping[str, Any],
    resolver: Resolver,
    functions_by_name: Mapping[str, str],
    skipped: list[str],
) -> ProxyApiModel:
    body = _body(properties, logical_id) if "Body" in properties else {}
    schemes = (body.get("components") or {}).get("securitySchemes")
    authorizers = _authorizers(logical_id, schemes, "HTTP", functions_by_name, skipped)
    routes = _openapi_routes(logical_id, body, "HTTP", functions_by_name, authorizers, skipped)
    v2_routes, v2_authorizers = http_api_routes.v2_routes(
        logical_id, resources, resolver, functions_by_name, skipped
    )
    routes += v2_routes
    authorizers = {**authorizers, **v2_authorizers}
    cors = properties.get("CorsConfiguration") or _cors_from_openapi(
        body.get("x-amazon-apigateway-cors")
    )
    stage, variables = _stage_of(
        resources, resolver, "AWS::ApiGatewayV2::Stage", "ApiId", logical_id, "StageVariables"
    )
    return ProxyApiModel(
        logical_id=logical_id,
        api_id=str(resolver.resolve({"Ref": logical_id})),
        kind="HTTP",
        stage_name=stage or "$default",
        routes=tuple(routes),
        cors=_cors(cors, logical_id) if cors else None,
        authorizers=authorizers,
        stage_variables=variables,
    )


def _body(properties: Mapping[str, Any], logical_id: str) -> Mapping[str, Any]:
    body = properties.get("Body")
    if body is None:
        return {}
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            raise TemplateError("is not an OpenAPI document", logical_id, "Body") from None
    if not isinstance(body, Mapping) or not isinstance(body.get("paths", {}), Mapping):
        raise TemplateError("is not an OpenAPI document with paths", logical_id, "Body")
    return body


def _openapi_routes(
    api: str,
    body: Mapping[str, Any],
    kind: str,
    functions_by_name: Mapping[str, str],
    authorizers: Mapping[str, ProxyAuthorizerModel],
    skipped: list[str],
) -> list[ProxyRouteModel]:
    routes: list[ProxyRouteModel] = []
    for path, operations in (body.get("paths") or {}).items():
        if not isinstance(operations, Mapping):
            raise TemplateError(f"path {path!r} is not a map of methods", api, "Body")
        for key, operation in operations.items():
            if key not in (*_METHODS, _ANY) or not isinstance(operation, Mapping):
                continue
            method = "ANY" if key == _ANY else key.upper()
            route = _operation_route(
                method, str(path), operation, body.get("security"), kind, functions_by_name,
                authorizers, skipped, f"{api} {method} {path}",
            )  # fmt: skip
            if route is not None:
                routes.append(route)
    return routes


def _method_routes(
    methods: list[RestMethod],
    functions_by_name: Mapping[str, str],
    authorizers: Mapping[str, ProxyAuthorizerModel],
    skipped: list[str],
) -> list[ProxyRouteModel]:
    """Routes of a REST API's ``AWS::ApiGateway::Method`` resources, each named by its
    logical id (``render-template --integration GetItem``)."""
    routes = []
    for each in methods:
        with cloudformation_names(each.logical_id):
            route = _operation_route(
                each.method, each.path, each.operation, None, "REST", functions_by_name,
                authorizers, skipped, each.logical_id,
            )  # fmt: skip
        if route is not None:
            routes.append(route)
    return routes


def _operation_route(
    method: str,
    path: str,
    operation: Mapping[str, Any],
    default_security: Any,
    kind: str,
    functions_by_name: Mapping[str, str],
    authorizers: Mapping[str, ProxyAuthorizerModel],
    skipped: list[str],
    where: str,
) -> ProxyRouteModel | None:
    """One OpenAPI operation's route, guarded by the authorizer its ``security`` names;
    None (said in ``skipped``) when its integration is not served."""
    route = _route(
        method, path, operation.get("x-amazon-apigateway-integration"), kind, functions_by_name,
        where,
    )  # fmt: skip
    if route is None:
        skipped.append(f"{where}: its integration is not emulated (Lambda proxy, MOCK, HTTP, AWS)")
        return None
    security = operation.get("security", default_security)
    authorizer, scopes = _security(security, authorizers, where, skipped)
    return replace(route, authorizer=authorizer, scopes=scopes)


def _security(
    security: Any,
    authorizers: Mapping[str, ProxyAuthorizerModel],
    where: str,
    skipped: list[str],
) -> tuple[str | None, tuple[str, ...]]:
    """The authorizer an operation's ``security`` names, and its scopes."""
    if not isinstance(security, list) or not security:
        return None, ()
    for requirement in security:
        if not isinstance(requirement, Mapping):
            continue
        for name, scopes in requirement.items():
            if name in authorizers:
                return str(name), tuple(str(scope) for scope in scopes or ())
            if name != "NONE":
                skipped.append(f"{where}: its {name} authorization is not emulated; served open")
    return None, ()


def _authorizers(
    api: str,
    schemes: Any,
    kind: str,
    functions_by_name: Mapping[str, str],
    skipped: list[str],
) -> dict[str, ProxyAuthorizerModel]:
    """The API's Lambda, Cognito and JWT authorizers, by security scheme name."""
    found: dict[str, ProxyAuthorizerModel] = {}
    for name, scheme in (schemes or {}).items():
        config = (
            scheme.get("x-amazon-apigateway-authorizer") if isinstance(scheme, Mapping) else None
        )
        if not isinstance(config, Mapping):
            continue
        where = f"{api} authorizer {name}"
        kind_of = str(config.get("type", "")).lower()
        sources = config.get("identitySource")
        if isinstance(sources, str):
            sources = [source.strip() for source in sources.split(",") if source.strip()]
        identity = tuple(str(source) for source in sources or ())
        ttl = whole_number(
            config.get("authorizerResultTtlInSeconds"),
            300 if kind == "REST" else 0,
            where,
            "authorizerResultTtlInSeconds",
        )
        if kind_of in ("token", "request"):
            function = function_for_uri(
                config.get("authorizerUri"), functions_by_name, where, "authorizerUri"
            )
            if kind_of == "token" and not identity:
                identity = (f"method.request.header.{scheme.get('name', 'Authorization')}",)
            found[str(name)] = ProxyAuthorizerModel(
                name=str(name),
                kind=kind_of.upper(),
                function=function,
                identity_sources=identity,
                ttl_s=ttl,
                payload_format=str(config.get("authorizerPayloadFormatVersion", "1.0")),
                simple_responses=bool(config.get("enableSimpleResponses", False)),
                validation_expression=_expression(
                    config.get("identityValidationExpression"), where
                ),
            )
        elif kind_of == "cognito_user_pools":
            found[str(name)] = ProxyAuthorizerModel(
                name=str(name),
                kind="COGNITO",
                identity_sources=identity
                or (f"method.request.header.{scheme.get('name', 'Authorization')}",),
                ttl_s=ttl,
                user_pools=tuple(str(arn) for arn in config.get("providerARNs") or ()),
            )
        elif kind_of == "jwt":
            jwt_config = config.get("jwtConfiguration") or {}
            audience = jwt_config.get("audience") or []
            found[str(name)] = ProxyAuthorizerModel(
                name=str(name),
                kind="JWT",
                identity_sources=identity or ("$request.header.Authorization",),
                issuer=str(jwt_config.get("issuer", "")) or None,
                audience=tuple(
                    str(a) for a in ([audience] if isinstance(audience, str) else audience)
                ),
            )
        else:
            skipped.append(f"{where}: type {kind_of!r} is not emulated")
    return found


def _expression(value: Any, where: str) -> str | None:
    """A TOKEN authorizer's ``ValidationExpression``, checked once here: a request never
    meets a pattern that does not compile."""
    if value is None:
        return None
    try:
        re.compile(str(value))
    except re.error as exc:
        raise TemplateError(
            f"{where}: its ValidationExpression {value!r} is not a regular expression: {exc}"
        ) from None
    return str(value)


def _route(
    method: str,
    path: str,
    integration: Any,
    kind: str,
    functions_by_name: Mapping[str, str],
    where: str,
) -> ProxyRouteModel | None:
    if not isinstance(integration, Mapping):
        return None
    default_timeout = REST_TIMEOUT_S if kind == "REST" else HTTP_TIMEOUT_S
    timeout_s = float(integration.get("timeoutInMillis", default_timeout * 1000)) / 1000
    kind_of = str(integration.get("type", "")).lower()
    if kind_of == "aws_proxy":
        return ProxyRouteModel(
            method=method,
            path=path,
            function=function_for_uri(integration.get("uri"), functions_by_name, where, "uri"),
            payload_format=str(
                integration.get("payloadFormatVersion", "1.0" if kind == "REST" else "2.0")
            ),
            timeout_s=timeout_s,
        )
    if kind_of == "mock" and kind == "REST" and _has_velocity(integration):
        model = openapi_integration(integration, None, where)
        return ProxyRouteModel(method, path, None, timeout_s=timeout_s, integration=model)
    if kind_of == "mock":
        return ProxyRouteModel(method, path, None, mock=_mock(integration), timeout_s=timeout_s)
    if kind_of in ("http", "http_proxy", "aws") and (kind == "REST" or kind_of == "http_proxy"):
        uri = str(integration.get("uri") or "")
        function = None
        if kind_of == "aws" and is_lambda_invocation(uri):
            function = function_for_uri(uri, functions_by_name, where, "uri")
        model = openapi_integration(integration, function, where)
        return ProxyRouteModel(method, path, None, timeout_s=timeout_s, integration=model)
    return None


def _has_velocity(integration: Mapping[str, Any]) -> bool:
    """A REST mock whose templates compute something (``$``, ``#``): API Gateway renders
    them on each request; a mock of plain text answers the same every time."""
    templates = [integration.get("requestTemplates") or {}]
    templates += [
        response.get("responseTemplates") or {}
        for response in (integration.get("responses") or {}).values()
        if isinstance(response, Mapping)
    ]
    return any(
        "$" in str(text) or "#" in str(text)
        for each in templates
        if isinstance(each, Mapping)
        for text in each.values()
    )


def _mock(integration: Mapping[str, Any]) -> MockResponseModel:
    """A MOCK's default response: its status, its ``method.response.header.*``
    parameters (quoted literals) and its JSON template."""
    default = (integration.get("responses") or {}).get("default") or {}
    headers = {}
    for name, value in (default.get("responseParameters") or {}).items():
        if str(name).startswith("method.response.header."):
            headers[str(name).removeprefix("method.response.header.")] = str(value).strip("'")
    templates = default.get("responseTemplates") or {}
    body = templates.get("application/json", "") if isinstance(templates, Mapping) else ""
    return MockResponseModel(int(default.get("statusCode", 200)), headers, str(body or ""))


def _cors_from_openapi(cors: Any) -> dict[str, Any] | None:
    """``x-amazon-apigateway-cors`` (camelCase) in CorsConfiguration's own names."""
    if not isinstance(cors, Mapping):
        return None
    names = {
        "allowOrigins": "AllowOrigins", "allowMethods": "AllowMethods",
        "allowHeaders": "AllowHeaders", "exposeHeaders": "ExposeHeaders",
        "maxAge": "MaxAge", "allowCredentials": "AllowCredentials",
    }  # fmt: skip
    return {names[key]: value for key, value in cors.items() if key in names}


def _cors(config: Mapping[str, Any], api: str) -> CorsModel:
    def strings(name: str) -> tuple[str, ...]:
        value = config.get(name) or []
        if not isinstance(value, list):
            raise TemplateError("is not a list", api, f"CorsConfiguration.{name}")
        return tuple(str(item) for item in value)

    max_age = config.get("MaxAge")
    return CorsModel(
        allow_origins=strings("AllowOrigins"),
        allow_methods=tuple(m.upper() for m in strings("AllowMethods")),
        allow_headers=tuple(h.lower() for h in strings("AllowHeaders")),
        expose_headers=strings("ExposeHeaders"),
        max_age_s=int(max_age) if max_age is not None else None,
        allow_credentials=str(config.get("AllowCredentials", False)).lower() == "true",
    )
