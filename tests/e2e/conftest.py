"""Headless Chromium (Debian's, through Playwright) against the chat on the local stage."""

import contextlib
import shutil

import pytest
from playwright.sync_api import sync_playwright

from tests.support.paths import FRONTEND
from tests.support.stage import RunningStage
from tests.support.tables import chat_model
from wslocal.engines.dynamodb import create_tables, free_port
from wslocal.engines.sqs import create_queues, start_sqs
from wslocal.server import StageConfig

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="module")
def browser():
    """Module-scoped: Playwright's sync API runs an event loop on the main thread, which
    must be gone before the asyncio tests that follow run theirs."""
    executable = shutil.which("chromium")
    assert executable, "the browser tests need Debian's chromium (make test installs it as root)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class PageStage:
    """The chat stage serving frontend/ on a fixed free port, so it can be stopped and
    started again at the same address (the page must reconnect by itself)."""

    def __init__(self, engine, sqs, model=None) -> None:
        self.model = model or chat_model()
        create_tables(engine, self.model.tables, self.model.region)
        self.config = StageConfig(
            port=free_port(),
            static_dir=FRONTEND,
            endpoints={
                "AWS_ENDPOINT_URL_DYNAMODB": engine.endpoint,
                "AWS_ENDPOINT_URL_SQS": sqs.endpoint,
            },
            queue_urls=create_queues(sqs, self.model.queues, self.model.region),
        )
        self.running: RunningStage | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.config.port}/"

    def start(self) -> None:
        self.running = RunningStage(self.model, self.config).__enter__()

    def stop(self) -> None:
        if self.running is not None:
            self.running.__exit__(None, None, None)
            self.running = None


@contextlib.contextmanager
def serving(model=None):
    """A DynamoDB Local and an SQS of its own: the session's are read by the chat stage's
    pollers, which would post to (and, on 410, forget) this stage's connections."""
    from tests.support.paths import ROOT
    from wslocal.engines.dynamodb import find_dynamodb_local_jar, start_dynamodb_local

    jar = find_dynamodb_local_jar(ROOT)
    assert jar is not None, "DynamoDB Local is missing: run `npm ci` (make test does)"
    with start_dynamodb_local(jar, region="us-east-1") as engine, start_sqs() as sqs:
        stage = PageStage(engine, sqs, model)
        stage.start()
        try:
            yield stage
        finally:
            stage.stop()


@pytest.fixture(scope="module")
def page_stage():
    with serving() as stage:
        yield stage
