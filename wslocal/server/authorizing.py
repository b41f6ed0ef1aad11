"""Running a REST or HTTP API route's authorizer: its Lambda in the warm pool, or the
JWT checks against the issuer's keys (fetched over HTTP and kept). The rules are the pure
core's (``wslocal.apigateway.proxy.authorizers``); this does the calls."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

from wslocal.apigateway.proxy import authorizers as rules
from wslocal.apigateway.proxy.events import Invocation, ProxyRequest
from wslocal.apigateway.proxy.responses import ProxyResponse
from wslocal.apigateway.proxy.routes import RouteMatch
from wslocal.exceptions import HandlerError, InvocationError
from wslocal.template import ProxyApiModel, ProxyAuthorizerModel

log = logging.getLogger("wslocal")

KEYS_KEPT_S = 3600.0
REFETCH_AFTER_S = 60.0
"""An unknown key id fetches the issuer's keys again, at most this often (rotation)."""


class IssuerKeys:
    """The signing keys of each JWT issuer, by key id: OIDC discovery
    (``/.well-known/openid-configuration``'s ``jwks_uri``), else
    ``/.well-known/jwks.json`` (Cognito's), kept an hour."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._keys: dict[str, tuple[float, dict[str, Mapping[str, Any]]]] = {}

    async def keys(self, issuer: str, kid: str | None) -> dict[str, Mapping[str, Any]]:
        now = self._clock()
        cached = self._keys.get(issuer)
        if cached is not None:
            age = now - cached[0]
            if age < KEYS_KEPT_S and (kid in cached[1] or age < REFETCH_AFTER_S):
                return cached[1]
        keys = await asyncio.to_thread(_fetch_keys, issuer)
        self._keys[issuer] = (now, keys)
        return keys


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:  # the issuer's own URL
        return json.loads(response.read())


def _fetch_keys(issuer: str) -> dict[str, Mapping[str, Any]]:
    base = issuer.rstrip("/")
    try:
        jwks_uri = _get_json(f"{base}/.well-known/openid-configuration")["jwks_uri"]
    except (OSError, ValueError, KeyError, TypeError):
        jwks_uri = f"{base}/.well-known/jwks.json"
    try:
        document = _get_json(jwks_uri)
    except (OSError, ValueError) as exc:
        raise rules.TokenRejectedError(
            f"the issuer's keys ({jwks_uri}) cannot be read: {exc}"
        ) from None
    return {
        str(key.get("kid")): key for key in document.get("keys", []) if isinstance(key, Mapping)
    }


class Authorizing:
    """Decides, for one request, what its route's authorizer says."""

    def __init__(
        self,
        invoke: Callable[..., Any],
        *,
        region: Callable[[], str],
        cognito_endpoint: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._invoke = invoke
        self._region = region
        self._cognito_endpoint = cognito_endpoint
        self._clock = clock
        self.cache = rules.AuthorizerCache()
        self.issuer_keys = IssuerKeys()

    def forget(self) -> None:
        """The template was read again: no answer cached under the old one is kept."""
        self.cache.clear()

    async def decide(
        self,
        api: ProxyApiModel,
        match: RouteMatch,
        request: ProxyRequest,
        invocation: Invocation,
    ) -> rules.Verdict:
        assert match.route.authorizer is not None
        authorizer = api.authorizers[match.route.authorizer]
        values = rules.admission(api, authorizer, request, match.path_parameters)
        if isinstance(values, ProxyResponse):
            return rules.Verdict(refusal=values)
        if authorizer.kind in ("JWT", "COGNITO"):
            return await self._token(api, authorizer, values[0], match)
        arn = rules.method_arn(
            api, self._region(), invocation.account_id, request.method, match.path
        )
        now = self._clock()
        answer = self.cache.get(api, authorizer, values, now)
        if answer is None:
            event = rules.authorizer_event(api, authorizer, match, request, invocation, arn, values)
            answer = await self._call(api, authorizer, event)
            if isinstance(answer, rules.Verdict):
                return answer
            self.cache.put(api, authorizer, values, answer, now)
        return rules.lambda_verdict(api, authorizer, answer, arn)

    async def _call(
        self, api: ProxyApiModel, authorizer: ProxyAuthorizerModel, event: Mapping[str, Any]
    ) -> Any:
        assert authorizer.function is not None
        try:
            return await self._invoke(authorizer.function, event, f"authorizer {authorizer.name}")
        except HandlerError as exc:
            if exc.error.get("errorMessage") == "Unauthorized":
                return rules.Verdict(refusal=rules.unauthorized())
            log.error("authorizer %s failed: %s", authorizer.name, exc)
        except InvocationError as exc:
            log.error("authorizer %s failed: %s", authorizer.name, exc)
        return rules.Verdict(refusal=rules.failed(api))

    async def _token(
        self, api: ProxyApiModel, authorizer: ProxyAuthorizerModel, raw: str, match: RouteMatch
    ) -> rules.Verdict:
        token = rules.bearer(raw) if authorizer.kind == "JWT" else raw.strip()
        issuers = (
            [authorizer.issuer]
            if authorizer.issuer
            else [
                rules.user_pool_issuer(pool, self._cognito_endpoint)
                for pool in authorizer.user_pools
            ]
        )
        reasons = []
        for issuer in issuers:
            try:
                keys = await self.issuer_keys.keys(issuer, rules.key_id(token))
                claims = rules.verify_token(
                    token, keys, issuer=issuer, audience=authorizer.audience, now=self._clock()
                )
            except rules.TokenRejectedError as exc:
                reasons.append(str(exc))
                continue
            if authorizer.kind == "JWT":
                return rules.jwt_verdict(api, claims, match.route.scopes)
            return rules.cognito_verdict(claims, match.route.scopes)
        log.info("authorizer %s refused a token: %s", authorizer.name, "; ".join(reasons))
        return rules.Verdict(refusal=rules.unauthorized())
