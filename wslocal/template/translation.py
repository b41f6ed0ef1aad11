"""SAM's API shorthands expanded by aws-sam-translator, the code that ``sam validate``
and ``sam deploy`` run, so each means locally exactly what it means on AWS.

``AWS::Serverless::WebSocketApi``, ``AWS::Serverless::Api``, ``AWS::Serverless::HttpApi``
and a function's ``Events`` of type ``Api`` and ``HttpApi`` (the implicit
``ServerlessRestApi`` and ``ServerlessHttpApi``) become ``AWS::ApiGatewayV2::*`` and
``AWS::ApiGateway::*`` resources, the REST and HTTP APIs with their OpenAPI ``Body``
(``x-amazon-apigateway-integration``, CORS, authorizers), under the logical ids SAM gives
them (``<Api><Route>Route``, ``<Api><Stage>Stage``, ``ServerlessRestApiProdStage``), so
other resources of the template can name them. Only those API resources are taken from
the translation: functions, layers, tables and queues are read from the SAM template
itself, where their local folders are.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wslocal.exceptions import TemplateError
from wslocal.template.intrinsics import load_yaml

SERVERLESS_APIS = frozenset(
    {"AWS::Serverless::Api", "AWS::Serverless::HttpApi", "AWS::Serverless::WebSocketApi"}
)
API_EVENTS = frozenset({"Api", "HttpApi"})
_PLACEHOLDER_S3 = "s3://wslocal-local-code/placeholder.zip"
_LOCAL_URIS = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
    "AWS::Serverless::StateMachine": "DefinitionUri",
    "AWS::Serverless::Application": "Location",
    "AWS::Serverless::GraphQLApi": "SchemaUri",
}
"""Properties naming a local path, which the translator wants on S3 (``sam package``
would upload them); the translation needs only that they look like S3 locations."""


def needs_translation(resources: Mapping[str, Any]) -> bool:
    """The template declares an API the translator expands."""
    for resource in resources.values():
        if not isinstance(resource, Mapping):
            continue
        if resource.get("Type") in SERVERLESS_APIS:
            return True
        if resource.get("Type") == "AWS::Serverless::Function":
            events = (resource.get("Properties") or {}).get("Events") or {}
            if isinstance(events, Mapping) and any(
                isinstance(event, Mapping) and event.get("Type") in API_EVENTS
                for event in events.values()
            ):
                return True
    return False


def api_resources(
    document: Mapping[str, Any],
    base_dir: Path,
    parameter_values: Mapping[str, Any],
    region: str,
    account_id: str,
) -> dict[str, Any]:
    """The API Gateway resources (``AWS::ApiGatewayV2::*``, ``AWS::ApiGateway::*``) of
    the translated template, by logical id. Raises TemplateError with the translator's
    own words (what ``sam validate`` says) when it refuses the template."""
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.public.exceptions import InvalidDocumentException
    from samtranslator.translator.translator import Translator

    translatable = _with_placeholders(document, base_dir)
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=region))
    values = {
        "AWS::Region": region,
        "AWS::AccountId": account_id,
        "AWS::Partition": "aws",
        **parameter_values,
    }
    try:
        translated = translator.translate(
            translatable,
            parameter_values=dict(values),
            get_managed_policy_map=_AnyManagedPolicy,
        )
    except InvalidDocumentException as exc:
        causes = "; ".join(str(cause.message) for cause in exc.causes) or str(exc)
        raise TemplateError(f"aws-sam-translator (as sam validate) refuses it: {causes}") from None
    except Exception as exc:  # the translator's own bugs: say them, never a traceback
        raise TemplateError(f"aws-sam-translator failed: {type(exc).__name__}: {exc}") from None
    return {
        logical_id: resource
        for logical_id, resource in translated.get("Resources", {}).items()
        if str(resource.get("Type", "")).startswith(("AWS::ApiGatewayV2::", "AWS::ApiGateway::"))
    }


class _AnyManagedPolicy(dict[str, str]):
    """Managed policy names to ARNs, without asking IAM: the stage does not enforce
    policies, and every AWS managed policy's ARN has this form."""

    def __init__(self) -> None:
        super().__init__()

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str)

    def __getitem__(self, name: str) -> str:
        return f"arn:aws:iam::aws:policy/{name}"

    def get(self, name: str, default: Any = None) -> Any:
        return self[name] if isinstance(name, str) else default


def _with_placeholders(document: Mapping[str, Any], base_dir: Path) -> dict[str, Any]:
    """A copy the translator takes: local code paths as S3 placeholders (as after
    ``sam package``), and a local ``DefinitionUri`` of an API read into its
    ``DefinitionBody`` (as ``sam package`` and ``sam local`` read it)."""
    copied: dict[str, Any] = copy.deepcopy(dict(document))
    globals_function = (copied.get("Globals") or {}).get("Function") or {}
    if isinstance(globals_function.get("CodeUri"), str):
        globals_function["CodeUri"] = _PLACEHOLDER_S3
    for logical_id, resource in (copied.get("Resources") or {}).items():
        if not isinstance(resource, dict):
            continue
        properties = resource.get("Properties")
        if not isinstance(properties, dict):
            continue
        kind = resource.get("Type")
        prop = _LOCAL_URIS.get(str(kind))
        if (
            prop
            and isinstance(properties.get(prop), str)
            and not properties[prop].startswith("s3://")
        ):
            properties[prop] = _PLACEHOLDER_S3
        if kind in ("AWS::Serverless::Api", "AWS::Serverless::HttpApi") and isinstance(
            properties.get("DefinitionUri"), str
        ):
            properties["DefinitionBody"] = _definition(
                base_dir / properties.pop("DefinitionUri"), logical_id
            )
    return copied


def _definition(path: Path, logical_id: str) -> Any:
    try:
        return load_yaml(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TemplateError(
            f"cannot read {path}: {exc.strerror}", logical_id, "DefinitionUri"
        ) from None
    except Exception as exc:
        raise TemplateError(
            f"{path} is not YAML or JSON: {exc}", logical_id, "DefinitionUri"
        ) from None
