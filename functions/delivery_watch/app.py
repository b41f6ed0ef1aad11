"""DeliveryWatch: from the messages table's stream, queue an overdue check for each
message whose hand-off was not seen (the backstop of the delivery guarantee)."""

from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent

from chatroom import Remaining, environment, stream_handler

watch = environment.delivery_watch()


@stream_handler
def lambda_handler(event: DynamoDBStreamEvent, remaining: Remaining) -> dict:
    return watch.handle(event.records, remaining)
