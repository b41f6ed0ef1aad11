"""Serving one request of a REST or HTTP API: the pure core chooses the route, builds
the event and maps the result (``wslocal.apigateway.proxy``); this asks the route's
authorizer (``Authorizing``), invokes the function in its warm pool and waits no longer
than the integration's timeout. A function that
outlives the timeout runs on to its end, as on AWS, while the client has its 504/503; a
function under a debugger (``--debug``) has no integration timeout, so a call paused at
a breakpoint is still answered."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from wslocal.apigateway.events import trace_id
from wslocal.apigateway.http import HttpRequest
from wslocal.apigateway.proxy import cors, responses
from wslocal.apigateway.proxy.events import (
    Invocation,
    ProxyRequest,
    front_end_headers,
    proxy_event,
)
from wslocal.apigateway.proxy.responses import ProxyResponse
from wslocal.apigateway.proxy.routes import match_route
from wslocal.exceptions import InvocationError
from wslocal.server.authorizing import Authorizing
from wslocal.template import ProxyApiModel

log = logging.getLogger("wslocal")


class ProxyHost(Protocol):
    """What serving a REST or HTTP API request needs of the stage."""

    @property
    def account_id(self) -> str: ...

    def clock(self) -> float: ...

    def new_id(self) -> str: ...

    def debugged(self, function: str) -> bool:
        """``function`` runs under a debugger: its calls may be held at a breakpoint."""
        ...

    async def invoke(self, function: str, event: Mapping[str, Any], label: str = "") -> Any: ...


class ProxyApiDoor:
    """Answers the requests of one REST or HTTP API."""

    def __init__(
        self,
        host: ProxyHost,
        authorizing: Authorizing,
        new_uuid: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self._host = host
        self._authorizing = authorizing
        self._new_uuid = new_uuid
        """A REST request's id; its extended id, and an HTTP API's id, are the host's."""
        self._outliving: set[asyncio.Task[Any]] = set()
        """Invocations whose client was answered with a timeout; they run to their end."""

    async def answer(
        self, api: ProxyApiModel, request: HttpRequest, body: bytes, *, source_ip: str, port: int
    ) -> ProxyResponse:
        origin = request.header("Origin")
        if api.cors is not None and cors.is_preflight(
            request.method, origin, request.header("Access-Control-Request-Method")
        ):
            assert origin is not None
            return cors.preflight(
                api.cors, origin, request.header("Access-Control-Request-Headers")
            )
        response = await self._route(api, request, body, source_ip, port)
        return cors.with_cors(api.cors, origin, response) if api.cors is not None else response

    async def _route(
        self, api: ProxyApiModel, request: HttpRequest, body: bytes, source_ip: str, port: int
    ) -> ProxyResponse:
        split = urlsplit(request.target)
        match = match_route(api, request.method, split.path or "/")
        if match is None:
            return responses.no_route(api)
        route = match.route
        now_ms = int(self._host.clock() * 1000)
        proxy_request = ProxyRequest(
            method=request.method,
            path=split.path or "/",
            raw_query=split.query,
            query=parse_qsl(split.query, keep_blank_values=True),
            headers=front_end_headers(
                request.headers, source_ip=source_ip, server_port=port, trace=trace_id(now_ms)
            ),
            body=body,
            source_ip=source_ip,
            domain_name=request.header("Host") or f"127.0.0.1:{port}",
            protocol=request.version,
        )
        extended_id = self._host.new_id()
        invocation = Invocation(
            self._new_uuid() if api.kind == "REST" else extended_id,
            now_ms,
            self._host.account_id,
            extended_id,
        )
        authorized = None
        if route.authorizer is not None:
            verdict = await self._authorizing.decide(api, match, proxy_request, invocation)
            if verdict.refusal is not None:
                return verdict.refusal
            authorized = verdict.context
        if route.mock is not None:  # SAM's CORS preflights too: guarded as on AWS
            return responses.mock_response(route.mock)
        assert route.function is not None
        event = proxy_event(api, match, proxy_request, invocation, authorized)
        label = f"{api.logical_id} {route.route_key}"
        call = asyncio.ensure_future(self._host.invoke(route.function, event, label))
        timeout_s = None if self._host.debugged(route.function) else route.timeout_s
        try:
            async with asyncio.timeout(timeout_s):
                result = await asyncio.shield(call)
        except TimeoutError:
            self._outliving.add(call)
            call.add_done_callback(self._finished_late)
            log.warning("%s: no result within %g s; answered %s", label, route.timeout_s,
                        "504" if api.kind == "REST" else "503")  # fmt: skip
            return responses.integration_timed_out(api)
        except InvocationError as exc:
            log.error("%s failed: %s", label, exc)
            return responses.integration_failed(api)
        try:
            return responses.function_response(api, route, result, accept=request.header("Accept"))
        except responses.MalformedResultError as exc:
            log.error("%s: malformed Lambda proxy response: %s", label, exc)
            return responses.integration_failed(api)

    def _finished_late(self, call: asyncio.Task[Any]) -> None:
        self._outliving.discard(call)
        if not call.cancelled() and call.exception() is not None:
            log.error("an invocation that outlived its API's timeout failed: %s", call.exception())

    async def drain(self, timeout: float) -> None:
        """Let invocations that outlived their timeout finish (the stage is stopping)."""
        if self._outliving:
            await asyncio.wait(list(self._outliving), timeout=timeout)
