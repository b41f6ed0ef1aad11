"""$connect: admit the connection to the room of ``?room=&name=`` (one write; the
connections stream announces it)."""

from aws_lambda_powertools.utilities.data_classes import APIGatewayWebSocketEvent

from chatroom import Caller, Remaining, Reply, environment, websocket_handler

chat = environment.chat_service("$connect")


@websocket_handler
def lambda_handler(event: APIGatewayWebSocketEvent, remaining: Remaining) -> Reply:
    return chat.connect(Caller.from_event(event), event.get("queryStringParameters"))
