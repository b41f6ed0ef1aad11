"""$disconnect: forget the connection (one delete; the connections stream announces it)."""

from aws_lambda_powertools.utilities.data_classes import APIGatewayWebSocketEvent

from chatroom import Caller, Remaining, Reply, environment, websocket_handler

chat = environment.chat_service("$disconnect")


@websocket_handler
def lambda_handler(event: APIGatewayWebSocketEvent, remaining: Remaining) -> Reply:
    return chat.disconnect(Caller.from_event(event))
