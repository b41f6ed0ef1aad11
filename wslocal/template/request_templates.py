"""The request templates of the stage's model, found by route: what ``wslocal
render-template`` renders is what the stage would (parameters and ``Fn::Sub``
substituted, SAM translated, the same integration for the same route), because it reads
the one model ``wslocal start`` serves."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from wslocal.exceptions import TemplateError
from wslocal.template.model import IntegrationModel, StageModel


@dataclass(frozen=True)
class RequestTemplates:
    """One integration's request templates and where they were found."""

    route: str
    """The WebSocket route key, or ``METHOD /path`` for a REST or HTTP API's route."""
    api: str
    """The logical id of the API."""
    integration: str
    """The logical id of the integration (or of the REST method / the API, for OpenAPI)."""
    templates: Mapping[str, str]
    selection_expression: str | None = None
    """WebSocket: the integration's ``TemplateSelectionExpression``; REST: None."""
    websocket: bool = False


def request_templates(model: StageModel) -> list[RequestTemplates]:
    """Every route of the model whose integration has request templates."""
    return list(_found(model))


def _found(model: StageModel) -> Iterator[RequestTemplates]:
    for route in model.routes.values():
        if _has_templates(route.integration):
            assert route.integration is not None
            yield _of(route.integration, route.route_key, model.api_logical_id or "", True)
    for api in model.proxy_apis:
        for proxy_route in api.routes:
            if _has_templates(proxy_route.integration):
                assert proxy_route.integration is not None
                yield _of(proxy_route.integration, proxy_route.route_key, api.logical_id, False)


def _has_templates(integration: IntegrationModel | None) -> bool:
    return integration is not None and bool(integration.request_templates)


def _of(integration: IntegrationModel, route: str, api: str, websocket: bool) -> RequestTemplates:
    return RequestTemplates(
        route=route,
        api=api,
        integration=integration.logical_id,
        templates=integration.request_templates,
        selection_expression=integration.template_selection_expression,
        websocket=websocket,
    )


def find_request_templates(
    model: StageModel, route: str | None, integration: str | None, api: str | None
) -> RequestTemplates:
    """The one integration named by route key (``sendMessage``, ``POST /pets``) or by
    logical id; a TemplateError listing what there is when none or several fit."""
    found = request_templates(model)
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
