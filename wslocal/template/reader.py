"""Reading a SAM template: ``read_template`` parses the file, ``build_stage_model`` turns
the document into a ``StageModel`` with every intrinsic resolved to a local value."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wslocal.exceptions import TemplateError
from wslocal.template.event_sources import event_sources
from wslocal.template.functions import function_model, layer_dirs
from wslocal.template.intrinsics import Resolver, load_yaml
from wslocal.template.model import DEFAULT_ACCOUNT_ID, DEFAULT_REGION, StageModel
from wslocal.template.proxy_apis import proxy_apis
from wslocal.template.queues import queue_model
from wslocal.template.routes import routes_of_api
from wslocal.template.shapes import check_outline, reading
from wslocal.template.tables import table_model
from wslocal.template.translation import SERVERLESS_APIS, api_resources, needs_translation

# Resource types the local stage reads, or whose job is done implicitly by serving the API.
_UNDERSTOOD = {
    "AWS::ApiGatewayV2::Api",
    "AWS::ApiGatewayV2::Route",
    "AWS::ApiGatewayV2::Integration",
    "AWS::ApiGatewayV2::RouteResponse",
    "AWS::ApiGatewayV2::IntegrationResponse",
    "AWS::ApiGatewayV2::Authorizer",
    "AWS::ApiGatewayV2::Deployment",
    "AWS::ApiGatewayV2::Stage",
    "AWS::Serverless::Function",
    "AWS::Serverless::LayerVersion",
    "AWS::Lambda::LayerVersion",
    "AWS::Lambda::Permission",
    "AWS::DynamoDB::Table",
    "AWS::Serverless::SimpleTable",
    "AWS::IAM::Role",
    "AWS::IAM::Policy",
    "AWS::IAM::ManagedPolicy",
    "AWS::Logs::LogGroup",
    "AWS::SQS::Queue",
    "AWS::ApiGateway::RestApi",
    "AWS::ApiGateway::Stage",
    "AWS::ApiGateway::Deployment",
    "AWS::ApiGateway::Resource",
    "AWS::ApiGateway::Method",
    "AWS::ApiGateway::Authorizer",
    "AWS::ApiGatewayV2::DomainName",
    # Accepted, not evaluated: the stage's log says when a message reaches a dead-letter
    # queue, which is what such an alarm is for.
    "AWS::CloudWatch::Alarm",
}


def read_template(path: Path) -> dict[str, Any]:
    """Parse a template file; raise TemplateError when it is not a template."""
    try:
        document = load_yaml(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TemplateError(f"cannot read {path}: {exc.strerror}") from None
    except Exception as exc:
        raise TemplateError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("Resources"), dict):
        raise TemplateError(f"{path} has no Resources section")
    return document


def api_id_for(logical_id: str, length: int = 10) -> str:
    """A stable id, like API Gateway's (10 characters for an API, 7 for a route,
    integration, authorizer or deployment), derived from the logical id."""
    digest = hashlib.sha256(logical_id.encode()).hexdigest()
    return "".join(chr(ord("a") + int(c, 16) % 26) if c.isalpha() else c for c in digest[:length])


_API_GATEWAY_V2_IDS = {
    "AWS::ApiGatewayV2::Route": "RouteId",
    "AWS::ApiGatewayV2::Integration": "IntegrationId",
    "AWS::ApiGatewayV2::Authorizer": "AuthorizerId",
    "AWS::ApiGatewayV2::Deployment": "DeploymentId",
    "AWS::ApiGatewayV2::RouteResponse": "RouteResponseId",
    "AWS::ApiGatewayV2::IntegrationResponse": "IntegrationResponseId",
}
"""What ``Ref`` of these gives, as CloudFormation documents it: the resource's own id."""
_API_GATEWAY_IDS = {
    "AWS::ApiGateway::Resource": "ResourceId",
    "AWS::ApiGateway::Authorizer": "AuthorizerId",
}
"""The same for a REST API's resources (``ParentId: !Ref Items`` is the resource's id)."""


def build_stage_model(
    document: Mapping[str, Any],
    base_dir: Path,
    parameter_overrides: Mapping[str, str] | None = None,
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
    stack_name: str = "local",
    api: str | None = None,
) -> StageModel:
    """Read what the stage serves of ``document`` (files relative to ``base_dir``): its
    APIs, functions, tables, queues and event sources. A template that does not fit gets
    a TemplateError naming the resource (and the property, where it can be told)."""
    check_outline(document)
    with reading(None):
        return _build(
            document, base_dir, parameter_overrides or {}, region, account_id, stack_name, api
        )


def _build(
    document: Mapping[str, Any],
    base_dir: Path,
    parameter_overrides: Mapping[str, str],
    region: str,
    account_id: str,
    stack_name: str,
    api: str | None,
) -> StageModel:
    parameters = _parameter_values(document, parameter_overrides)
    resources: dict[str, Any] = document["Resources"]
    if needs_translation(resources):
        resources = {
            logical_id: resource
            for logical_id, resource in resources.items()
            if resource.get("Type") not in SERVERLESS_APIS
        } | api_resources(document, base_dir, parameters, region, account_id)
    refs, attributes = _local_values(resources, parameters, region, account_id, stack_name)
    resolver = Resolver(refs, attributes, document.get("Conditions"), document.get("Mappings"))
    active = {
        logical_id: resource
        for logical_id, resource in resources.items()
        if "Condition" not in resource or resolver.condition(resource["Condition"], logical_id)
    }
    api_logical_id = _choose_api(active, api)
    functions_by_name = {
        str(refs[logical_id]): logical_id
        for logical_id, resource in active.items()
        if resource.get("Type") == "AWS::Serverless::Function"
    }
    layers = layer_dirs(active, base_dir, refs)
    globals_ = document.get("Globals", {}).get("Function", {})
    warnings: list[str] = []
    functions = {}
    for logical_id, resource in active.items():
        if resource.get("Type") == "AWS::Serverless::Function":
            with reading(logical_id):
                functions[logical_id] = function_model(
                    logical_id, resource, globals_, resolver, base_dir, layers, refs, warnings
                )
    routes = (
        routes_of_api(active, api_logical_id, resolver, functions_by_name)
        if api_logical_id is not None
        else {}
    )
    apis, skipped_routes = proxy_apis(active, resolver, functions_by_name)
    tables = []
    queues = []
    for logical_id, r in active.items():
        with reading(logical_id):
            if r.get("Type") in ("AWS::DynamoDB::Table", "AWS::Serverless::SimpleTable"):
                tables.append(table_model(logical_id, r, resolver, refs))
            elif r.get("Type") == "AWS::SQS::Queue":
                queues.append(queue_model(logical_id, r, resolver, refs))
    stream_sources, queue_sources, skipped_events = event_sources(
        {
            logical_id: resource
            for logical_id, resource in active.items()
            if resource.get("Type") == "AWS::Serverless::Function"
        },
        tables,
        queues,
        resolver,
    )
    api_properties = (
        resolver.resolve(active[api_logical_id].get("Properties", {}), api_logical_id)
        if api_logical_id is not None
        else {}
    )
    stage_name = _stage_name(active, api_logical_id, resolver) if api_logical_id else None
    return StageModel(
        api_logical_id=api_logical_id,
        api_id=refs[api_logical_id] if api_logical_id is not None else None,
        stage_name=stage_name,
        route_selection_expression=api_properties.get(
            "RouteSelectionExpression", "$request.body.action"
        ),
        routes=routes,
        functions=functions,
        tables=tuple(tables),
        region=region,
        account_id=account_id,
        not_emulated=tuple(_not_emulated(active, api_logical_id) + skipped_routes + skipped_events),
        warnings=tuple(warnings),
        stream_sources=tuple(stream_sources),
        queues=tuple(queues),
        queue_sources=tuple(queue_sources),
        proxy_apis=tuple(apis),
    )


def _parameter_values(document: Mapping[str, Any], overrides: Mapping[str, str]) -> dict[str, Any]:
    """Each parameter's value: the override given, else its Default."""
    values: dict[str, Any] = {}
    for name, parameter in (document.get("Parameters") or {}).items():
        if name in overrides:
            values[name] = overrides[name]
        elif "Default" in parameter:
            values[name] = parameter["Default"]
        else:
            raise TemplateError(
                "has no Default; give it with --parameter-overrides", name, "Default"
            )
    unknown = set(overrides) - set(document.get("Parameters") or {})
    if unknown:
        raise TemplateError(f"--parameter-overrides names unknown parameters: {sorted(unknown)}")
    return values


def _local_values(
    resources: Mapping[str, Any],
    parameters: Mapping[str, Any],
    region: str,
    account_id: str,
    stack_name: str,
) -> tuple[dict[str, Any], dict[tuple[str, str], Any]]:
    """What Ref and Fn::GetAtt give for each parameter and resource, locally."""
    refs: dict[str, Any] = {
        "AWS::Region": region,
        "AWS::AccountId": account_id,
        "AWS::Partition": "aws",
        "AWS::StackName": stack_name,
        "AWS::StackId": f"arn:aws:cloudformation:{region}:{account_id}:stack/{stack_name}/local",
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::NotificationARNs": [],
        **parameters,
    }
    names = Resolver(refs, {})
    attributes: dict[tuple[str, str], Any] = {}
    arn = f"arn:aws:{{}}:{region}:{account_id}:{{}}"
    for logical_id, resource in resources.items():
        with reading(logical_id):
            kind = resource.get("Type", "")
            properties = resource.get("Properties") or {}
            if kind in ("AWS::DynamoDB::Table", "AWS::Serverless::SimpleTable"):
                name = names.resolve(properties.get("TableName", logical_id), logical_id)
                refs[logical_id] = name
                attributes[(logical_id, "Arn")] = arn.format("dynamodb", f"table/{name}")
                attributes[(logical_id, "StreamArn")] = arn.format(
                    "dynamodb", f"table/{name}/stream/local"
                )
            elif kind == "AWS::Serverless::Function":
                name = names.resolve(properties.get("FunctionName", logical_id), logical_id)
                refs[logical_id] = name
                attributes[(logical_id, "Arn")] = arn.format("lambda", f"function:{name}")
            elif kind in ("AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion"):
                refs[logical_id] = arn.format("lambda", f"layer:{logical_id}:1")
            elif kind == "AWS::ApiGatewayV2::Api":
                api_id = api_id_for(logical_id)
                refs[logical_id] = api_id
                attributes[(logical_id, "ApiId")] = api_id
                scheme = "wss" if properties.get("ProtocolType") == "WEBSOCKET" else "https"
                attributes[(logical_id, "ApiEndpoint")] = (
                    f"{scheme}://{api_id}.execute-api.{region}.amazonaws.com"
                )
            elif kind == "AWS::ApiGateway::RestApi":
                refs[logical_id] = api_id_for(logical_id)
                attributes[(logical_id, "RestApiId")] = refs[logical_id]
                attributes[(logical_id, "RootResourceId")] = api_id_for(f"{logical_id}#/", 10)
            elif kind == "AWS::ApiGateway::Deployment":
                refs[logical_id] = api_id_for(f"{logical_id}#{kind}", 6)
                attributes[(logical_id, "DeploymentId")] = refs[logical_id]
            elif kind in _API_GATEWAY_IDS:
                refs[logical_id] = api_id_for(f"{logical_id}#{kind}", 6)
                attributes[(logical_id, _API_GATEWAY_IDS[kind])] = refs[logical_id]
            elif kind == "AWS::ApiGateway::Stage":
                refs[logical_id] = names.resolve(
                    properties.get("StageName", logical_id), logical_id
                )
            elif kind in _API_GATEWAY_V2_IDS:
                refs[logical_id] = api_id_for(f"{logical_id}#{kind}", 7)
                attributes[(logical_id, _API_GATEWAY_V2_IDS[kind])] = refs[logical_id]
            elif kind == "AWS::ApiGatewayV2::Stage":
                refs[logical_id] = names.resolve(
                    properties.get("StageName", logical_id), logical_id
                )
            elif kind == "AWS::SQS::Queue":
                name = names.resolve(properties.get("QueueName", logical_id), logical_id)
                fifo = str(properties.get("FifoQueue", "")).lower() == "true"
                if fifo and not str(name).endswith(".fifo"):
                    name = f"{name}.fifo"
                refs[logical_id] = f"https://sqs.{region}.amazonaws.com/{account_id}/{name}"
                attributes[(logical_id, "Arn")] = arn.format("sqs", name)
                attributes[(logical_id, "QueueName")] = name
                attributes[(logical_id, "QueueUrl")] = refs[logical_id]
            elif kind == "AWS::IAM::Role":
                refs[logical_id] = logical_id
                attributes[(logical_id, "Arn")] = f"arn:aws:iam::{account_id}:role/{logical_id}"
            else:
                refs[logical_id] = logical_id
                attributes[(logical_id, "Arn")] = arn.format("local", logical_id)
    return refs, attributes


def _stage_name(
    resources: Mapping[str, Any], api_logical_id: str, resolver: Resolver
) -> str | None:
    """The ``StageName`` of the API's stage; the first in the template when it has several."""
    api_id = resolver.resolve({"Ref": api_logical_id})
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::ApiGatewayV2::Stage":
            continue
        properties = resolver.resolve(resource.get("Properties") or {}, logical_id)
        if properties.get("ApiId") == api_id:
            name = properties.get("StageName")
            if not isinstance(name, str) or not name:
                raise TemplateError("is required", logical_id, "StageName")
            return name
    return None


def _choose_api(resources: Mapping[str, Any], wanted: str | None) -> str | None:
    """The WebSocket API served; None when the template has none (its REST and HTTP APIs
    and event sources are served all the same)."""
    apis = [
        logical_id
        for logical_id, resource in resources.items()
        if resource.get("Type") == "AWS::ApiGatewayV2::Api"
        and (resource.get("Properties") or {}).get("ProtocolType") == "WEBSOCKET"
    ]
    if wanted is not None:
        if wanted not in apis:
            raise TemplateError(f"--api {wanted} is not a WebSocket API; the template has {apis}")
        return wanted
    if len(apis) > 1:
        raise TemplateError(f"the template has several WebSocket APIs {apis}; choose with --api")
    return apis[0] if apis else None


def _not_emulated(resources: Mapping[str, Any], api_logical_id: str | None) -> list[str]:
    lines = []
    for logical_id, resource in resources.items():
        kind = resource.get("Type", "?")
        properties = resource.get("Properties") or {}
        if kind == "AWS::ApiGatewayV2::Api":
            protocol = properties.get("ProtocolType")
            if protocol == "WEBSOCKET" and logical_id != api_logical_id:
                lines.append(f"{logical_id} ({kind}, {protocol}) is not served")
        elif kind not in _UNDERSTOOD:
            lines.append(f"{logical_id} ({kind}) is not emulated")
    return lines
