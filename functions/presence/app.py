"""Presence: turn the connections table's stream into one envelope per changed room."""

from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent

from chatroom import PresenceAnnouncer, Remaining, stream_handler

presence = PresenceAnnouncer.from_environment()


@stream_handler
def lambda_handler(event: DynamoDBStreamEvent, remaining: Remaining) -> dict:
    return presence.handle(event.records, remaining)
