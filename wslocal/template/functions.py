"""Functions and layers: SAM's Globals merged in, code and layer folders found."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from wslocal.exceptions import TemplateError
from wslocal.template.intrinsics import Resolver
from wslocal.template.model import (
    DEFAULT_MEMORY_MB,
    DEFAULT_TIMEOUT_SECONDS,
    FunctionModel,
    StageModel,
)

_FUNCTION_PROPERTIES = {
    "CodeUri", "Handler", "Runtime", "Timeout", "MemorySize",
    "Environment", "Layers", "PackageType", "ReservedConcurrentExecutions", "LoggingConfig",
}  # fmt: skip
"""The function properties the stage uses; others (Policies, Events, ...) stay unresolved."""

SERVED_RUNTIMES = ("python", "nodejs")
"""The runtime families the stage has workers for (``wslocal.runtime.languages``)."""


def layer_dirs(
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


def function_model(
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
    if not runtime.startswith(SERVED_RUNTIMES):
        raise TemplateError(
            f"runtime {runtime!r} is neither Python nor Node.js; the stage runs python* "
            "and nodejs* functions",
            logical_id,
            "Runtime",
        )
    metadata = resource.get("Metadata") or {}
    build_method = metadata.get("BuildMethod") if isinstance(metadata, dict) else None
    build_properties = (metadata.get("BuildProperties") or {}) if build_method else {}
    if not isinstance(build_properties, dict):
        raise TemplateError("must be a map", logical_id, "Metadata.BuildProperties")
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
    logging = properties.get("LoggingConfig") or {}
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
        reserved_concurrency=(
            int(properties["ReservedConcurrentExecutions"])
            if properties.get("ReservedConcurrentExecutions") is not None
            else None
        ),
        log_format=str(logging.get("LogFormat") or "Text"),
        log_level=str(logging["ApplicationLogLevel"])
        if logging.get("ApplicationLogLevel")
        else None,
        build_method=str(build_method) if build_method else None,
        build_properties=resolver.resolve(build_properties, logical_id),
    )


def _env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def override_environment(
    model: StageModel, env_vars: Mapping[str, Any]
) -> tuple[StageModel, list[str]]:
    """Apply a SAM ``--env-vars`` document: ``{"Parameters": {...}}`` for every function,
    ``{"<LogicalId>": {...}}`` for one (it wins). As SAM does, only variables the
    template declares for a function are overridden; the rest are named in warnings."""
    if not isinstance(env_vars, Mapping) or not all(
        isinstance(values, Mapping) for values in env_vars.values()
    ):
        raise TemplateError('--env-vars must be {"Parameters" or a function: {NAME: value}}')
    unknown = sorted(set(env_vars) - set(model.functions) - {"Parameters"})
    warnings = [
        f"--env-vars names {name}, which is not a function of the template" for name in unknown
    ]
    functions = dict(model.functions)
    for name, function in model.functions.items():
        wanted = {**env_vars.get("Parameters", {}), **env_vars.get(name, {})}
        ignored = sorted(set(env_vars.get(name, {})) - set(function.environment))
        if ignored:
            warnings.append(
                f"--env-vars: {name} declares no {', '.join(ignored)} in the template; "
                "ignored, as SAM ignores it"
            )
        applied = {key: str(value) for key, value in wanted.items() if key in function.environment}
        if applied:
            functions[name] = replace(function, environment={**function.environment, **applied})
    return replace(model, functions=functions), warnings
