"""history: answer the room's newest messages to the caller (a two-way route)."""

from aws_lambda_powertools.utilities.data_classes import APIGatewayWebSocketEvent

from chatroom import Caller, Remaining, Reply, environment, websocket_handler

chat = environment.chat_service("history")


@websocket_handler
def lambda_handler(event: APIGatewayWebSocketEvent, remaining: Remaining) -> Reply:
    return chat.history(Caller.from_event(event))
