"""sendMessage: store the message in the room's history and send it to the others."""

from aws_lambda_powertools.utilities.data_classes import APIGatewayWebSocketEvent

from chatroom import Caller, Remaining, Reply, environment, websocket_handler

chat = environment.chat_service("sendMessage")


@websocket_handler
def lambda_handler(event: APIGatewayWebSocketEvent, remaining: Remaining) -> Reply:
    return chat.send_message(Caller.from_event(event), event.decoded_body, remaining)
