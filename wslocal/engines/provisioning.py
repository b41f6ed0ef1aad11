"""Engines: the services a template's resources live in for one run of the stage, and
how a template's tables and queues are put in them, at start and again when the
template is edited (what exists is kept; what is new is created)."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from wslocal.engines.dynamodb import DynamoDBEngine, create_tables, start_engine
from wslocal.engines.moto_server import free_port
from wslocal.engines.sqs import SqsEngine, create_queues, start_sqs
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

    def endpoints(self) -> dict[str, str]:
        endpoints = {"AWS_ENDPOINT_URL_DYNAMODB": self.dynamodb.endpoint}
        if self.sqs is not None:
            endpoints["AWS_ENDPOINT_URL_SQS"] = self.sqs.endpoint
        return endpoints

    def provision(self, model: StageModel) -> Provisioned:
        """Create the model's missing tables and queues (SQS starts with the first queue)."""
        made = create_tables(self.dynamodb, model.tables, model.region)
        before = set(self.queue_urls)
        if model.queues:
            if self.sqs is None:
                self.sqs = start_sqs(self.sqs_endpoint)
            self.queue_urls.update(create_queues(self.sqs, model.queues, model.region))
        return Provisioned(
            endpoints=self.endpoints(),
            queue_urls=dict(self.queue_urls),
            tables_made=tuple(made),
            queues_made=tuple(sorted(set(self.queue_urls) - before)),
        )

    def exit_reports(self) -> list[str]:
        """Engines that died while the stage runs, and why."""
        engines: list[DynamoDBEngine | SqsEngine] = [self.dynamodb]
        if self.sqs is not None:
            engines.append(self.sqs)
        return [report for engine in engines if (report := engine.exit_report())]

    def stop(self) -> None:
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
    """Start the engines the model needs (DynamoDB and SQS side by side) and create its
    resources; stop them on failure. With a ``plan``, they answer where it says."""
    plan = plan or EnginePlan(dynamodb_endpoint, sqs_endpoint)
    with ThreadPoolExecutor(max_workers=2) as pool:
        sqs = pool.submit(start_sqs, plan.sqs_endpoint, plan.sqs_port) if model.queues else None
        try:
            dynamodb = start_engine(
                region=model.region,
                search_from=search_from,
                endpoint=plan.dynamodb_endpoint,
                db_path=db_path,
                engine=engine,
                port=plan.dynamodb_port,
            )
        except BaseException:
            if sqs is not None and sqs.exception() is None:
                sqs.result().stop()
            raise
        engines = Engines(dynamodb, sqs_endpoint=plan.sqs_endpoint)
        try:
            engines.sqs = sqs.result() if sqs is not None else None
            return engines, engines.provision(model)
        except BaseException:
            engines.stop()
            raise
