"""sendMessage: store the message in the room's history and send it to the others."""

from aws_lambda_powertools.utilities.data_classes import APIGatewayWebSocketEvent

from chatroom import Caller, ChatService, Remaining, Reply, websocket_handler

chat = ChatService.from_environment()


@websocket_handler
def lambda_handler(event: APIGatewayWebSocketEvent, remaining: Remaining) -> Reply:
    return chat.send_message(Caller.from_event(event), event.decoded_body, remaining)
