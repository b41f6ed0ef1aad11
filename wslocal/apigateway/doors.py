"""Which of the stage's doors a request goes through, decided from its head alone.

The front door (``wslocal.server.front_door``) reads a request head and asks here what
it is. On the WebSocket API's port: a WebSocket upgrade, a call to ``@connections``, a
static file of the page, a plain GET at the API's own address (426, as a hint), or
nothing the stage serves. On a REST or HTTP API's port (each API has its own, so paths
are exactly the deployed API's): a call of that API, or a file of the page when that
port is the stage's first. Pure, so the order of the rules is tested without a socket (Starlette's
``Route.matches`` is the model).
"""

from __future__ import annotations

from enum import Enum

from wslocal.apigateway import management_api
from wslocal.apigateway.http import HttpRequest


class Door(Enum):
    WEBSOCKET = "websocket"
    """The first request of a connection asks to upgrade: the session takes it over."""
    MANAGEMENT_API = "@connections"
    STATIC = "static"
    """A GET or HEAD the page's folder may answer; not found there, the next rule's."""
    WEBSOCKET_ADDRESS = "websocket address"
    """A plain GET at the WebSocket API's path: 426 Upgrade Required."""
    PROXY_API = "REST or HTTP API"
    """A call of the REST or HTTP API this port serves."""
    NOT_FOUND = "not found"


def choose_door(
    request: HttpRequest,
    *,
    first: bool,
    serves_static: bool,
    websocket_path: bool,
    proxy_api: bool = False,
) -> Door:
    """The door for ``request``. ``first``: the connection's first request (only it may
    upgrade); ``websocket_path``: the path is one the WebSocket API answers at;
    ``proxy_api``: this port serves a REST or HTTP API."""
    if proxy_api:
        static = serves_static and request.method in ("GET", "HEAD")
        return Door.STATIC if static else Door.PROXY_API
    if first and request.is_websocket_upgrade:
        return Door.WEBSOCKET
    if management_api.is_management_path(request.path):
        return Door.MANAGEMENT_API
    if serves_static and request.method in ("GET", "HEAD"):
        return Door.STATIC
    return fallback_door(request, websocket_path=websocket_path)


def fallback_door(request: HttpRequest, *, websocket_path: bool, proxy_api: bool = False) -> Door:
    """Where a request goes when the page's folder has no such file."""
    if proxy_api:
        return Door.PROXY_API
    if request.method == "GET" and websocket_path:
        return Door.WEBSOCKET_ADDRESS
    return Door.NOT_FOUND
