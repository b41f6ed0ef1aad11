"""Which of the stage's doors a request goes through, decided from its head alone.

The front door (``wslocal.server.front_door``) reads a request head and asks here what
it is: a WebSocket upgrade, a call to ``@connections``, a static file of the page, a
plain GET at the WebSocket API's own address (426, as a hint), or nothing the stage
serves. Pure, so the order of the rules is tested without a socket (Starlette's
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
    NOT_FOUND = "not found"


def choose_door(
    request: HttpRequest, *, first: bool, serves_static: bool, websocket_path: bool
) -> Door:
    """The door for ``request``. ``first``: the connection's first request (only it may
    upgrade); ``websocket_path``: the path is one the WebSocket API answers at."""
    if first and request.is_websocket_upgrade:
        return Door.WEBSOCKET
    if management_api.is_management_path(request.path):
        return Door.MANAGEMENT_API
    if serves_static and request.method in ("GET", "HEAD"):
        return Door.STATIC
    return fallback_door(request, websocket_path=websocket_path)


def fallback_door(request: HttpRequest, *, websocket_path: bool) -> Door:
    """Where a request goes when the page's folder has no such file."""
    if request.method == "GET" and websocket_path:
        return Door.WEBSOCKET_ADDRESS
    return Door.NOT_FOUND
