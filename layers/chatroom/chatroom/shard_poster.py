"""FanOutFunction's work: each message of the fan-out queue, one batch item at a time.

A shard is posted to its members (those that fail while attempts remain are queued again;
when its last attempt leaves members unreached, the message is marked failed and its
sender told; on the queue's last receive the sender is told first, since a worker that
dies on it could tell no one). An overdue check goes to the backstop
(``chatroom.delivery``). A message that is neither, or whose work could not be done or
queued, is a batch item failure (Powertools' batch utility reports it; SQS receives it
again, then dead-letters it).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chatroom.delivery import LAST_RECEIVE, Backstop
from chatroom.fanout.management_api import ManagementApiClients
from chatroom.fanout.policy import FanOut
from chatroom.fanout.shards import OverdueCheck, Shard, parse
from chatroom.telemetry import MetricsSink, Remaining, count, logger


class ShardPoster:
    def __init__(
        self,
        fan_out: FanOut,
        clients: ManagementApiClients,
        backstop: Backstop,
        metrics: MetricsSink,
    ) -> None:
        self._fan_out = fan_out
        self._clients = clients
        self._backstop = backstop
        self._metrics = metrics
        # A batch whose every record failed is answered with its failures, as a partial
        # one is, rather than raised: SQS receives them again either way.
        self._processor = BatchProcessor(
            event_type=EventType.SQS, raise_on_entire_batch_failure=False
        )

    def handle(self, event: dict[str, Any], remaining: Remaining) -> dict[str, Any]:
        return dict(
            process_partial_response(
                event=event,
                record_handler=lambda record: self.take(record, remaining),
                processor=self._processor,
            )
        )

    def take(self, record: SQSRecord, remaining: Remaining) -> None:
        work = parse(record.body)
        logger.append_keys(room=work.room)
        receive = int(record.attributes.approximate_receive_count or 1)
        if isinstance(work, OverdueCheck):
            self._backstop.check(work, receive, remaining)
            return
        if receive >= LAST_RECEIVE and work.origin is not None:
            # Told before posting: a worker that dies on this receive too (killed,
            # timed out) could tell no one after, and the shard goes to the dead-letter
            # queue. If the posts then succeed, the sender's Retry sends it once more
            # (shown once, by id).
            logger.warning("a shard's last receive", extra={"id": work.origin.message_id})
            self._backstop.tell_sender(work.room, work.origin, remaining)
        self.post_shard(work, remaining)

    def post_shard(self, shard: Shard, remaining: Remaining) -> None:
        result = self._fan_out.post(
            self._clients.configured(),
            shard.room,
            shard.data.encode("utf-8"),
            shard.recipients,
            remaining,
            shard.attempt,
            shard.origin,
        )
        if result.failed and shard.origin is not None:
            logger.warning("members were given up on", extra={"id": shard.origin.message_id})
            self._backstop.tell_sender(shard.room, shard.origin)
        self._fan_out.clean_up(result, remaining)
        count(self._metrics, "Shards", 1)
        count(self._metrics, "Deliveries", result.delivered)
        count(self._metrics, "GoneConnectionsRemoved", len(result.gone))
        count(self._metrics, "FailedDeliveries", result.failed)
        count(self._metrics, "ShardsRequeued", result.shards)
        logger.info("shard posted", extra={**result.log_fields(), "attempt": shard.attempt})
