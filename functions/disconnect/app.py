"""$disconnect: forget the connection and tell its room that it left."""

from aws_lambda_powertools.utilities.data_classes import APIGatewayWebSocketEvent

from chatroom import Caller, ChatService, Reply, websocket_handler

chat = ChatService.from_environment()


@websocket_handler
def lambda_handler(event: APIGatewayWebSocketEvent) -> Reply:
    return chat.disconnect(Caller.from_event(event))
