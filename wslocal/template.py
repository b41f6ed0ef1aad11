"""The template model: what of a SAM template the local stage serves.

``read_template`` parses the file; ``build_stage_model`` turns the parsed document into a
``StageModel`` (the WebSocket API, its routes, the functions behind them with their layers
and environment, the DynamoDB tables) with every intrinsic resolved to a local value.
Nothing here touches a socket or starts a process.
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wslocal.exceptions import TemplateError
from wslocal.intrinsics import Resolver, load_yaml

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "123456789012"
DEFAULT_TIMEOUT_SECONDS = 3
DEFAULT_MEMORY_MB = 128

_FUNCTION_PROPERTIES = {
    "CodeUri", "Handler", "Runtime", "Timeout", "MemorySize",
    "Environment", "Layers", "PackageType",
}  # fmt: skip
"""The function properties the stage uses; others (Policies, Events, ...) stay unresolved."""
_FUNCTION_ARN = re.compile(r"arn:[^:]+:lambda:[^:]*:[^:]*:function:([^/:]+)")

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
}


@dataclass(frozen=True)
class FunctionModel:
    logical_id: str
    function_name: str
    code_dir: Path
    handler: str
    runtime: str
    timeout: float
    memory_size: int
    environment: Mapping[str, str]
    layer_dirs: tuple[Path, ...]

    @property
    def module(self) -> str:
        """The handler's module, importable with ``code_dir`` and the layers on sys.path."""
        return self.handler.rsplit(".", 1)[0].replace("/", ".")

    @property
    def attribute(self) -> str:
        return self.handler.rsplit(".", 1)[1]


@dataclass(frozen=True)
class AuthorizerModel:
    logical_id: str
    function: str
    identity_sources: tuple[str, ...]


@dataclass(frozen=True)
class RouteModel:
    route_key: str
    function: str
    """Logical id of the function the route's AWS_PROXY integration invokes."""
    two_way: bool
    """True when the route has a route response: the integration's body goes back."""
    authorizer: AuthorizerModel | None = None


@dataclass(frozen=True)
class TableModel:
    logical_id: str
    create_table: Mapping[str, Any]
    """Keyword arguments of DynamoDB's CreateTable for this table."""
    ttl_attribute: str | None


@dataclass(frozen=True)
class StageModel:
    api_logical_id: str
    api_id: str
    route_selection_expression: str
    routes: Mapping[str, RouteModel]
    functions: Mapping[str, FunctionModel]
    tables: tuple[TableModel, ...]
    region: str
    account_id: str
    not_emulated: tuple[str, ...] = field(default=())
    """One line per resource the stage skips, for the start-up banner."""
    warnings: tuple[str, ...] = field(default=())


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


def api_id_for(logical_id: str) -> str:
    """A stable 10-character API id, like API Gateway's, derived from the logical id."""
    digest = hashlib.sha256(logical_id.encode()).hexdigest()
    return "".join(chr(ord("a") + int(c, 16) % 26) if c.isalpha() else c for c in digest[:10])


def build_stage_model(
    document: Mapping[str, Any],
    base_dir: Path,
    parameter_overrides: Mapping[str, str] | None = None,
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
    stack_name: str = "local",
    api: str | None = None,
) -> StageModel:
    """Read the WebSocket API of ``document`` (files relative to ``base_dir``)."""
    resources: dict[str, Any] = document["Resources"]
    refs, attributes = _local_values(
        document, parameter_overrides or {}, region, account_id, stack_name
    )
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
    layers = _layer_dirs(active, base_dir, refs)
    globals_ = document.get("Globals", {}).get("Function", {})
    warnings: list[str] = []
    functions = {
        logical_id: _function(
            logical_id, resource, globals_, resolver, base_dir, layers, refs, warnings
        )
        for logical_id, resource in active.items()
        if resource.get("Type") == "AWS::Serverless::Function"
    }
    routes = _routes(active, api_logical_id, resolver, functions_by_name)
    api_properties = resolver.resolve(active[api_logical_id].get("Properties", {}), api_logical_id)
    return StageModel(
        api_logical_id=api_logical_id,
        api_id=refs[api_logical_id],
        route_selection_expression=api_properties.get(
            "RouteSelectionExpression", "$request.body.action"
        ),
        routes=routes,
        functions=functions,
        tables=tuple(
            _table(logical_id, r, resolver, refs)
            for logical_id, r in active.items()
            if r.get("Type") in ("AWS::DynamoDB::Table", "AWS::Serverless::SimpleTable")
        ),
        region=region,
        account_id=account_id,
        not_emulated=tuple(_not_emulated(active, api_logical_id)),
        warnings=tuple(warnings),
    )


def _local_values(
    document: Mapping[str, Any],
    overrides: Mapping[str, str],
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
    }
    for name, parameter in (document.get("Parameters") or {}).items():
        if name in overrides:
            refs[name] = overrides[name]
        elif "Default" in parameter:
            refs[name] = parameter["Default"]
        else:
            raise TemplateError(
                "has no Default; give it with --parameter-overrides", name, "Default"
            )
    unknown = set(overrides) - set(document.get("Parameters") or {})
    if unknown:
        raise TemplateError(f"--parameter-overrides names unknown parameters: {sorted(unknown)}")
    names = Resolver(refs, {})
    attributes: dict[tuple[str, str], Any] = {}
    arn = f"arn:aws:{{}}:{region}:{account_id}:{{}}"
    for logical_id, resource in document["Resources"].items():
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
            attributes[(logical_id, "ApiEndpoint")] = (
                f"wss://{api_id}.execute-api.{region}.amazonaws.com"
            )
        elif kind == "AWS::IAM::Role":
            refs[logical_id] = logical_id
            attributes[(logical_id, "Arn")] = f"arn:aws:iam::{account_id}:role/{logical_id}"
        else:
            refs[logical_id] = logical_id
            attributes[(logical_id, "Arn")] = arn.format("local", logical_id)
    return refs, attributes


def _choose_api(resources: Mapping[str, Any], wanted: str | None) -> str:
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
    if not apis:
        raise TemplateError(
            "the template has no AWS::ApiGatewayV2::Api with ProtocolType: WEBSOCKET"
        )
    if len(apis) > 1:
        raise TemplateError(f"the template has several WebSocket APIs {apis}; choose with --api")
    return apis[0]


def _layer_dirs(
    resources: Mapping[str, Any], base_dir: Path, refs: Mapping[str, Any]
) -> dict[str, tuple[Path, ...]]:
    """Layer ARN -> the folders its content puts on sys.path.

    A layer built by SAM (BuildMethod) has its packages at the top of ContentUri; a
    prebuilt one has them under ``python/``: both are added when present.
    """
    layers: dict[str, tuple[Path, ...]] = {}
    for logical_id, resource in resources.items():
        if resource.get("Type") not in (
            "AWS::Serverless::LayerVersion",
            "AWS::Lambda::LayerVersion",
        ):
            continue
        properties = resource.get("Properties") or {}
        content = properties.get("ContentUri", properties.get("Content"))
        if not isinstance(content, str):
            raise TemplateError(
                "must be a local folder to be served locally", logical_id, "ContentUri"
            )
        folder = (base_dir / content).resolve()
        if not folder.is_dir():
            raise TemplateError(f"folder {folder} does not exist", logical_id, "ContentUri")
        dirs = [folder] + [folder / "python"] * (folder / "python").is_dir()
        layers[str(refs[logical_id])] = tuple(dirs)
    return layers


def _merge_globals(globals_: Mapping[str, Any], properties: Mapping[str, Any]) -> dict[str, Any]:
    """SAM's Globals rules: maps merge (function wins), lists concatenate, scalars override."""
    merged = copy.deepcopy(dict(globals_))
    for key, value in properties.items():
        if (
            isinstance(value, dict)
            and isinstance(merged.get(key), dict)
            and not _is_intrinsic(value)
        ):
            merged[key] = _merge_globals(merged[key], value)
        elif isinstance(value, list) and isinstance(merged.get(key), list):
            merged[key] = merged[key] + value
        else:
            merged[key] = value
    return merged


def _is_intrinsic(value: Mapping[str, Any]) -> bool:
    return len(value) == 1 and next(iter(value)).startswith(("Fn::", "Ref"))


def _function(
    logical_id: str,
    resource: Mapping[str, Any],
    globals_: Mapping[str, Any],
    resolver: Resolver,
    base_dir: Path,
    layers: Mapping[str, tuple[Path, ...]],
    refs: Mapping[str, Any],
    warnings: list[str],
) -> FunctionModel:
    merged = _merge_globals(globals_, resource.get("Properties") or {})
    properties = resolver.resolve(
        {k: v for k, v in merged.items() if k in _FUNCTION_PROPERTIES}, logical_id
    )
    if properties.get("PackageType") == "Image":
        raise TemplateError(
            "image functions need Docker; the local stage runs zip functions",
            logical_id,
            "PackageType",
        )
    for required in ("CodeUri", "Handler"):
        if not isinstance(properties.get(required), str):
            raise TemplateError(
                "is required (a local folder and module.function)", logical_id, required
            )
    code_dir = (base_dir / properties["CodeUri"]).resolve()
    if not code_dir.is_dir():
        raise TemplateError(f"folder {code_dir} does not exist", logical_id, "CodeUri")
    runtime = str(properties.get("Runtime", ""))
    if not runtime.startswith("python"):
        raise TemplateError(
            f"runtime {runtime!r} is not Python; the stage runs Python handlers",
            logical_id,
            "Runtime",
        )
    layer_dirs: list[Path] = []
    for layer in properties.get("Layers", []):
        if layer in layers:
            layer_dirs.extend(layers[layer])
        else:
            warnings.append(
                f"{logical_id}: layer {layer} is not in the template; its packages must be "
                "installed in the stage's Python environment"
            )
    variables = (properties.get("Environment") or {}).get("Variables") or {}
    return FunctionModel(
        logical_id=logical_id,
        function_name=str(refs[logical_id]),
        code_dir=code_dir,
        handler=properties["Handler"],
        runtime=runtime,
        timeout=float(properties.get("Timeout", DEFAULT_TIMEOUT_SECONDS)),
        memory_size=int(properties.get("MemorySize", DEFAULT_MEMORY_MB)),
        environment={str(k): _env_value(v) for k, v in variables.items()},
        layer_dirs=tuple(layer_dirs),
    )


def _env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _function_for_uri(uri: Any, functions_by_name: Mapping[str, str], where: str, prop: str) -> str:
    match = _FUNCTION_ARN.search(str(uri))
    if match is None or match.group(1) not in functions_by_name:
        raise TemplateError(f"{uri!r} does not name a function of this template", where, prop)
    return functions_by_name[match.group(1)]


def _routes(
    resources: Mapping[str, Any],
    api_logical_id: str,
    resolver: Resolver,
    functions_by_name: Mapping[str, str],
) -> dict[str, RouteModel]:
    def of_api(kind: str) -> dict[str, dict[str, Any]]:
        found = {}
        for logical_id, resource in resources.items():
            if resource.get("Type") != kind:
                continue
            properties = resolver.resolve(resource.get("Properties") or {}, logical_id)
            if properties.get("ApiId") == resolver.resolve({"Ref": api_logical_id}):
                found[logical_id] = properties
        return found

    integrations = of_api("AWS::ApiGatewayV2::Integration")
    authorizers = of_api("AWS::ApiGatewayV2::Authorizer")
    two_way = {p.get("RouteId") for p in of_api("AWS::ApiGatewayV2::RouteResponse").values()}
    routes: dict[str, RouteModel] = {}
    for logical_id, properties in of_api("AWS::ApiGatewayV2::Route").items():
        key = properties.get("RouteKey")
        if not isinstance(key, str):
            raise TemplateError("is required", logical_id, "RouteKey")
        target = str(properties.get("Target", ""))
        integration_id = target.removeprefix("integrations/")
        if integration_id not in integrations:
            raise TemplateError(
                f"Target {target!r} is not an integration of this API", logical_id, "Target"
            )
        integration = integrations[integration_id]
        if integration.get("IntegrationType") != "AWS_PROXY":
            raise TemplateError(
                f"IntegrationType {integration.get('IntegrationType')!r} is not emulated "
                "(use AWS_PROXY)",
                integration_id,
                "IntegrationType",
            )
        function = _function_for_uri(
            integration.get("IntegrationUri"), functions_by_name, integration_id, "IntegrationUri"
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
            two_way=logical_id in two_way,
            authorizer=authorizer,
        )
    return routes


def _authorizer(
    authorizer_id: Any,
    authorizers: Mapping[str, Mapping[str, Any]],
    functions_by_name: Mapping[str, str],
    route: str,
) -> AuthorizerModel:
    if authorizer_id not in authorizers:
        raise TemplateError("does not name an authorizer of this API", route, "AuthorizerId")
    properties = authorizers[authorizer_id]
    if properties.get("AuthorizerType") != "REQUEST":
        raise TemplateError(
            "only REQUEST authorizers are emulated", authorizer_id, "AuthorizerType"
        )
    return AuthorizerModel(
        logical_id=authorizer_id,
        function=_function_for_uri(
            properties.get("AuthorizerUri"), functions_by_name, authorizer_id, "AuthorizerUri"
        ),
        identity_sources=tuple(properties.get("IdentitySource") or ()),
    )


def _table(
    logical_id: str, resource: Mapping[str, Any], resolver: Resolver, refs: Mapping[str, Any]
) -> TableModel:
    properties = resolver.resolve(resource.get("Properties") or {}, logical_id)
    if resource.get("Type") == "AWS::Serverless::SimpleTable":
        key = properties.get("PrimaryKey") or {"Name": "id", "Type": "String"}
        kind = {"String": "S", "Number": "N", "Binary": "B"}[key.get("Type", "String")]
        return TableModel(
            logical_id=logical_id,
            create_table={
                "TableName": refs[logical_id],
                "AttributeDefinitions": [{"AttributeName": key["Name"], "AttributeType": kind}],
                "KeySchema": [{"AttributeName": key["Name"], "KeyType": "HASH"}],
                "BillingMode": "PAY_PER_REQUEST",
            },
            ttl_attribute=None,
        )
    billing = properties.get("BillingMode", "PROVISIONED")
    create: dict[str, Any] = {
        "TableName": refs[logical_id],
        "AttributeDefinitions": properties.get("AttributeDefinitions"),
        "KeySchema": properties.get("KeySchema"),
        "BillingMode": billing,
    }
    throughput = properties.get("ProvisionedThroughput") or {
        "ReadCapacityUnits": 5,
        "WriteCapacityUnits": 5,
    }
    if billing == "PROVISIONED":
        create["ProvisionedThroughput"] = _capacity(throughput)
    for indexes in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        # Only a provisioned table's global indexes carry their own throughput.
        own_capacity = billing == "PROVISIONED" and indexes == "GlobalSecondaryIndexes"
        if properties.get(indexes):
            create[indexes] = [
                _index(index, throughput if own_capacity else None) for index in properties[indexes]
            ]
    if not create["AttributeDefinitions"] or not create["KeySchema"]:
        raise TemplateError("needs AttributeDefinitions and KeySchema", logical_id, "KeySchema")
    ttl = properties.get("TimeToLiveSpecification") or {}
    return TableModel(
        logical_id=logical_id,
        create_table=create,
        ttl_attribute=ttl.get("AttributeName")
        if str(ttl.get("Enabled")).lower() == "true"
        else None,
    )


def _index(index: Mapping[str, Any], table_throughput: Mapping[str, Any] | None) -> dict[str, Any]:
    """A CreateTable index from a template index; with the throughput when it needs one."""
    made = {key: index[key] for key in ("IndexName", "KeySchema", "Projection") if key in index}
    if table_throughput is not None:
        made["ProvisionedThroughput"] = _capacity(
            index.get("ProvisionedThroughput", table_throughput)
        )
    return made


def _capacity(throughput: Mapping[str, Any]) -> dict[str, int]:
    return {
        "ReadCapacityUnits": int(throughput.get("ReadCapacityUnits", 5)),
        "WriteCapacityUnits": int(throughput.get("WriteCapacityUnits", 5)),
    }


def _not_emulated(resources: Mapping[str, Any], api_logical_id: str) -> list[str]:
    lines = []
    for logical_id, resource in resources.items():
        kind = resource.get("Type", "?")
        if kind == "AWS::ApiGatewayV2::Api" and logical_id != api_logical_id:
            protocol = (resource.get("Properties") or {}).get("ProtocolType")
            lines.append(f"{logical_id} ({kind}, {protocol}) is not served")
        elif kind not in _UNDERSTOOD:
            lines.append(f"{logical_id} ({kind}) is not emulated")
    return lines
