"""The integration seam's I/O: each kind's implementation, and the one a route uses.

The Lambda proxy invokes the route's function; HTTP and HTTP_PROXY call a web server;
MOCK answers from its templates; AWS invokes a function through templates or posts an
action to the stage's engine (DynamoDB, SQS), signed as boto3 would. What to send and how
to read the answer is ``wslocal.apigateway.integrations``'; this only moves the bytes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from wslocal.apigateway import integration as proxy
from wslocal.apigateway.integration import ProxyResponse
from wslocal.apigateway.integrations import Integration, api, aws, http, mock
from wslocal.apigateway.integrations.backend import BackendRequest, BackendResponse
from wslocal.apigateway.integrations.exceptions import EndpointTimeoutError, IntegrationError
from wslocal.apigateway.integrations.templates import CompiledTemplates
from wslocal.apigateway.proxy import responses
from wslocal.exceptions import HandlerError, InvocationError
from wslocal.template.model import IntegrationModel, RouteModel

if TYPE_CHECKING:
    import aiohttp

log = logging.getLogger("wslocal")

Invoke = Callable[[str, Mapping[str, Any], str], Awaitable[Any]]


class BackendClient:
    """HTTP calls to backends, on one connection pool opened on first use (aiohttp is
    imported then: most templates have no HTTP integration, and its import is a third
    of a second of the stage's start)."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    async def send(self, request: BackendRequest) -> BackendResponse:
        import aiohttp

        if self._session is None:
            self._session = aiohttp.ClientSession(auto_decompress=True)
        try:
            async with (
                asyncio.timeout(request.timeout_s),
                self._session.request(
                    request.method,
                    request.url,
                    headers=list(request.headers),
                    data=request.body,
                    allow_redirects=False,
                ) as response,
            ):
                body = await response.text(errors="replace")
                return BackendResponse(response.status, body, tuple(response.headers.items()))
        except TimeoutError:
            raise EndpointTimeoutError(
                f"{request.method} {request.url}: no answer within {request.timeout_s:g} s"
            ) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise IntegrationError(f"{request.method} {request.url}: {exc}") from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class LambdaProxy:
    def __init__(self, invoke: Invoke) -> None:
        self._invoke = invoke

    async def call(self, route: RouteModel, event: Mapping[str, Any], label: str) -> ProxyResponse:
        assert route.function is not None
        try:
            return proxy.proxy_response(await self._invoke(route.function, event, label))
        except (InvocationError, proxy.MalformedResultError) as exc:
            raise IntegrationError(str(exc)) from exc


class HttpBackend:
    """HTTP and HTTP_PROXY."""

    def __init__(self, client: BackendClient, templates: CompiledTemplates) -> None:
        self._client = client
        self._render = templates.render

    async def call(self, route: RouteModel, event: Mapping[str, Any], label: str) -> ProxyResponse:
        integration = _integration(route)
        response = await self._client.send(http.http_request(integration, event, self._render))
        return http.http_answer(integration, event, response, self._render)


class Mock:
    def __init__(self, templates: CompiledTemplates) -> None:
        self._render = templates.render

    async def call(self, route: RouteModel, event: Mapping[str, Any], label: str) -> ProxyResponse:
        return mock.mock_answer(_integration(route), event, self._render)


class AwsService:
    """AWS: a function through templates, or an action of one of the stage's engines."""

    def __init__(
        self,
        invoke: Invoke,
        client: BackendClient,
        endpoints: Callable[[], Mapping[str, str]],
        region: Callable[[], str],
        templates: CompiledTemplates,
    ) -> None:
        self._invoke = invoke
        self._client = client
        self._endpoints = endpoints
        self._region = region
        self._render = templates.render

    async def call(self, route: RouteModel, event: Mapping[str, Any], label: str) -> ProxyResponse:
        integration = _integration(route)
        if integration.function is not None:
            return await self._lambda(integration, event, label)
        action = aws.service_action(integration.uri)
        request = aws.service_request(
            integration, event, self._endpoint(integration, action.service), self._render
        )
        response = await self._client.send(self._signed(request, action.service))
        return aws.service_answer(integration, event, response, self._render)

    async def answer_api(
        self, integration: IntegrationModel, event: Mapping[str, Any]
    ) -> responses.ProxyResponse:
        """A REST API's service action: the request template by content type, the
        method response through the integration responses; an HTTP API's subtype (only
        ``SQS-SendMessage`` here): the service's answer as it is."""
        action = aws.service_action(integration.uri)
        endpoint = self._endpoint(integration, action.service)
        if integration.subtype == "SQS-SendMessage":
            request = aws.sqs_send_message_request(integration, event, endpoint)
            response = await self._client.send(self._signed(request, "sqs"))
            return api.passed_through(response)
        url = aws.service_request_url(integration, event, endpoint)
        request = api.rest_request(integration, event, url, self._render)
        signed = self._signed(aws.with_service_headers(request, action), action.service)
        response = await self._client.send(signed)
        return api.rest_answer(integration, event, response, renderer=self._render)

    def _endpoint(self, integration: IntegrationModel, service: str) -> str:
        endpoint = self._endpoints().get(aws.ENDPOINT_VARIABLES.get(service) or "")
        if endpoint is None:
            raise IntegrationError(f"{integration.uri}: the stage runs no {service} engine to call")
        return endpoint

    async def _lambda(
        self, integration: IntegrationModel, event: Mapping[str, Any], label: str
    ) -> ProxyResponse:
        assert integration.function is not None
        payload = aws.lambda_payload(integration, event, self._render)
        try:
            result = await self._invoke(integration.function, payload, label)
        except HandlerError as exc:
            return aws.lambda_error_answer(integration, event, exc.error, self._render)
        except InvocationError as exc:
            raise IntegrationError(str(exc)) from exc
        return aws.lambda_answer(integration, event, result, self._render)

    def _signed(self, request: BackendRequest, service: str) -> BackendRequest:
        """SigV4 with the local engines' dummy credentials (they read, never check it)."""
        unsigned = AWSRequest(
            method=request.method, url=request.url, data=request.body, headers=dict(request.headers)
        )
        SigV4Auth(Credentials("local", "local"), service, self._region()).add_auth(unsigned)
        return BackendRequest(
            request.method,
            request.url,
            tuple((name, str(value)) for name, value in unsigned.headers.items()),
            request.body,
            request.timeout_s,
        )


class Integrations:
    """The implementation each route's integration kind has; a new kind is a new entry."""

    def __init__(
        self,
        invoke: Invoke,
        endpoints: Callable[[], Mapping[str, str]],
        region: Callable[[], str],
    ) -> None:
        self._client = BackendClient()
        self._invoke = invoke
        templates = CompiledTemplates()
        self._render = templates.render
        self._aws = AwsService(invoke, self._client, endpoints, region, templates)
        self._kinds: dict[str, Integration] = {
            "AWS_PROXY": LambdaProxy(invoke),
            "HTTP": HttpBackend(self._client, templates),
            "HTTP_PROXY": HttpBackend(self._client, templates),
            "MOCK": Mock(templates),
            "AWS": self._aws,
        }

    async def call(self, route: RouteModel, event: Mapping[str, Any], label: str) -> ProxyResponse:
        """The route's answer; raises IntegrationError (its reason logged by the caller)."""
        kind = "AWS_PROXY" if route.integration is None else route.integration.kind
        return await self._kinds[kind].call(route, event, label)

    async def answer_api(
        self, api_kind: str, integration: IntegrationModel, event: Mapping[str, Any], label: str
    ) -> responses.ProxyResponse:
        """A REST (``api_kind`` ``REST``) or HTTP API route's response from its HTTP,
        HTTP_PROXY or AWS integration; failures answered as the API answers them."""
        try:
            if integration.kind == "MOCK":
                return api.rest_mock_answer(integration, event, renderer=self._render)
            if integration.kind == "AWS" and integration.function is None:
                return await self._aws.answer_api(integration, event)
            if api_kind == "HTTP":
                request = api.http_api_request(integration, event)
                response = await self._client.send(request)
                return api.rest_answer(integration, event, response, renderer=self._render)
            if integration.function is not None:
                return await self._lambda_api(integration, event, label)
            request = api.rest_request(integration, event, renderer=self._render)
            response = await self._client.send(request)
            return api.rest_answer(integration, event, response, renderer=self._render)
        except IntegrationError as exc:
            log.warning("%s failed: %s", label, exc)
            return api.failure(api_kind, exc)

    async def _lambda_api(
        self, integration: IntegrationModel, event: Mapping[str, Any], label: str
    ) -> responses.ProxyResponse:
        assert integration.function is not None
        payload = api.lambda_rest_payload(integration, event, self._render)
        try:
            result = await self._invoke(integration.function, payload, label)
        except HandlerError as exc:
            return api.lambda_rest_answer(integration, event, None, exc.error, self._render)
        except InvocationError as exc:
            raise IntegrationError(str(exc)) from exc
        return api.lambda_rest_answer(integration, event, result, renderer=self._render)

    async def close(self) -> None:
        await self._client.close()


def _integration(route: RouteModel) -> IntegrationModel:
    assert route.integration is not None, f"{route.route_key} has a Lambda proxy integration"
    return route.integration
