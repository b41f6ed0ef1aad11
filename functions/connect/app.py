"""$connect: admit the connection to the room of ``?room=&name=`` and tell the room."""

from aws_lambda_powertools.utilities.data_classes import APIGatewayWebSocketEvent

from chatroom import Caller, ChatService, Reply, websocket_handler

chat = ChatService.from_environment()


@websocket_handler
def lambda_handler(event: APIGatewayWebSocketEvent) -> Reply:
    return chat.connect(Caller.from_event(event), event.get("queryStringParameters"))
