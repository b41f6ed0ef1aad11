"""The SQS the handlers and the queue pollers talk to, and the template's queues in it.

moto's SQS, in a process of its own, by default (a real SQS implementation: visibility
timeouts, receive counts, redrive to dead-letter queues; its SQS app alone, served
without moto's per-request service look-up: ``wslocal.engines.moto_sqs``), or any
endpoint the user names (ElasticMQ, LocalStack), where queues are created only if
missing.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from wslocal.defaults import DEFAULT_ACCOUNT_ID
from wslocal.engines.dynamodb import DUMMY_CREDENTIALS, client
from wslocal.engines.moto_server import start_moto_sqs_server, stop_process
from wslocal.exceptions import EventSourceError
from wslocal.template import QueueModel
from wslocal.template.queues import creation_order


def moto_queue_url(endpoint: str, name: str) -> str:
    """The URL moto gives a queue it makes for clients of ``endpoint`` (moto's default
    account is the stage's)."""
    return f"{endpoint}/{DEFAULT_ACCOUNT_ID}/{name}"


@dataclass
class SqsEngine:
    """A running (or borrowed) SQS endpoint; ``stop`` ends what we started."""

    description: str
    endpoint: str
    process: Any = None
    credentials: Mapping[str, str] = field(default_factory=lambda: dict(DUMMY_CREDENTIALS))
    queue_urls: dict[str, str] = field(default_factory=dict)
    """The queues it was started with, by name."""

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


def start_sqs(
    endpoint: str | None = None,
    port: int | None = None,
    *,
    listener: socket.socket | None = None,
    queues: Iterable[QueueModel] = (),
    region: str = "us-east-1",
) -> SqsEngine:
    """The user's endpoint, or moto's SQS on ``listener`` (a socket bound ahead) or
    ``port``; with ``queues`` made in it (``queue_urls``): moto makes them before it
    serves anyone, so a call that waited in the listener's backlog finds them."""
    queues = creation_order(tuple(queues))
    if endpoint:
        engine = SqsEngine(f"existing endpoint {endpoint}", endpoint, credentials={})
        engine.queue_urls = create_queues(engine, queues, region)
        return engine
    requests = [{"QueueName": q.queue_name, "Attributes": dict(q.attributes)} for q in queues]
    started = start_moto_sqs_server(port, listener=listener, queues=requests, region=region)
    if started is None:
        raise EventSourceError(
            "the template has SQS queues: install moto's server (`pip install 'moto[server]'`) "
            "or pass --sqs-endpoint"
        )
    process, url, urls = started
    engine = SqsEngine("moto's SQS", url, process=process, queue_urls=urls)
    missing = [queue for queue in queues if queue.queue_name not in urls]
    try:
        engine.queue_urls.update(create_queues(engine, missing, region))
    except EventSourceError:
        engine.stop()
        raise
    return engine


def create_queues(engine: SqsEngine, queues: Iterable[QueueModel], region: str) -> dict[str, str]:
    """Create each queue (dead-letter queues first); return every queue's URL by name."""
    from botocore.exceptions import BotoCoreError, ClientError

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
