"""``wslocal render-template``: what API Gateway would send to an integration, from a
mapping template (a file, or a route's request template in the SAM template) and an event
(a file or stdin, e.g. ``wslocal generate-event websocket message | wslocal
render-template --route sendMessage``). The rendered text goes to stdout; which template
was used goes to stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from wslocal.apigateway.mapping import (
    MappingInput,
    render_with_overrides,
    select_template,
    select_websocket_template,
)
from wslocal.apigateway.mapping.from_event import mapping_input_from_event
from wslocal.exceptions import TemplateError, WslocalError
from wslocal.template import StageModel, build_stage_model, read_template
from wslocal.template.request_templates import RequestTemplates, find_request_templates


def render_template_command(
    *,
    template_file: Path | None,
    sam_template: Path,
    route: str | None,
    integration: str | None,
    api: str | None,
    template_key: str | None,
    content_type: str | None,
    event_source: str | None,
    stage_variables: Mapping[str, str],
    context_overrides: Mapping[str, str],
    parameter_overrides: Mapping[str, str] | None = None,
    region: str,
    stdin: TextIO,
    out: TextIO,
    err: TextIO,
) -> None:
    """Render and print; a WslocalError (MappingTemplateError included) says what is wrong."""
    event = _read_event(event_source, stdin)
    if template_file is not None:
        given = mapping_input_from_event(event, stage_variables, context_overrides)
        try:
            text = template_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise WslocalError(f"cannot read {template_file}: {exc.strerror}") from None
        print(f"wslocal: rendering {template_file}", file=err)
    else:
        model = _stage_model(sam_template, region, api, parameter_overrides or {})
        found = find_request_templates(model, route, integration, api)
        served = {**_served_context(model, found), **context_overrides}
        given = mapping_input_from_event(event, stage_variables, served)
        key, text = _choose(found, template_key, content_type, given)
        print(
            f"wslocal: rendering {found.integration}'s request template {key!r} "
            f"(route {found.route})",
            file=err,
        )
    result = render_with_overrides(text, given)
    out.write(result.body)
    out.write("\n")
    for part, values in result.request_override.items():
        print(f"wslocal: the template overrides the request's {part}: {dict(values)}", file=err)
    if result.response_headers:
        print(
            f"wslocal: the template overrides response headers: {dict(result.response_headers)}",
            file=err,
        )
    if result.response_status is not None:
        print(f"wslocal: the template overrides the status: {result.response_status}", file=err)


def _served_context(model: StageModel, found: RequestTemplates) -> dict[str, str]:
    """``$context.stage`` and ``$context.apiId`` as the stage serving the route would set
    them, whatever the event says (a hand-written or generated event names no stage, or
    another one); ``--context`` still wins."""
    if found.websocket:
        stage, api_id = model.stage_name, model.api_id
    else:
        api = next((each for each in model.proxy_apis if each.logical_id == found.api), None)
        stage, api_id = (api.stage_name, api.api_id) if api is not None else (None, None)
    return {
        name: value for name, value in (("stage", stage), ("apiId", api_id)) if value is not None
    }


def _read_event(source: str | None, stdin: TextIO) -> Any:
    if source is None:
        return {}
    try:
        text = stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise WslocalError(f"cannot read the event {source}: {exc.strerror}") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise WslocalError(f"the event is not JSON: {exc}") from None


def _stage_model(
    path: Path, region: str, api: str | None, parameter_overrides: Mapping[str, str]
) -> StageModel:
    """The model ``wslocal start`` would serve (with ``--api``'s WebSocket API, when it
    names one; else the template's)."""
    document = read_template(path.resolve())
    websocket_api = api if api in _websocket_apis(document) else None
    return build_stage_model(
        document, path.resolve().parent, parameter_overrides, region=region, api=websocket_api
    )


def _websocket_apis(document: Mapping[str, Any]) -> set[str]:
    return {
        logical_id
        for logical_id, resource in (document.get("Resources") or {}).items()
        if isinstance(resource, Mapping)
        and resource.get("Type") == "AWS::ApiGatewayV2::Api"
        and (resource.get("Properties") or {}).get("ProtocolType") == "WEBSOCKET"
    }


def _choose(
    found: RequestTemplates,
    template_key: str | None,
    content_type: str | None,
    given: MappingInput,
) -> tuple[str, str]:
    """Which of the integration's templates API Gateway would apply to this event."""
    templates = found.templates
    if template_key is not None:
        if template_key not in templates:
            raise TemplateError(f"has no request template {template_key!r}", found.integration)
        return template_key, templates[template_key]
    if found.websocket:
        chosen = select_websocket_template(templates, found.selection_expression, given.body)
    else:
        headers = {name.lower(): value for name, value in given.params["header"].items()}
        chosen = select_template(templates, content_type or headers.get("content-type"))
    if chosen is None:
        raise TemplateError(
            f"no request template applies to this event (it has {sorted(templates)}); "
            "API Gateway would pass the body through or answer 415, by PassthroughBehavior",
            found.integration,
        )
    return next(key for key, text in templates.items() if text is chosen), chosen


def pairs(values: Sequence[str], option: str) -> list[tuple[str, str]]:
    """``NAME=VALUE`` options, in order, repeats kept (a generated event's header or query
    value can repeat), the value as written (quotes and ``=`` included); ``dict()`` of it
    keeps the last of a name. One reading for every subcommand's such options."""
    parsed = []
    for pair in values:
        name, separator, value = pair.partition("=")
        if not separator or not name.strip():
            raise WslocalError(f"{option} takes NAME=VALUE, not {pair!r}")
        parsed.append((name.strip(), value))
    return parsed


def main(args: Any, parameter_overrides: Mapping[str, str]) -> int:
    """The subcommand, from ``wslocal.cli``'s parsed arguments (the template's parameters
    read as ``wslocal start`` reads them); a WslocalError goes up to ``wslocal.cli.main``,
    which says it and exits 2."""
    render_template_command(
        parameter_overrides=parameter_overrides,
        template_file=args.template_file,
        sam_template=args.template,
        route=args.route,
        integration=args.integration,
        api=args.api,
        template_key=args.template_key,
        content_type=args.content_type,
        event_source=args.event,
        stage_variables=dict(pairs(args.stage_variable, "--stage-variable")),
        context_overrides=dict(pairs(args.context, "--context")),
        region=args.region,
        stdin=sys.stdin,
        out=sys.stdout,
        err=sys.stderr,
    )
    return 0
