"""What an edit of the template changed: the stage replaces only that."""

import copy
import json

from tests.support.paths import FIXTURES
from wslocal.template import build_stage_model, read_template
from wslocal.template.changes import compare

APP = FIXTURES / "echo_app"


def template():
    return read_template(APP / "template.yaml")


def model(document, **parameters):
    return build_stage_model(document, APP, parameters)


def test_the_same_template_changes_nothing():
    changes = compare(model(template()), model(template()))
    assert not changes
    assert changes.describe() == "nothing the stage serves"


def test_a_route_added_by_a_parameter_is_the_only_change():
    changes = compare(model(template(), WithDefaultRoute="false"), model(template()))
    assert changes.routes.added == ("$default",)
    assert not (changes.functions or changes.tables or changes.api_replaced)
    assert changes.describe() == "routes +$default"


def test_a_function_whose_timeout_changed_is_changed_and_the_others_are_not():
    edited = copy.deepcopy(template())
    edited["Resources"]["EchoFn"]["Properties"]["Timeout"] = 3
    changes = compare(model(template()), model(edited))
    assert changes.functions.changed == ("EchoFn",)
    assert not changes.routes


def test_a_function_and_its_route_removed_are_both_said():
    edited = copy.deepcopy(template())
    for name in ("PushRoute", "PushIntegration", "PushFn"):
        del edited["Resources"][name]
    changes = compare(model(template()), model(edited))
    assert changes.routes.removed == ("push",)
    assert changes.functions.removed == ("PushFn",)
    assert changes.describe() == "routes -push; functions -PushFn"


def test_a_new_table_and_queue_are_added():
    edited = copy.deepcopy(template())
    edited["Resources"]["Orders"] = {
        "Type": "AWS::Serverless::SimpleTable",
        "Properties": {"TableName": "orders"},
    }
    edited["Resources"]["MoreJobs"] = {"Type": "AWS::SQS::Queue"}
    changes = compare(model(template()), model(edited))
    assert changes.tables.added == ("Orders",)
    assert changes.queues.added == ("MoreJobs",)


def test_a_renamed_api_replaces_the_api():
    edited = json.loads(json.dumps(template()).replace("EchoApi", "ChatApi"))
    changes = compare(model(template()), model(edited))
    assert changes.api_replaced
    assert changes.describe().startswith("the WebSocket API was replaced")


def test_a_new_selection_expression_is_an_api_setting():
    edited = copy.deepcopy(template())
    edited["Resources"]["EchoApi"]["Properties"]["RouteSelectionExpression"] = (
        "${request.body.action}"
    )
    changes = compare(model(template()), model(edited))
    assert changes.api_settings and not changes.api_replaced


def test_an_edited_rest_or_http_api_is_a_change():
    app = FIXTURES / "mixed_app"
    old = build_stage_model(read_template(app / "template.yaml"), app)
    document = read_template(app / "template.yaml")
    events = document["Resources"]["SlowFunction"]["Properties"]["Events"]
    events["Slow"]["Properties"]["Path"] = "/slower"
    changes = compare(old, build_stage_model(document, app))
    assert changes.proxy_apis.changed == ("ServerlessHttpApi",)
    assert "REST/HTTP APIs ~ServerlessHttpApi" in changes.describe()
