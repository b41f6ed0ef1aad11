"""$default: answer a frame no route took with an error naming the known actions."""

from aws_lambda_powertools.utilities.data_classes import APIGatewayWebSocketEvent

from chatroom import Remaining, Reply, environment, websocket_handler

chat = environment.chat_service("$default")


@websocket_handler
def lambda_handler(event: APIGatewayWebSocketEvent, remaining: Remaining) -> Reply:
    return chat.unknown_action(event.decoded_body)
