"""Engines: the services a template's resources live in for one run of the stage, and
how a template's tables and queues are put in them, at start and again when the
template is edited (what exists is kept; what is new is created)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from wslocal.engines.dynamodb import DynamoDBEngine, create_tables, start_engine
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


def start_engines(
    model: StageModel,
    *,
    search_from: Path,
    dynamodb_endpoint: str | None = None,
    db_path: Path | None = None,
    engine: str = "auto",
    sqs_endpoint: str | None = None,
) -> tuple[Engines, Provisioned]:
    """Start the engines the model needs and create its resources; stop them on failure."""
    engines = Engines(
        start_engine(
            region=model.region,
            search_from=search_from,
            endpoint=dynamodb_endpoint,
            db_path=db_path,
            engine=engine,
        ),
        sqs_endpoint=sqs_endpoint,
    )
    try:
        return engines, engines.provision(model)
    except BaseException:
        engines.stop()
        raise
