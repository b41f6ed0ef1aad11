"""The SQS the handlers and the queue pollers talk to, and the template's queues in it.

moto's SQS, in a process of its own, by default (a real SQS implementation: visibility
timeouts, receive counts, redrive to dead-letter queues; its SQS app alone, served
without moto's per-request service look-up: ``wslocal.engines.moto_sqs``), or any
endpoint the user names (ElasticMQ, LocalStack), where queues are created only if
missing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from wslocal.engines.dynamodb import DUMMY_CREDENTIALS, client
from wslocal.engines.moto_server import start_moto_sqs_server, stop_process
from wslocal.exceptions import EventSourceError
from wslocal.template import QueueModel
from wslocal.template.queues import creation_order


@dataclass
class SqsEngine:
    """A running (or borrowed) SQS endpoint; ``stop`` ends what we started."""

    description: str
    endpoint: str
    process: Any = None
    credentials: Mapping[str, str] = field(default_factory=lambda: dict(DUMMY_CREDENTIALS))

    def client(self, region: str) -> Any:
        return client(self.endpoint, region, self.credentials, "sqs")

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None

    def exit_report(self) -> str | None:
        """Why the engine is gone, if the process we started exited on its own."""
        if self.process is None or self.process.poll() is None:
            return None
        return f"{self.description} exited with code {self.process.returncode}"

    def __enter__(self) -> SqsEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_sqs(endpoint: str | None = None, port: int | None = None) -> SqsEngine:
    if endpoint:
        return SqsEngine(f"existing endpoint {endpoint}", endpoint, credentials={})
    started = start_moto_sqs_server(port)
    if started is None:
        raise EventSourceError(
            "the template has SQS queues: install moto's server (`pip install 'moto[server]'`) "
            "or pass --sqs-endpoint"
        )
    process, url = started
    return SqsEngine("moto's SQS", url, process=process)


def create_queues(engine: SqsEngine, queues: Iterable[QueueModel], region: str) -> dict[str, str]:
    """Create each queue (dead-letter queues first); return every queue's URL by name."""
    sqs = engine.client(region)
    urls: dict[str, str] = {}
    for queue in creation_order(tuple(queues)):
        try:
            urls[queue.queue_name] = sqs.create_queue(
                QueueName=queue.queue_name, Attributes=dict(queue.attributes)
            )["QueueUrl"]
        except (BotoCoreError, ClientError) as exc:
            raise EventSourceError(f"{queue.logical_id}: CreateQueue failed: {exc}") from None
    return urls
