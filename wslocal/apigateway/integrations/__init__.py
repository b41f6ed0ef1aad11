"""The integration seam: what a route calls, one implementation per kind.

Every kind takes the event the stage builds for a route (the Lambda proxy event) and
answers a ``ProxyResponse`` or raises ``IntegrationError``. The shaping is pure and lives
here, one module per kind: ``http`` (HTTP, HTTP_PROXY), ``mock``, ``aws`` (Lambda
non-proxy, service actions), on the shared ``templates`` and ``selection`` rules. The
I/O (invoking a function, an HTTP call) is ``wslocal.server.integrations``'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from wslocal.apigateway.integration import ProxyResponse
from wslocal.apigateway.integrations.exceptions import (
    EndpointTimeoutError,
    IntegrationError,
)
from wslocal.template.model import RouteModel


class Integration(Protocol):
    """One kind of integration: the route's answer for this event."""

    async def call(
        self, route: RouteModel, event: Mapping[str, Any], label: str
    ) -> ProxyResponse: ...


__all__ = ["EndpointTimeoutError", "Integration", "IntegrationError"]
