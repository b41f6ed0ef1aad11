"""The authorizers of REST and HTTP APIs, as API Gateway applies them: which identity a
request carries, the event a Lambda authorizer gets, what its answer means (an IAM policy
evaluated against the method's ARN, or HTTP's simple response), the JWT checks of HTTP's
JWT and REST's Cognito authorizers, and the result cache keyed by identity. Pure: the
clock, the keys and the Lambda's answer come in; ``wslocal.server.authorizing`` does the
calls.

Answers, as the service gives them: an identity source missing -> 401
``{"message":"Unauthorized"}`` without calling anything; a Lambda that says
``Unauthorized`` -> 401; a policy that denies -> 403 (REST: ``{"Message": "User is not
authorized to access this resource[ with an explicit deny]"}``; HTTP:
``{"message":"Forbidden"}``); a Lambda that fails or answers nonsense -> 500.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from wslocal.apigateway.proxy.events import Invocation, ProxyRequest, proxy_event
from wslocal.apigateway.proxy.responses import ProxyResponse
from wslocal.apigateway.proxy.routes import RouteMatch
from wslocal.template.model import ProxyApiModel, ProxyAuthorizerModel

_SOURCE = re.compile(r"^\$?(?:method\.)?request\.(header|querystring|path)\.(.+)$")


def _message(status: int, body: Mapping[str, Any]) -> ProxyResponse:
    return ProxyResponse(status, [("Content-Type", "application/json")], json.dumps(body).encode())


def unauthorized() -> ProxyResponse:
    return _message(401, {"message": "Unauthorized"})


def forbidden(api: ProxyApiModel, explicit_deny: bool = False) -> ProxyResponse:
    if api.kind == "HTTP":
        return _message(403, {"message": "Forbidden"})
    text = "User is not authorized to access this resource"
    return _message(403, {"Message": text + (" with an explicit deny" if explicit_deny else "")})


def failed(api: ProxyApiModel) -> ProxyResponse:
    """The authorizer itself failed (it raised, or answered nonsense)."""
    if api.kind == "HTTP":
        return _message(500, {"message": "Internal Server Error"})
    return _message(500, {"message": None})


def identity(
    authorizer: ProxyAuthorizerModel, request: ProxyRequest, path_parameters: Mapping[str, str]
) -> tuple[str, ...] | None:
    """The values of the authorizer's identity sources; None when one is missing or
    empty. Sources the stage does not read (stage variables, context) are left out."""
    query = dict(request.query)
    values = []
    for source in authorizer.identity_sources:
        found = _SOURCE.match(source.strip())
        if found is None:
            continue
        where, name = found.groups()
        if where == "header":
            value = request.header(name)
        elif where == "querystring":
            value = query.get(name)
        else:
            value = path_parameters.get(name)
        if not value:
            return None
        values.append(value)
    return tuple(values)


def admission(
    api: ProxyApiModel,
    authorizer: ProxyAuthorizerModel,
    request: ProxyRequest,
    path_parameters: Mapping[str, str],
) -> tuple[str, ...] | ProxyResponse:
    """The identity the authorizer is asked about (and its answer cached by), or the 401
    API Gateway answers without calling anything: an identity source missing or empty
    (but a REST ``REQUEST`` authorizer without a cache is called with what there is), a
    ``TOKEN`` its ``ValidationExpression`` does not match."""
    values = identity(authorizer, request, path_parameters)
    if values is None:
        if api.kind == "REST" and authorizer.kind == "REQUEST" and authorizer.ttl_s == 0:
            return ()
        return unauthorized()
    if not values and authorizer.kind != "REQUEST":
        return unauthorized()  # a token authorizer with no source to read a token from
    expression = authorizer.validation_expression
    if authorizer.kind == "TOKEN" and expression and not re.fullmatch(expression, values[0]):
        return unauthorized()
    return values


def authorizer_event(
    api: ProxyApiModel,
    authorizer: ProxyAuthorizerModel,
    match: RouteMatch | None,
    request: ProxyRequest,
    invocation: Invocation | None,
    arn: str,
    values: Sequence[str],
) -> dict[str, Any]:
    """What a Lambda authorizer gets: a ``TOKEN`` one the token and the ARN; a
    ``REQUEST`` one the route's event in its payload format (``match`` and
    ``invocation`` needed), without the body."""
    if authorizer.kind == "TOKEN":
        return token_event(values[0], arn)
    assert match is not None and invocation is not None
    route_event = proxy_event(
        api, match, request, invocation, payload_format=authorizer.payload_format
    )
    return request_event(authorizer, route_event, arn, values)


def method_arn(api: ProxyApiModel, region: str, account_id: str, method: str, path: str) -> str:
    """``arn:aws:execute-api:{region}:{account}:{api}/{stage}/{METHOD}/{path}``, the
    request's own path (without the stage), as policies are written against."""
    return (
        f"arn:aws:execute-api:{region}:{account_id}:{api.api_id}/{api.stage_name}/"
        f"{method}/{path.lstrip('/')}"
    )


def token_event(token: str, arn: str) -> dict[str, Any]:
    return {"type": "TOKEN", "authorizationToken": token, "methodArn": arn}


def request_event(
    authorizer: ProxyAuthorizerModel,
    proxy_event: Mapping[str, Any],
    arn: str,
    values: Sequence[str],
) -> dict[str, Any]:
    """A REQUEST authorizer's event: the route's own event without its body, with the
    method's ARN; HTTP's payload 2.0 one also names the identity values."""
    event = {
        k: v for k, v in proxy_event.items() if k not in ("body", "isBase64Encoded", "version")
    }
    if authorizer.payload_format == "2.0":
        head = {"version": "2.0", "type": "REQUEST", "routeArn": arn}
        return {**head, "identitySource": list(values), **event}
    event = {"type": "REQUEST", "methodArn": arn, **event}
    if "version" in proxy_event:  # an HTTP API's payload 1.0 authorizer
        event = {"version": "1.0", **event}
        event["identitySource"] = ",".join(values)
        event["authorizationToken"] = ",".join(values)
    return event


@dataclass(frozen=True)
class Verdict:
    """What an authorizer decided: ``context`` (for ``requestContext.authorizer``) when
    allowed, else the refusal to send."""

    context: dict[str, Any] | None = None
    refusal: ProxyResponse | None = None
    policy: Mapping[str, Any] | None = field(default=None, compare=False)
    """The Lambda's answer, cached as it is: a cached policy is evaluated again for each
    method, as API Gateway does (a policy for one method can refuse another)."""


def lambda_verdict(
    api: ProxyApiModel, authorizer: ProxyAuthorizerModel, answer: Any, arn: str
) -> Verdict:
    """A Lambda authorizer's answer, for the method ``arn``."""
    if not isinstance(answer, Mapping):
        return Verdict(refusal=failed(api))
    context = answer.get("context") or {}
    if not isinstance(context, Mapping):
        return Verdict(refusal=failed(api))
    if authorizer.simple_responses and "isAuthorized" in answer:
        if answer.get("isAuthorized") is not True:
            return Verdict(refusal=forbidden(api), policy=answer)
        return Verdict(context={"lambda": dict(context)}, policy=answer)
    effect = policy_effect(answer.get("policyDocument"), arn)
    if effect is None and not isinstance(answer.get("policyDocument"), Mapping):
        return Verdict(refusal=failed(api))
    if effect != "Allow":
        return Verdict(refusal=forbidden(api, explicit_deny=effect == "Deny"), policy=answer)
    if api.kind == "HTTP":
        return Verdict(context={"lambda": dict(context)}, policy=answer)
    flat = {str(k): _string(v) for k, v in context.items()}
    return Verdict(
        context={
            **flat,
            "principalId": str(answer.get("principalId", "")),
            "integrationLatency": 0,
        },
        policy=answer,
    )


def policy_effect(document: Any, arn: str) -> str | None:
    """``Deny`` when a statement denies the ARN, else ``Allow`` when one allows it, else
    None. Resources may use ``*`` and ``?``; actions ``execute-api:Invoke`` or wildcards."""
    if not isinstance(document, Mapping):
        return None
    statements = document.get("Statement") or []
    if isinstance(statements, Mapping):
        statements = [statements]
    allowed = False
    for statement in statements:
        if not isinstance(statement, Mapping) or not _invokes(statement.get("Action")):
            continue
        resources = statement.get("Resource") or []
        resources = [resources] if isinstance(resources, str) else resources
        if not any(fnmatch.fnmatchcase(arn, str(resource)) for resource in resources):
            continue
        if statement.get("Effect") == "Deny":
            return "Deny"
        allowed = allowed or statement.get("Effect") == "Allow"
    return "Allow" if allowed else None


def _invokes(action: Any) -> bool:
    actions = [action] if isinstance(action, str) else action or []
    return any(fnmatch.fnmatchcase("execute-api:Invoke", str(a)) for a in actions)


def _string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class TokenRejectedError(ValueError):
    """A JWT that does not pass: 401."""


def bearer(value: str) -> str:
    return value[7:].strip() if value[:7].lower() == "bearer " else value.strip()


def key_id(token: str) -> str | None:
    import jwt  # with cryptography, a tenth of a second: imported by the first JWT only

    try:
        return jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError:
        raise TokenRejectedError("not a JWT") from None


def verify_token(
    token: str,
    keys: Mapping[str, Mapping[str, Any]],
    *,
    issuer: str,
    audience: Sequence[str] = (),
    now: float,
) -> dict[str, Any]:
    """The token's claims once its signature (by the issuer's key ``kid``), ``iss``,
    ``exp``/``nbf`` and, when an audience is configured, ``aud`` or ``client_id`` pass."""
    import jwt

    kid = key_id(token)
    if kid is None or kid not in keys:
        raise TokenRejectedError(f"no key {kid!r} in the issuer's JWKS")
    jwk = jwt.PyJWK(dict(keys[kid]))
    try:
        claims: dict[str, Any] = jwt.decode(
            token, jwk.key, algorithms=[jwk.algorithm_name], issuer=issuer,
            options={"verify_aud": False, "verify_exp": False, "verify_nbf": False},
        )  # fmt: skip
    except jwt.PyJWTError as exc:
        raise TokenRejectedError(str(exc)) from None
    if "exp" in claims and float(claims["exp"]) <= now:
        raise TokenRejectedError("expired")
    if "nbf" in claims and float(claims["nbf"]) > now:
        raise TokenRejectedError("not valid yet")
    if audience:
        named = claims.get("aud") or []
        named = [named] if isinstance(named, str) else list(named)
        if claims.get("client_id") is not None:
            named.append(claims["client_id"])
        if not set(map(str, named)) & set(audience):
            raise TokenRejectedError("the audience is not the API's")
    return claims


def token_scopes(claims: Mapping[str, Any]) -> list[str]:
    scope = claims.get("scope")
    if isinstance(scope, str):
        return scope.split()
    scp = claims.get("scp")
    return [str(s) for s in scp] if isinstance(scp, list) else []


def claim_strings(claims: Mapping[str, Any]) -> dict[str, str]:
    """Claims as API Gateway hands them on: strings; a list as ``[a b]``."""
    return {
        str(name): (f"[{' '.join(map(str, value))}]" if isinstance(value, list) else _string(value))
        for name, value in claims.items()
    }


def jwt_verdict(api: ProxyApiModel, claims: Mapping[str, Any], scopes: Sequence[str]) -> Verdict:
    """HTTP's JWT authorizer: the route's scopes, when it has some, must include one of
    the token's; claims and scopes under ``authorizer.jwt``."""
    granted = token_scopes(claims)
    if scopes and not set(scopes) & set(granted):
        return Verdict(refusal=forbidden(api))
    return Verdict(context={"jwt": {"claims": claim_strings(claims), "scopes": granted or None}})


def cognito_verdict(claims: Mapping[str, Any], scopes: Sequence[str]) -> Verdict:
    """REST's Cognito authorizer: a method without scopes takes an ID token; one with
    ``AuthorizationScopes`` an access token granting one of them (else 401, unlike
    HTTP's 403). The claims go under ``authorizer.claims``."""
    token_use = claims.get("token_use")
    if scopes:
        granted = set(token_scopes(claims))
        if token_use not in (None, "access") or not granted & set(scopes):
            return Verdict(refusal=unauthorized())
    elif token_use not in (None, "id"):
        return Verdict(refusal=unauthorized())
    return Verdict(context={"claims": claim_strings(claims)})


def user_pool_issuer(pool_arn: str, endpoint: str | None) -> str:
    """``https://cognito-idp.{region}.amazonaws.com/{poolId}``; with a Cognito endpoint
    (``AWS_ENDPOINT_URL_COGNITO_IDP``, a local pool), ``{endpoint}/{poolId}``."""
    region = pool_arn.split(":")[3] if pool_arn.count(":") >= 5 else "us-east-1"
    pool_id = pool_arn.rsplit("/", 1)[-1]
    base = endpoint.rstrip("/") if endpoint else f"https://cognito-idp.{region}.amazonaws.com"
    return f"{base}/{pool_id}"


@dataclass
class AuthorizerCache:
    """Lambda authorizer answers by API, authorizer and identity, for ``ttl_s``; the
    clock is the caller's, who clears it when the template is read again."""

    entries: dict[tuple[str, str, tuple[str, ...]], tuple[float, Any]] = field(default_factory=dict)
    max_entries: int = 10_000

    def get(
        self,
        api: ProxyApiModel,
        authorizer: ProxyAuthorizerModel,
        key: tuple[str, ...],
        now: float,
    ) -> Any:
        entry = self.entries.get((api.logical_id, authorizer.name, key))
        if entry is None or entry[0] <= now:
            return None
        return entry[1]

    def put(
        self,
        api: ProxyApiModel,
        authorizer: ProxyAuthorizerModel,
        key: tuple[str, ...],
        answer: Any,
        now: float,
    ) -> None:
        if authorizer.ttl_s <= 0:
            return
        if len(self.entries) >= self.max_entries:
            self.entries = {k: v for k, v in self.entries.items() if v[0] > now}
            if len(self.entries) >= self.max_entries:
                self.entries.pop(next(iter(self.entries)))
        self.entries[(api.logical_id, authorizer.name, key)] = (now + authorizer.ttl_s, answer)

    def clear(self) -> None:
        self.entries.clear()
