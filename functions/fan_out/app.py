"""FanOut: post each shard of a large room's message, and deliver overdue messages, from
the fan-out queue."""

from chatroom import Remaining, environment, queue_handler

fan_out = environment.shard_poster()


@queue_handler
def lambda_handler(event: dict, remaining: Remaining) -> dict:
    return fan_out.handle(event, remaining)
