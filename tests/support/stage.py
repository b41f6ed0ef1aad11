"""Run a LocalStage on its own event loop in a thread, bound to a free port, so tests can
talk to it with real clients; it stops by itself when the block ends (websockets'
tests/asyncio/server.py hands the URL to the test the same way)."""

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support.paths import ROOT
from wslocal.engines.dynamodb import create_tables, find_dynamodb_local_jar, start_dynamodb_local
from wslocal.engines.sqs import create_queues, start_sqs
from wslocal.event_loop import new_event_loop
from wslocal.server import LocalStage, StageConfig
from wslocal.server.stage import TemplateSource
from wslocal.template import StageModel, build_stage_model, read_template


class RunningStage:
    def __init__(
        self, model: StageModel, config: StageConfig, template: TemplateSource | None = None
    ) -> None:
        self.stage = LocalStage(model, config, template=template)
        self._loop = new_event_loop()  # the loop `wslocal start` runs on
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> "RunningStage":
        self._thread.start()
        self.call(self.stage.start(), timeout=120)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.call(self.stage.stop(), timeout=60)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def call(self, coroutine: Coroutine[Any, Any, Any], timeout: float = 30) -> Any:
        """Run a coroutine on the stage's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    @property
    def url(self) -> str:
        return self.stage.websocket_url

    @property
    def http(self) -> str:
        return f"http://{self.stage.domain_name}"

    def worker_pids(self, function: str) -> list[int]:
        async def pids() -> list[int]:
            return self.stage.pools[function].idle_pids()

        return self.call(pids())


def engines_config(model: StageModel, dynamodb: Any, sqs: Any, **options: Any) -> StageConfig:
    """A stage on a free port whose functions reach these engines, the template's queues
    created on ``sqs`` (the tables are the caller's to create)."""
    return StageConfig(
        port=0,
        endpoints={
            "AWS_ENDPOINT_URL_DYNAMODB": dynamodb.endpoint,
            "AWS_ENDPOINT_URL_SQS": sqs.endpoint,
        },
        queue_urls=create_queues(sqs, model.queues, model.region),
        **options,
    )


def chat_template_with(function_folder: str, wrapper: Path) -> str:
    """The chat's template with one function's code (``functions/<function_folder>/``)
    replaced by ``wrapper`` and every other path made absolute, to be written elsewhere."""
    text = (ROOT / "template.yaml").read_text()
    text = text.replace(f"CodeUri: functions/{function_folder}/", f"CodeUri: {wrapper}/")
    text = text.replace("CodeUri: functions/", f"CodeUri: {ROOT}/functions/")
    return text.replace("ContentUri: layers/", f"ContentUri: {ROOT}/layers/")


@contextmanager
def chat_on_engines_of_its_own(app: Path, template: str) -> Iterator[RunningStage]:
    """``template`` written to ``app`` and served, on a DynamoDB Local and an SQS of its
    own (so no other stage's functions read its streams or queues)."""
    (app / "template.yaml").write_text(template)
    model = build_stage_model(read_template(app / "template.yaml"), app)
    engine = start_dynamodb_local(find_dynamodb_local_jar(ROOT), region=model.region)
    try:
        create_tables(engine, model.tables, model.region)
        with (
            start_sqs() as sqs,
            RunningStage(model, engines_config(model, engine, sqs, ttl_sweep_s=3600)) as running,
        ):
            yield running
    finally:
        engine.stop()
