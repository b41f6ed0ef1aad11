"""template.yaml itself: SAM's and cfn-lint's checks, and the rights each function gets
once aws-sam-translator has turned it into CloudFormation (offline)."""

import json
import os
import shutil
import subprocess
from typing import Any

import pytest
from samtranslator.translator.transform import transform

from tests.support.paths import ROOT, TEMPLATE
from wslocal.template.intrinsics import load_yaml

SAM = ROOT / ".venv-sam" / "bin" / "sam"
TABLE = {"Fn::GetAtt": ["ConnectionsTable", "Arn"]}
ROOM_INDEX = {"Fn::Sub": "${ConnectionsTable.Arn}/index/room-index"}
SENDER_INDEX = {"Fn::Sub": "${ConnectionsTable.Arn}/index/sender-index"}
HISTORY = {"Fn::GetAtt": ["MessagesTable", "Arn"]}
POST_CONNECTIONS = {
    "Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:"
    "${ChatApi}/${StageName}/POST/@connections/*"
}


def sam_command() -> str:
    found = str(SAM) if SAM.exists() else shutil.which("sam")
    assert found, "the SAM CLI is missing: `make test` installs it in .venv-sam"
    return found


def test_sam_validate_lint_is_clean():
    result = subprocess.run(
        [sam_command(), "validate", "--lint", "--template", str(TEMPLATE)],
        capture_output=True,
        text=True,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
        cwd=ROOT,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


def test_cfn_lint_reports_nothing():
    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "cfn-lint"), str(TEMPLATE)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert (result.returncode, result.stdout) == (0, "")


class ManagedPolicies:
    """The managed policies SAM adds to the roles it generates (basic execution, stream
    and queue polling, X-Ray: each on ``Resource: "*"``), under their ARNs, as ``sam
    deploy``'s translator loads them from IAM."""

    def load(self) -> dict[str, str]:
        names = (
            "AWSLambdaBasicExecutionRole",
            "AWSLambdaDynamoDBExecutionRole",
            "AWSLambdaSQSQueueExecutionRole",
            "AWSXrayWriteOnlyAccess",
        )
        return {name: f"arn:aws:iam::aws:policy/service-role/{name}" for name in names}


@pytest.fixture(scope="module")
def translated() -> dict[str, Any]:
    """What ``sam deploy`` sends: the template as aws-sam-translator turns it into
    CloudFormation, X-Ray tracing on."""
    document = load_yaml(TEMPLATE.read_text())
    for resource in document["Resources"].values():
        for key in ("CodeUri", "ContentUri"):
            if key in resource.get("Properties", {}):
                resource["Properties"][key] = "s3://bucket/key.zip"
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    parameters = {"TracingMode": "Active", "CognitoUserPoolId": "us-east-1_pool"}
    return transform(document, parameters, ManagedPolicies())["Resources"]


REQUIRING_A_WILDCARD = {
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "dynamodb:ListStreams",
}
"""Actions that name no resource: AWS allows them only on ``Resource: "*"``."""


def roles(translated: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: resource["Properties"]
        for name, resource in translated.items()
        if resource["Type"] == "AWS::IAM::Role"
    }


def test_no_role_gets_a_managed_policy(translated):
    # SAM's managed policies allow their actions on every resource of the account.
    assert {name: role.get("ManagedPolicyArns") for name, role in roles(translated).items()} == {
        name: None for name in roles(translated)
    }


def test_a_wildcard_resource_only_where_aws_requires_it(translated):
    for name in roles(translated):
        for action, resource in inline_rights(translated, name.removesuffix("Role")):
            if resource == '"*"':
                assert action in REQUIRING_A_WILDCARD, (name, action)


def test_the_wildcard_actions_are_those_aws_gives_no_resource_type(translated):
    # AWS's Service Authorization Reference, as cfn-lint ships it: an action with no
    # resource type can only be granted on "*"; every other action the roles use has one,
    # so it is scoped.
    from importlib.resources import files

    reference = json.loads(
        files("cfnlint.data.AdditionalSpecs").joinpath("Policies.json").read_text()
    )

    def resource_types(action: str) -> list[str]:
        service, name = action.split(":")
        actions = {k.lower(): v for k, v in reference[service]["Actions"].items()}
        return actions[name.lower()].get("Resources", [])

    granted = {
        right
        for name in roles(translated)
        for right in inline_rights(translated, name.removesuffix("Role"))
    }
    unscopable = {(action, resource) for action, resource in granted if not resource_types(action)}
    assert {action for action, _ in unscopable} == REQUIRING_A_WILDCARD
    assert {resource for _, resource in unscopable} == {'"*"'}  # scoped, they match nothing


def test_every_function_logs_to_its_own_log_group_only(translated):
    functions = [n for n, r in translated.items() if r["Type"] == "AWS::Lambda::Function"]
    assert len(functions) == 9
    for function in functions:
        group = translated[function]["Properties"]["LoggingConfig"]["LogGroup"]
        assert group == {"Ref": f"{function}LogGroup"}
        own = {"Fn::GetAtt": [f"{function}LogGroup", "Arn"]}
        logs = {(a, r) for a, r in inline_rights(translated, function) if a.startswith("logs:")}
        assert logs == rights(("logs:CreateLogStream", own), ("logs:PutLogEvents", own))


FANOUT_QUEUE = {"Fn::GetAtt": ["FanOutQueue", "Arn"]}


def common(function: str) -> set[tuple[str, str]]:
    """What every function gets: its own log group, and X-Ray (which names no resource)."""
    own = {"Fn::GetAtt": [f"{function}LogGroup", "Arn"]}
    return rights(
        ("logs:CreateLogStream", own),
        ("logs:PutLogEvents", own),
        ("xray:PutTraceSegments", "*"),
        ("xray:PutTelemetryRecords", "*"),
    )


def stream_reading(table: str) -> set[tuple[str, str]]:
    stream = {"Fn::GetAtt": [table, "StreamArn"]}
    return rights(
        ("dynamodb:DescribeStream", stream),
        ("dynamodb:GetRecords", stream),
        ("dynamodb:GetShardIterator", stream),
        ("dynamodb:ListStreams", "*"),
    )


def inline_rights(translated: dict[str, Any], function: str) -> set[tuple[str, str]]:
    role = translated[f"{function}Role"]["Properties"]
    rights = set()
    for policy in role.get("Policies", []):
        for statement in policy["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            actions = statement["Action"]
            resources = statement["Resource"]
            for action in [actions] if isinstance(actions, str) else actions:
                for resource in resources if isinstance(resources, list) else [resources]:
                    rights.add((action, json.dumps(resource, sort_keys=True)))
    return rights


def rights(*pairs: tuple[str, Any]) -> set[tuple[str, str]]:
    return {(action, json.dumps(resource, sort_keys=True)) for action, resource in pairs}


@pytest.mark.parametrize(
    ("function", "expected"),
    [
        ("ConnectFunction", rights(("dynamodb:PutItem", TABLE))),
        ("DisconnectFunction", rights(("dynamodb:DeleteItem", TABLE))),
        ("DefaultFunction", set()),
        ("AuthorizerFunction", set()),
        (
            "SendMessageFunction",
            rights(
                ("dynamodb:GetItem", TABLE),
                ("dynamodb:DeleteItem", TABLE),
                ("dynamodb:BatchWriteItem", TABLE),
                ("dynamodb:Query", ROOM_INDEX),
                ("dynamodb:Query", SENDER_INDEX),
                ("dynamodb:PutItem", HISTORY),
                ("dynamodb:GetItem", HISTORY),
                ("dynamodb:UpdateItem", HISTORY),
                ("execute-api:ManageConnections", POST_CONNECTIONS),
                ("sqs:SendMessage", FANOUT_QUEUE),
            ),
        ),
        (
            "HistoryFunction",
            rights(
                ("dynamodb:GetItem", TABLE),
                ("dynamodb:Query", HISTORY),
                ("dynamodb:Query", ROOM_INDEX),
            ),
        ),
        (
            "PresenceFunction",
            rights(
                ("dynamodb:Query", ROOM_INDEX),
                ("dynamodb:BatchWriteItem", TABLE),
                ("execute-api:ManageConnections", POST_CONNECTIONS),
                ("sqs:SendMessage", {"Fn::GetAtt": ["PresenceFailuresQueue", "Arn"]}),
                ("sqs:SendMessage", FANOUT_QUEUE),
            )
            | stream_reading("ConnectionsTable"),
        ),
        (
            "FanOutFunction",
            rights(
                ("dynamodb:BatchWriteItem", TABLE),
                ("dynamodb:Query", ROOM_INDEX),
                ("dynamodb:Query", SENDER_INDEX),
                ("dynamodb:GetItem", HISTORY),
                ("dynamodb:UpdateItem", HISTORY),
                ("execute-api:ManageConnections", POST_CONNECTIONS),
                ("sqs:SendMessage", FANOUT_QUEUE),
                ("sqs:ReceiveMessage", FANOUT_QUEUE),
                ("sqs:DeleteMessage", FANOUT_QUEUE),
                ("sqs:GetQueueAttributes", FANOUT_QUEUE),
            ),
        ),
        (
            "DeliveryWatchFunction",
            rights(
                ("sqs:SendMessage", FANOUT_QUEUE),
                ("sqs:SendMessage", {"Fn::GetAtt": ["DeliveryWatchFailuresQueue", "Arn"]}),
            )
            | stream_reading("MessagesTable"),
        ),
    ],
)
def test_each_function_gets_exactly_the_rights_it_uses(translated, function, expected):
    assert inline_rights(translated, function) == expected | common(function)


def test_no_function_gets_a_wildcard_action(translated):
    for name, resource in translated.items():
        if resource["Type"] == "AWS::IAM::Role":
            for action, _ in inline_rights(translated, name.removesuffix("Role")):
                assert "*" not in action


@pytest.mark.parametrize("route", ["$connect", "$disconnect", "$default", "sendMessage", "history"])
def test_each_lambda_permission_is_scoped_to_this_api_and_its_route(translated, route):
    arns = [
        r["Properties"]["SourceArn"]["Fn::Sub"]
        for r in translated.values()
        if r["Type"] == "AWS::Lambda::Permission"
    ]
    assert any(arn.endswith(f":${{ChatApi}}/*/{route}") for arn in arns)


def test_presence_reads_the_connections_stream_with_bounded_retries(translated):
    mapping = translated["PresenceFunctionConnectionsStream"]["Properties"]
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["ConnectionsTable", "StreamArn"]}
    assert mapping["MaximumRetryAttempts"] >= 0
    assert mapping["BisectBatchOnFunctionError"] is True
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["PresenceFailuresQueue", "Arn"]
    }


def test_connections_stream_carries_old_and_new_rows(translated):
    table = translated["ConnectionsTable"]["Properties"]
    assert table["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}


def test_checkov_finds_no_failed_check():
    checkov = ROOT / ".venv-checkov" / "bin" / "checkov"
    found = str(checkov) if checkov.exists() else shutil.which("checkov")
    assert found, "checkov is missing: `make test` installs it in .venv-checkov"
    result = subprocess.run(
        [found, "--config-file", str(ROOT / ".checkov.yaml"), "-f", str(TEMPLATE),
         "--output", "json", "--quiet"],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
    )  # fmt: skip
    report = json.loads(result.stdout)
    report = report[0] if isinstance(report, list) else report
    failed = [
        (check["check_id"], check["resource"]) for check in report["results"]["failed_checks"]
    ]
    assert failed == []
    assert report["summary"]["passed"] > 0


def test_the_fan_out_queue_allows_five_receives_before_its_dead_letter_queue(translated):
    redrive = translated["FanOutQueue"]["Properties"]["RedrivePolicy"]
    assert redrive["maxReceiveCount"] >= 5  # AWS's advice for a Lambda event source


def test_the_backstop_tells_the_sender_on_the_fan_out_queues_last_receive(translated):
    from chatroom.delivery import LAST_RECEIVE

    redrive = translated["FanOutQueue"]["Properties"]["RedrivePolicy"]
    assert redrive["maxReceiveCount"] == LAST_RECEIVE


@pytest.mark.parametrize(
    "queue", ["FanOutDeadLetterQueue", "PresenceFailuresQueue", "DeliveryWatchFailuresQueue"]
)
def test_each_dead_letter_queue_alarms_on_its_first_message(translated, queue):
    alarms = [
        resource["Properties"]
        for resource in translated.values()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
        and resource["Properties"]["Dimensions"][0]["Value"] == {"Fn::GetAtt": [queue, "QueueName"]}
    ]
    [alarm] = alarms
    assert (alarm["MetricName"], alarm["Threshold"], alarm["ComparisonOperator"]) == (
        "ApproximateNumberOfMessagesVisible", 0, "GreaterThanThreshold",
    )  # fmt: skip
    assert alarm["AlarmActions"] == {
        "Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]
    }


def alarm_on(translated: dict[str, Any], namespace: str, metric: str, dimension: Any) -> dict:
    [alarm] = [
        resource["Properties"]
        for resource in translated.values()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
        and (resource["Properties"]["Namespace"], resource["Properties"]["MetricName"])
        == (namespace, metric)
        and resource["Properties"]["Dimensions"][0]["Value"] == dimension
    ]
    assert alarm["AlarmActions"] == {
        "Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]
    }
    return alarm


def test_the_delivery_watch_reads_the_messages_stream_with_bounded_retries(translated):
    # One poison record must not block its shard for the stream's 24 h, then vanish.
    mapping = translated["DeliveryWatchFunctionMessagesStream"]["Properties"]
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["MessagesTable", "StreamArn"]}
    assert 0 <= mapping["MaximumRetryAttempts"] <= 100
    assert 60 <= mapping["MaximumRecordAgeInSeconds"] < 24 * 3600
    assert mapping["BisectBatchOnFunctionError"] is True
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["DeliveryWatchFailuresQueue", "Arn"]
    }


def test_the_delivery_watch_filter_takes_messages_set_back_to_pending(translated):
    # A Retry of a failed message is a MODIFY to pending: the backstop must see it.
    filters = translated["DeliveryWatchFunctionMessagesStream"]["Properties"]["FilterCriteria"]
    patterns = [json.loads(f["Pattern"]) for f in filters["Filters"]]
    assert any(
        "MODIFY" in p["eventName"] and p["dynamodb"]["NewImage"]["delivery"]["S"] == ["pending"]
        for p in patterns
    )


@pytest.mark.parametrize(("metric", "threshold"), [("IteratorAge", 60_000), ("Errors", 0)])
def test_the_delivery_watch_alarms_on_its_iterator_age_and_its_errors(
    translated, metric, threshold
):
    function = {"Ref": "DeliveryWatchFunction"}
    alarm = alarm_on(translated, "AWS/Lambda", metric, function)
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (
        threshold, "GreaterThanThreshold",
    )  # fmt: skip


def test_the_fan_out_queue_keeps_work_well_past_its_longest_wait_and_alarms_before(translated):
    from chatroom.fanout.shards import LONGEST_DELAY_S

    queue = translated["FanOutQueue"]["Properties"]
    # A check waits at most SQS's longest delay, then each receive a visibility timeout.
    longest_wait_s = (
        LONGEST_DELAY_S + queue["RedrivePolicy"]["maxReceiveCount"] * queue["VisibilityTimeout"]
    )
    alarm = alarm_on(
        translated,
        "AWS/SQS",
        "ApproximateAgeOfOldestMessage",
        {"Fn::GetAtt": ["FanOutQueue", "QueueName"]},
    )
    assert longest_wait_s <= alarm["Threshold"] < queue["MessageRetentionPeriod"] / 2
    dead_letters = translated["FanOutDeadLetterQueue"]["Properties"]
    # A dead letter keeps its first enqueue time: its queue must keep it longer.
    assert dead_letters["MessageRetentionPeriod"] > queue["MessageRetentionPeriod"]
