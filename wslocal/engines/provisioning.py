"""Engines: the services a template's resources live in for one run of the stage, and
how a template's tables and queues are put in them, at start and again when the
template is edited (what exists is kept; what is new is created)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from wslocal.engines.dynamodb import DynamoDBEngine, create_tables, start_engine
from wslocal.engines.moto_server import free_port
from wslocal.engines.sqs import SqsEngine, create_queues, moto_queue_url, start_sqs
from wslocal.exceptions import EventSourceError
from wslocal.template import StageModel


@dataclass(frozen=True)
class Provisioned:
    """What a template needs of the engines, once they hold its resources."""

    endpoints: Mapping[str, str]
    """boto3's endpoint variables that point the handlers at the engines."""
    queue_urls: Mapping[str, str]
    tables_made: tuple[str, ...] = ()
    queues_made: tuple[str, ...] = ()


@dataclass
class Engines:
    """The DynamoDB engine, and SQS once a template has queues."""

    dynamodb: DynamoDBEngine
    sqs_endpoint: str | None = None
    """The user's SQS endpoint (``--sqs-endpoint``); None starts moto's server."""
    sqs: SqsEngine | None = None
    queue_urls: dict[str, str] = field(default_factory=dict)
    sqs_listener: socket.socket | None = None
    """The socket bound ahead for moto's SQS (``EnginePlan``), until moto serves it."""
    _starting_sqs: threading.Lock = field(default_factory=threading.Lock)

    def endpoints(self) -> dict[str, str]:
        endpoints = {"AWS_ENDPOINT_URL_DYNAMODB": self.dynamodb.endpoint}
        if self.sqs is not None:
            endpoints["AWS_ENDPOINT_URL_SQS"] = self.sqs.endpoint
        return endpoints

    def provision(self, model: StageModel) -> Provisioned:
        """Create the model's missing tables and queues (SQS starts with the first queue)."""
        made = create_tables(self.dynamodb, model.tables, model.region)
        before = set(self.queue_urls)
        self.provision_queues(model)
        return Provisioned(
            endpoints=self.endpoints(),
            queue_urls=dict(self.queue_urls),
            tables_made=tuple(made),
            queues_made=tuple(sorted(set(self.queue_urls) - before)),
        )

    def provision_queues(self, model: StageModel) -> dict[str, str]:
        """Create the model's missing queues, starting SQS with them if it is not running
        (moto on the socket bound ahead, if there is one); return every queue's URL."""
        with self._starting_sqs:
            if not model.queues:
                return dict(self.queue_urls)
            if self.sqs is None:
                listener, self.sqs_listener = self.sqs_listener, None
                try:
                    self.sqs = start_sqs(
                        self.sqs_endpoint, listener=listener, queues=model.queues,
                        region=model.region,
                    )  # fmt: skip
                finally:
                    if listener is not None:
                        listener.close()  # moto holds its own copy
                self.queue_urls.update(self.sqs.queue_urls)
            else:
                self.queue_urls.update(create_queues(self.sqs, model.queues, model.region))
            return dict(self.queue_urls)

    def exit_reports(self) -> list[str]:
        """Engines that died while the stage runs, and why."""
        engines: list[DynamoDBEngine | SqsEngine] = [self.dynamodb]
        if self.sqs is not None:
            engines.append(self.sqs)
        return [report for engine in engines if (report := engine.exit_report())]

    def stop(self) -> None:
        if self.sqs_listener is not None:
            self.sqs_listener.close()
            self.sqs_listener = None
        if self.sqs is not None:
            self.sqs.stop()
        self.dynamodb.stop()


@dataclass(frozen=True)
class EnginePlan:
    """Where the engines will answer, known before they are started: the stage's workers
    start with these endpoints while the engines boot (DynamoDB Local's JVM takes
    seconds), so the two run side by side."""

    dynamodb_endpoint: str | None = None
    """The user's DynamoDB endpoint; None starts one on ``dynamodb_port``."""
    sqs_endpoint: str | None = None
    """The user's SQS endpoint; None starts moto's on ``sqs_port`` (with queues)."""
    dynamodb_port: int = field(default_factory=free_port)
    sqs_port: int = field(default_factory=free_port)
    launched: DynamoDBEngine | None = None
    """DynamoDB Local's JVM, launched before the stage loaded (``launch_early``)."""
    sqs_listener: socket.socket | None = None
    """Bound ahead on ``sqs_port`` for moto's SQS, which then starts after the stage
    serves (``Engines.provision_queues``): a handler's call to SQS made before moto
    serves waits in the socket's backlog, and moto makes the queues before it serves."""

    @classmethod
    def ahead(
        cls,
        model: StageModel,
        *,
        dynamodb_endpoint: str | None = None,
        sqs_endpoint: str | None = None,
        launched: DynamoDBEngine | None = None,
    ) -> EnginePlan:
        """The plan of ``wslocal start``: DynamoDB where ``launched`` answers (when it
        was), and moto's SQS, when the model has queues, on a socket bound now."""
        listener = None
        if model.queues and not sqs_endpoint:
            listener = socket.create_server(("127.0.0.1", 0))
        return cls(
            dynamodb_endpoint,
            sqs_endpoint,
            dynamodb_port=launched.launch.port
            if launched is not None and launched.launch is not None
            else free_port(),
            sqs_port=int(listener.getsockname()[1]) if listener is not None else free_port(),
            launched=launched,
            sqs_listener=listener,
        )

    def endpoints(self, model: StageModel) -> dict[str, str]:
        endpoints = {
            "AWS_ENDPOINT_URL_DYNAMODB": self.dynamodb_endpoint
            or f"http://127.0.0.1:{self.dynamodb_port}"
        }
        if model.queues:
            endpoints["AWS_ENDPOINT_URL_SQS"] = (
                self.sqs_endpoint or f"http://127.0.0.1:{self.sqs_port}"
            )
        return endpoints

    def queue_urls(self, model: StageModel) -> dict[str, str]:
        """The URLs moto will give the model's queues on the listener."""
        endpoint = f"http://127.0.0.1:{self.sqs_port}"
        return {
            queue.queue_name: moto_queue_url(endpoint, queue.queue_name) for queue in model.queues
        }


def start_engines(
    model: StageModel,
    *,
    search_from: Path,
    dynamodb_endpoint: str | None = None,
    db_path: Path | None = None,
    engine: str = "auto",
    sqs_endpoint: str | None = None,
    plan: EnginePlan | None = None,
) -> tuple[Engines, Provisioned]:
    """Start the engines the model needs and create its resources; stop them on failure.
    With a ``plan``, they answer where it says; with its ``sqs_listener``, SQS is left
    for ``start_queues`` (the queues' URLs returned are the ones moto will give),
    else it starts beside DynamoDB."""
    plan = plan or EnginePlan(dynamodb_endpoint, sqs_endpoint)
    later = plan.sqs_listener is not None
    with ThreadPoolExecutor(max_workers=2) as pool:
        sqs = None
        if model.queues and not later:
            sqs = pool.submit(
                start_sqs, plan.sqs_endpoint, plan.sqs_port, queues=model.queues,
                region=model.region,
            )  # fmt: skip
        try:
            dynamodb = start_engine(
                region=model.region,
                search_from=search_from,
                endpoint=plan.dynamodb_endpoint,
                db_path=db_path,
                engine=engine,
                port=plan.dynamodb_port,
                launched=plan.launched,
            )
        except BaseException:
            if sqs is not None and sqs.exception() is None:
                sqs.result().stop()
            if plan.sqs_listener is not None:
                plan.sqs_listener.close()
            raise
        engines = Engines(dynamodb, sqs_endpoint=plan.sqs_endpoint, sqs_listener=plan.sqs_listener)
        try:
            engines.sqs = sqs.result() if sqs is not None else None
            if engines.sqs is not None:
                engines.queue_urls.update(engines.sqs.queue_urls)
            if not later:
                return engines, engines.provision(model)
            made = create_tables(dynamodb, model.tables, model.region)
            return engines, Provisioned(
                endpoints=plan.endpoints(model),
                queue_urls=plan.queue_urls(model),
                tables_made=tuple(made),
            )
        except BaseException:
            engines.stop()
            raise


def start_queues(engines: Engines, model: StageModel, expected: Mapping[str, str]) -> None:
    """Start SQS with the model's queues (``wslocal start`` does once the stage serves);
    an error if moto named them otherwise than the stage was told (``expected``)."""
    urls = engines.provision_queues(model)
    wrong = {name: url for name, url in expected.items() if urls.get(name) != url}
    if wrong:
        raise EventSourceError(
            f"the SQS engine made the queues at {[urls.get(name) for name in wrong]}, "
            f"not at {list(wrong.values())}"
        )
