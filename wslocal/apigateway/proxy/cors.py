"""An HTTP API's ``CorsConfiguration``, as API Gateway applies it: it answers a
preflight ``OPTIONS`` itself (204, no function called), and adds the allow headers to
the integration's responses for an allowed origin, dropping the function's own. (A REST
API's ``Cors`` is SAM's MOCK ``OPTIONS`` methods, served as routes.)"""

from __future__ import annotations

from wslocal.apigateway.proxy.responses import Headers, ProxyResponse
from wslocal.template.model import CorsModel


def is_preflight(method: str, origin: str | None, requested_method: str | None) -> bool:
    return method == "OPTIONS" and origin is not None and requested_method is not None


def _allowed_origin(cors: CorsModel, origin: str | None) -> str | None:
    if origin is None:
        return None
    if "*" in cors.allow_origins:
        return origin if cors.allow_credentials else "*"
    return origin if origin in cors.allow_origins else None


def preflight(cors: CorsModel, origin: str, requested_headers: str | None) -> ProxyResponse:
    """The API's own answer to a preflight; without allow headers for an origin it does
    not allow (the browser then refuses the call)."""
    allowed = _allowed_origin(cors, origin)
    if allowed is None:
        return ProxyResponse(204)
    headers: Headers = [("Access-Control-Allow-Origin", allowed)]
    if cors.allow_methods:
        headers.append(("Access-Control-Allow-Methods", ",".join(cors.allow_methods)))
    if cors.allow_headers:
        if "*" in cors.allow_headers and requested_headers:
            headers.append(("Access-Control-Allow-Headers", requested_headers))
        else:
            headers.append(("Access-Control-Allow-Headers", ",".join(cors.allow_headers)))
    if cors.max_age_s is not None:
        headers.append(("Access-Control-Max-Age", str(cors.max_age_s)))
    if cors.allow_credentials:
        headers.append(("Access-Control-Allow-Credentials", "true"))
    return ProxyResponse(204, headers)


def with_cors(cors: CorsModel, origin: str | None, response: ProxyResponse) -> ProxyResponse:
    """The integration's response with the API's CORS headers for ``origin``, and none
    of the integration's own: API Gateway ignores a backend's CORS headers once the API
    has a CORS configuration, whatever the origin."""
    kept = [
        (name, value)
        for name, value in response.headers
        if not name.lower().startswith("access-control-")
    ]
    allowed = _allowed_origin(cors, origin)
    if allowed is None:
        return ProxyResponse(response.status, kept, response.body)
    ours: Headers = [("Access-Control-Allow-Origin", allowed)]
    if cors.expose_headers:
        ours.append(("Access-Control-Expose-Headers", ",".join(cors.expose_headers)))
    if cors.allow_credentials:
        ours.append(("Access-Control-Allow-Credentials", "true"))
    return ProxyResponse(response.status, kept + ours, response.body)
