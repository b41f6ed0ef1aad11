"""Presence: turn the connections table's stream into one envelope per changed room."""

from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent

from chatroom import Remaining, environment, stream_handler

presence = environment.presence_announcer()


@stream_handler
def lambda_handler(event: DynamoDBStreamEvent, remaining: Remaining) -> dict:
    return presence.handle(event.records, remaining)
