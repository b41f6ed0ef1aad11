"""FanOut: post each shard of a large room's message from the fan-out queue."""

from chatroom import Remaining, ShardPoster, queue_handler

fan_out = ShardPoster.from_environment()


@queue_handler
def lambda_handler(event: dict, remaining: Remaining) -> dict:
    return fan_out.handle(event, remaining)
