"""The seed article's web server: API Gateway's WebSocket routes call it through HTTP
integrations, it keeps the connection ids in its memory and posts each message to every
connection through the API Gateway Management API.

    python examples/seed_chat/backend.py [--port 8000] [--management-endpoint URL]

``--management-endpoint`` (or ``MANAGEMENT_ENDPOINT``) is the stage's URL,
``https://{apiId}.execute-api.{region}.amazonaws.com/{stage}`` on AWS; the local stage's
``http://127.0.0.1:3001/dev`` by default.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
from typing import Any

import boto3
from aiohttp import web
from botocore.exceptions import ClientError

log = logging.getLogger("seed-chat")

DEFAULT_MANAGEMENT_ENDPOINT = "http://127.0.0.1:3001/dev"


class Room:
    """The connections the server knows, and the posts to them."""

    def __init__(self, management: Any) -> None:
        self.connections: set[str] = set()
        self._management = management

    async def broadcast(self, sender: str, message: Any) -> int:
        """Post to every connection at once; one that is gone (410) leaves the room."""
        data = json.dumps({"from": sender, "message": message}).encode("utf-8")
        targets = sorted(self.connections)
        results = await asyncio.gather(
            *(asyncio.to_thread(self._post, target, data) for target in targets)
        )
        return sum(results)

    def _post(self, connection_id: str, data: bytes) -> bool:
        try:
            self._management.post_to_connection(ConnectionId=connection_id, Data=data)
            return True
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "GoneException":
                raise
            self.connections.discard(connection_id)
            return False


def management_client(endpoint: str) -> Any:
    """boto3's client for ``@connections``. Without credentials configured (a laptop, the
    local stage, which does not check signatures) it signs with placeholders."""
    session = boto3.Session()
    credentials = {}
    if session.get_credentials() is None:
        credentials = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
    return session.client(
        "apigatewaymanagementapi",
        endpoint_url=endpoint,
        region_name=session.region_name or "us-east-1",
        **credentials,
    )


def make_app(room: Room) -> web.Application:
    async def connect(request: web.Request) -> web.Response:
        body = await request.json()
        room.connections.add(body["connectionId"])
        return web.json_response({"connected": body["connectionId"]})

    async def disconnect(request: web.Request) -> web.Response:
        body = await request.json()
        room.connections.discard(body["connectionId"])
        return web.json_response({"disconnected": body["connectionId"]})

    async def send_message(request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"detail": "the body is not JSON"}, status=400)
        if body.get("message") in (None, ""):
            return web.json_response({"detail": "message is required"}, status=400)
        delivered = await room.broadcast(body["connectionId"], body["message"])
        return web.json_response({"delivered": delivered})

    app = web.Application()
    app.router.add_post("/connect", connect)
    app.router.add_post("/disconnect", disconnect)
    app.router.add_post("/send-message", send_message)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--management-endpoint",
        default=os.environ.get("MANAGEMENT_ENDPOINT", DEFAULT_MANAGEMENT_ENDPOINT),
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    room = Room(management_client(args.management_endpoint))
    web.run_app(make_app(room), host=args.host, port=args.port, print=print)


if __name__ == "__main__":
    main()
