"""A template reload in the middle of a burst of calls: the pools are swapped at once,
calls in flight finish on the old workers, new calls go to the new ones, none fails (the
old stage removed the pools first and added them back later: a call in between raised
KeyError)."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.integration.test_mixed_app import EditedTemplate, rest
from tests.support.http import call
from tests.support.stage import RunningStage
from wslocal.engines.dynamodb import create_tables
from wslocal.server import StageConfig

pytestmark = pytest.mark.integration


def test_no_call_fails_while_a_reload_replaces_the_functions_workers(dynamodb_local):
    endpoints = {"AWS_ENDPOINT_URL_DYNAMODB": dynamodb_local.endpoint}
    template = EditedTemplate(endpoints)
    model = template.load()
    create_tables(dynamodb_local, model.tables, model.region)
    config = StageConfig(port=0, max_workers=4, endpoints=endpoints)
    with RunningStage(model, config, template=template) as stage, ThreadPoolExecutor(8) as clients:
        # GIVEN a burst of REST calls to the echo function
        calls = [clients.submit(call, rest(stage), "GET", f"/items/{n}") for n in range(80)]
        # WHEN its definition changes under them (new environment: new workers)
        echo = template.document["Resources"]["EchoFunction"]["Properties"]
        echo["Environment"] = {"Variables": {"EDITED": "yes"}}
        changes = stage.call(stage.stage.reload_template())
        assert changes.functions.changed == ("EchoFunction",)
        # THEN every call was answered by the function
        assert sorted({future.result()[0] for future in calls}) == [200]
