"""Presence: turn the connections table's stream into one envelope per changed room."""

from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent

from chatroom import ConnectionStore, PresenceAnnouncer, stream_handler

presence = PresenceAnnouncer(ConnectionStore())


@stream_handler
def lambda_handler(event: DynamoDBStreamEvent) -> dict:
    return presence.handle(event.records)
