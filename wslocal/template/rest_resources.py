"""A REST API written as CloudFormation resources rather than an OpenAPI ``Body``:
``AWS::ApiGateway::Resource`` (a tree under the API's ``RootResourceId``),
``AWS::ApiGateway::Method`` (with its ``Integration``) and ``AWS::ApiGateway::Authorizer``,
read into what the OpenAPI form says (``x-amazon-apigateway-integration``, ``security``,
``securityDefinitions``), so ``proxy_apis`` reads both forms into one model.

CloudFormation's names become OpenAPI's (``IntegrationHttpMethod`` -> ``httpMethod``,
``IntegrationResponses[].SelectionPattern`` -> a key of ``responses``); an error the
OpenAPI reader raises about a method is given back in CloudFormation's names
(``cloudformation_names``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from wslocal.exceptions import TemplateError
from wslocal.template.integrations import KINDS
from wslocal.template.intrinsics import Resolver
from wslocal.template.shapes import reading, whole_number

RESOURCE = "AWS::ApiGateway::Resource"
METHOD = "AWS::ApiGateway::Method"
AUTHORIZER = "AWS::ApiGateway::Authorizer"
DEPLOYMENT = "AWS::ApiGateway::Deployment"
_METHODS = ("GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "ANY")
_AUTHORIZATION = ("NONE", "CUSTOM", "COGNITO_USER_POOLS", "AWS_IAM")
_AUTHORIZER_TYPES = {
    "TOKEN": "token",
    "REQUEST": "request",
    "COGNITO_USER_POOLS": "cognito_user_pools",
}
_INTEGRATION = {
    "Type": "type",
    "Uri": "uri",
    "IntegrationHttpMethod": "httpMethod",
    "RequestTemplates": "requestTemplates",
    "PassthroughBehavior": "passthroughBehavior",
    "RequestParameters": "requestParameters",
    "TimeoutInMillis": "timeoutInMillis",
    "Credentials": "credentials",
}
"""An ``Integration``'s CloudFormation names and their ``x-amazon-apigateway-integration``
names."""
_OPENAPI_NAMES = {openapi: f"Integration.{cfn}" for cfn, openapi in _INTEGRATION.items()} | {
    "responses": "Integration.IntegrationResponses",
}


@dataclass(frozen=True)
class RestMethod:
    """One ``AWS::ApiGateway::Method``, as the OpenAPI operation it is."""

    logical_id: str
    method: str
    """Upper case, or ``ANY``."""
    path: str
    """The resource's path from the root (``/items/{id}``)."""
    operation: Mapping[str, Any]
    """``x-amazon-apigateway-integration`` and ``security``."""


def rest_methods(
    api: str, resources: Mapping[str, Any], resolver: Resolver
) -> tuple[list[RestMethod], dict[str, Any]]:
    """The API's methods, and its authorizers as OpenAPI ``securityDefinitions`` (keyed
    by the authorizer's logical id)."""
    api_ref = resolver.resolve({"Ref": api})
    root = resolver.resolve({"Fn::GetAtt": [api, "RootResourceId"]})
    parents: dict[str, tuple[str, str, str]] = {}
    """A resource's id -> (logical id, parent id, path part)."""
    methods: list[tuple[str, Mapping[str, Any]]] = []
    schemes: dict[str, Any] = {}
    authorizer_ids: dict[str, str] = {}
    for logical_id, resource in resources.items():
        kind = resource.get("Type")
        if kind not in (RESOURCE, METHOD, AUTHORIZER):
            continue
        with reading(logical_id):
            properties = resource.get("Properties") or {}
            if _resolved(resolver, properties.get("RestApiId"), logical_id, "RestApiId") != api_ref:
                continue
            if kind == RESOURCE:
                parents[str(resolver.resolve({"Ref": logical_id}))] = (
                    logical_id,
                    str(_resolved(resolver, properties.get("ParentId"), logical_id, "ParentId")),
                    _path_part(resolver, properties, logical_id),
                )
            elif kind == METHOD:
                methods.append((logical_id, properties))
            else:
                schemes[logical_id] = _scheme(logical_id, resolver.resolve(properties, logical_id))
                authorizer_ids[str(resolver.resolve({"Ref": logical_id}))] = logical_id
    paths = _paths(api, str(root), parents)
    found = []
    for logical_id, properties in methods:
        with reading(logical_id):
            resource_id = str(
                _resolved(resolver, properties.get("ResourceId"), logical_id, "ResourceId")
            )
            if resource_id not in paths:
                raise TemplateError(
                    f"{resource_id!r} is neither {api}'s RootResourceId nor the id of an "
                    f"{RESOURCE} of {api}",
                    logical_id,
                    "ResourceId",
                )
            resolved = resolver.resolve(properties, logical_id)
            found.append(
                RestMethod(
                    logical_id=logical_id,
                    method=_http_method(resolved, logical_id),
                    path=paths[resource_id],
                    operation={
                        "x-amazon-apigateway-integration": _integration(resolved, logical_id),
                        **_security(resolved, logical_id, authorizer_ids, schemes, api),
                    },
                )
            )
    return found, schemes


def deployment_stage(
    api: str, resources: Mapping[str, Any], resolver: Resolver
) -> tuple[str | None, Mapping[str, Any]]:
    """The stage an ``AWS::ApiGateway::Deployment`` of the API makes with its own
    ``StageName`` (and ``StageDescription.Variables``), for an API with no Stage resource;
    (None, {}) when none does."""
    api_ref = resolver.resolve({"Ref": api})
    for logical_id, resource in resources.items():
        if resource.get("Type") != DEPLOYMENT:
            continue
        with reading(logical_id):
            properties = resolver.resolve(resource.get("Properties") or {}, logical_id)
            name = properties.get("StageName")
            if properties.get("RestApiId") != api_ref or name is None:
                continue
            if not isinstance(name, str) or not name:
                raise TemplateError("is not a stage name", logical_id, "StageName")
            variables = (properties.get("StageDescription") or {}).get("Variables") or {}
            if not isinstance(variables, Mapping):
                raise TemplateError(
                    "is not a map of names to values", logical_id, "StageDescription.Variables"
                )
            return name, variables
    return None, {}


@contextmanager
def cloudformation_names(logical_id: str) -> Iterator[None]:
    """An error the OpenAPI reader raises about this method, in CloudFormation's names
    (``GetItem.Integration.Uri``, not ``GetItem.uri``)."""
    try:
        yield
    except TemplateError as exc:
        if exc.resource != logical_id or exc.prop not in _OPENAPI_NAMES:
            raise
        message = str(exc).removeprefix(f"{logical_id}.{exc.prop}: ")
        raise TemplateError(message, logical_id, _OPENAPI_NAMES[exc.prop]) from None


def _resolved(resolver: Resolver, value: Any, logical_id: str, prop: str) -> Any:
    """One property resolved; a Ref to nothing names the property it is in."""
    if value is None:
        raise TemplateError("is required", logical_id, prop)
    try:
        return resolver.resolve(value)
    except TemplateError as exc:
        raise TemplateError(str(exc), logical_id, prop) from None


def _path_part(resolver: Resolver, properties: Mapping[str, Any], logical_id: str) -> str:
    part = _resolved(resolver, properties.get("PathPart"), logical_id, "PathPart")
    if not isinstance(part, str) or not part or "/" in part:
        raise TemplateError(f"{part!r} is not one segment of a path", logical_id, "PathPart")
    return part


def _paths(api: str, root: str, parents: Mapping[str, tuple[str, str, str]]) -> dict[str, str]:
    """Each resource id's path, the root's ``/``; a parent that is neither the root nor a
    resource of the API, or a loop, names the resource and its ``ParentId``."""
    paths = {root: "/"}

    def path_of(resource_id: str, seen: tuple[str, ...]) -> str:
        if resource_id in paths:
            return paths[resource_id]
        logical_id, parent, part = parents[resource_id]
        if parent not in paths and parent not in parents:
            raise TemplateError(
                f"{parent!r} is neither {api}'s RootResourceId nor the id of an {RESOURCE} "
                f"of {api}",
                logical_id,
                "ParentId",
            )
        if parent in seen:
            loop = [parents[each][0] for each in (*seen[seen.index(parent) :], parent)]
            raise TemplateError(f"makes a loop ({' -> '.join(loop)})", logical_id, "ParentId")
        above = path_of(parent, (*seen, parent))
        paths[resource_id] = f"{above.rstrip('/')}/{part}"
        return paths[resource_id]

    for resource_id in parents:
        path_of(resource_id, (resource_id,))
    return paths


def _http_method(properties: Mapping[str, Any], logical_id: str) -> str:
    method = str(properties.get("HttpMethod", "")).upper()
    if method not in _METHODS:
        raise TemplateError(f"{method!r} is not one of {', '.join(_METHODS)}", logical_id,
                            "HttpMethod")  # fmt: skip
    return method


def _integration(properties: Mapping[str, Any], logical_id: str) -> dict[str, Any]:
    """The method's ``Integration`` as ``x-amazon-apigateway-integration``."""
    integration = properties.get("Integration")
    if not isinstance(integration, Mapping):
        raise TemplateError("is required: a map with a Type", logical_id, "Integration")
    kind = str(integration.get("Type", "")).upper()
    if kind not in KINDS:
        raise TemplateError(f"{kind!r} is not one of {', '.join(KINDS)}", logical_id,
                            "Integration.Type")  # fmt: skip
    if kind in ("AWS_PROXY", "AWS", "HTTP", "HTTP_PROXY") and not integration.get("Uri"):
        raise TemplateError(f"is required for a {kind} integration", logical_id,
                            "Integration.Uri")  # fmt: skip
    openapi = {
        _INTEGRATION[name]: value for name, value in integration.items() if name in _INTEGRATION
    }
    openapi["type"] = kind.lower()
    if "TimeoutInMillis" in integration:
        openapi["timeoutInMillis"] = whole_number(
            integration["TimeoutInMillis"], 29_000, logical_id, "Integration.TimeoutInMillis"
        )
    openapi["responses"] = _responses(integration.get("IntegrationResponses"), logical_id)
    return openapi


def _responses(responses: Any, logical_id: str) -> dict[str, Any]:
    """``IntegrationResponses`` keyed as OpenAPI keys them: by ``SelectionPattern``, the
    one without a pattern as ``default``."""
    where = "Integration.IntegrationResponses"
    if responses is None:
        return {}
    if not isinstance(responses, list):
        raise TemplateError("is not a list", logical_id, where)
    keyed: dict[str, Any] = {}
    for index, response in enumerate(responses):
        if not isinstance(response, Mapping) or "StatusCode" not in response:
            raise TemplateError(f"item {index} is not a map with a StatusCode", logical_id, where)
        pattern = str(response.get("SelectionPattern") or "default")
        if pattern in keyed:
            said = (
                "no SelectionPattern" if pattern == "default" else f"SelectionPattern {pattern!r}"
            )
            raise TemplateError(f"two responses have {said}", logical_id, where)
        keyed[pattern] = {
            "statusCode": whole_number(
                response["StatusCode"], 200, logical_id, f"{where}[{index}].StatusCode"
            ),
            "responseTemplates": response.get("ResponseTemplates") or {},
            "responseParameters": response.get("ResponseParameters") or {},
        }
    return keyed


def _security(
    properties: Mapping[str, Any],
    logical_id: str,
    authorizer_ids: Mapping[str, str],
    schemes: Mapping[str, Any],
    api: str,
) -> dict[str, Any]:
    """The method's ``AuthorizationType`` and ``AuthorizerId`` as an OpenAPI ``security``
    requirement; ``AWS_IAM`` named as such, for the reader to say it is not emulated."""
    kind = str(properties.get("AuthorizationType", "NONE")).upper()
    if kind not in _AUTHORIZATION:
        raise TemplateError(f"{kind!r} is not one of {', '.join(_AUTHORIZATION)}", logical_id,
                            "AuthorizationType")  # fmt: skip
    if kind == "NONE":
        return {}
    if kind == "AWS_IAM":
        return {"security": [{"AWS_IAM": []}]}
    authorizer = authorizer_ids.get(str(properties.get("AuthorizerId")))
    if authorizer is None:
        raise TemplateError(
            f"names no {AUTHORIZER} of {api} (AuthorizationType {kind})", logical_id,
            "AuthorizerId",
        )  # fmt: skip
    cognito = schemes[authorizer]["x-amazon-apigateway-authorizer"]["type"] == "cognito_user_pools"
    if cognito != (kind == "COGNITO_USER_POOLS"):
        raise TemplateError(f"{authorizer} is not a {kind} authorizer", logical_id, "AuthorizerId")
    scopes = (properties.get("AuthorizationScopes") or []) if cognito else []
    if not isinstance(scopes, list):
        raise TemplateError("is not a list", logical_id, "AuthorizationScopes")
    return {"security": [{authorizer: [str(scope) for scope in scopes]}]}


def _scheme(logical_id: str, properties: Mapping[str, Any]) -> dict[str, Any]:
    """An ``AWS::ApiGateway::Authorizer`` as the OpenAPI security scheme SAM writes."""
    kind = str(properties.get("Type", "")).upper()
    if kind not in _AUTHORIZER_TYPES:
        raise TemplateError(f"{kind!r} is not one of {', '.join(_AUTHORIZER_TYPES)}",
                            logical_id, "Type")  # fmt: skip
    config: dict[str, Any] = {"type": _AUTHORIZER_TYPES[kind]}
    names = {
        "AuthorizerUri": "authorizerUri",
        "IdentitySource": "identitySource",
        "IdentityValidationExpression": "identityValidationExpression",
        "AuthorizerResultTtlInSeconds": "authorizerResultTtlInSeconds",
        "ProviderARNs": "providerARNs",
    }
    config |= {names[name]: value for name, value in properties.items() if name in names}
    if kind in ("TOKEN", "COGNITO_USER_POOLS") and not isinstance(
        properties.get("IdentitySource"), str
    ):
        raise TemplateError(
            f"is required for a {kind} authorizer (method.request.header.Name)",
            logical_id,
            "IdentitySource",
        )
    if kind != "COGNITO_USER_POOLS" and "AuthorizerUri" not in properties:
        raise TemplateError(f"is required for a {kind} authorizer", logical_id, "AuthorizerUri")
    return {"type": "apiKey", "in": "header", "x-amazon-apigateway-authorizer": config}
