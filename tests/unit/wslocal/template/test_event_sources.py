"""Stream and queue event sources read from a function's Events, with Lambda's defaults
and its validation."""

from pathlib import Path

import pytest

from wslocal.exceptions import TemplateError
from wslocal.template import build_stage_model
from wslocal.template.intrinsics import load_yaml

TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Api:
    Type: AWS::ApiGatewayV2::Api
    Properties: {Name: a, ProtocolType: WEBSOCKET}
  Orders:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
      StreamSpecification: {StreamViewType: NEW_IMAGE}
  Plain:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
  Failures:
    Type: AWS::SQS::Queue
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.main
      Runtime: python3.12
      Events:
        OrdersStream:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt Orders.StreamArn
            StartingPosition: TRIM_HORIZON
            BatchSize: 10
            MaximumBatchingWindowInSeconds: 2
            MaximumRetryAttempts: 2
            BisectBatchOnFunctionError: true
            FunctionResponseTypes: [ReportBatchItemFailures]
            ParallelizationFactor: 2
            FilterCriteria: {Filters: [{Pattern: '{"eventName": ["INSERT"]}'}]}
            DestinationConfig:
              OnFailure: {Type: SQS, Destination: !GetAtt Failures.Arn}
        Nightly:
          Type: Schedule
          Properties: {Schedule: rate(1 day)}
"""


def model(tmp_path: Path, text: str = TEMPLATE):
    (tmp_path / "src").mkdir(exist_ok=True)
    return build_stage_model(load_yaml(text), tmp_path)


def test_a_dynamodb_event_becomes_a_stream_source_with_its_settings(tmp_path):
    [source] = model(tmp_path).stream_sources
    assert (source.name, source.function, source.table) == (
        "Worker.OrdersStream",
        "Worker",
        "Orders",
    )
    assert (source.starting_position, source.batch_size, source.batching_window_s) == (
        "TRIM_HORIZON",
        10,
        2.0,
    )
    assert (source.maximum_retry_attempts, source.bisect_on_error) == (2, True)
    assert source.report_item_failures and source.enabled
    assert source.on_failure is not None
    assert (source.on_failure.kind, source.on_failure.arn) == (
        "SQS",
        "arn:aws:sqs:us-east-1:123456789012:Failures",
    )


def test_properties_read_but_not_applied_are_named(tmp_path):
    [source] = model(tmp_path).stream_sources
    assert source.not_emulated == ("ParallelizationFactor",)


def test_filter_criteria_patterns_are_carried_to_the_source(tmp_path):
    [source] = model(tmp_path).stream_sources
    assert source.filters == ('{"eventName": ["INSERT"]}',)


def test_a_pattern_lambda_would_refuse_names_the_function_and_event(tmp_path):
    text = TEMPLATE.replace("""'{"eventName": ["INSERT"]}'""", """'{"eventName": "INSERT"}'""")
    with pytest.raises(
        TemplateError,
        match=r"Worker.OrdersStream.FilterCriteria: Filters\[0\].Pattern: eventName: must be a",
    ):
        model(tmp_path, text)


def test_filter_criteria_without_filters_is_a_clear_error(tmp_path):
    text = TEMPLATE.replace("""{Filters: [{Pattern: '{"eventName": ["INSERT"]}'}]}""", "[oops]")
    with pytest.raises(TemplateError, match=r"Worker.OrdersStream.FilterCriteria: must be"):
        model(tmp_path, text)


def test_lambdas_defaults_apply_to_what_the_event_leaves_out(tmp_path):
    text = TEMPLATE.replace(
        """            BatchSize: 10
            MaximumBatchingWindowInSeconds: 2
            MaximumRetryAttempts: 2
            BisectBatchOnFunctionError: true
""",
        "",
    )
    [source] = model(tmp_path, text).stream_sources
    assert (source.batch_size, source.batching_window_s) == (100, 0.0)
    assert (source.maximum_retry_attempts, source.maximum_record_age_s) == (-1, -1)
    assert not source.bisect_on_error


def test_the_table_gets_its_stream_in_create_table(tmp_path):
    orders = model(tmp_path).table("Orders")
    assert orders.stream_view_type == "NEW_IMAGE"
    assert orders.create_table["StreamSpecification"] == {
        "StreamEnabled": True,
        "StreamViewType": "NEW_IMAGE",
    }


def test_other_event_types_are_listed_as_not_emulated(tmp_path):
    assert "Worker.Nightly (Schedule event) is not emulated" in model(tmp_path).not_emulated


def test_a_stream_of_a_table_without_stream_specification_names_the_event(tmp_path):
    text = TEMPLATE.replace("!GetAtt Orders.StreamArn", "!GetAtt Plain.StreamArn")
    with pytest.raises(TemplateError, match=r"Worker.OrdersStream.Stream: .*Plain"):
        model(tmp_path, text)


def test_a_missing_starting_position_is_refused(tmp_path):
    text = TEMPLATE.replace("            StartingPosition: TRIM_HORIZON\n", "")
    with pytest.raises(TemplateError, match="StartingPosition"):
        model(tmp_path, text)


def test_a_disabled_source_is_read_as_disabled(tmp_path):
    text = TEMPLATE.replace("BatchSize: 10", "BatchSize: 10\n            Enabled: false")
    [source] = model(tmp_path, text).stream_sources
    assert not source.enabled


QUEUE_TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Api:
    Type: AWS::ApiGatewayV2::Api
    Properties: {Name: a, ProtocolType: WEBSOCKET}
  Jobs:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 60
      RedrivePolicy: {deadLetterTargetArn: !GetAtt Dead.Arn, maxReceiveCount: 3}
  Dead:
    Type: AWS::SQS::Queue
  Ordered:
    Type: AWS::SQS::Queue
    Properties: {FifoQueue: true}
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.main
      Runtime: python3.12
      Events:
        Queued:
          Type: SQS
          Properties:
            Queue: !GetAtt Jobs.Arn
            BatchSize: 5
            ScalingConfig: {MaximumConcurrency: 4}
            FunctionResponseTypes: [ReportBatchItemFailures]
"""


def test_an_sqs_event_becomes_a_queue_source_with_its_settings(tmp_path):
    [source] = model(tmp_path, QUEUE_TEMPLATE).queue_sources
    assert (source.name, source.function, source.queue) == ("Worker.Queued", "Worker", "Jobs")
    assert source.queue_arn == "arn:aws:sqs:us-east-1:123456789012:Jobs"
    assert (source.batch_size, source.batching_window_s, source.maximum_concurrency) == (5, 0, 4)
    assert source.report_item_failures and source.enabled


def test_an_sqs_source_takes_lambdas_defaults(tmp_path):
    text = QUEUE_TEMPLATE.replace("            BatchSize: 5\n", "").replace(
        "            ScalingConfig: {MaximumConcurrency: 4}\n", ""
    )
    [source] = model(tmp_path, text).queue_sources
    assert (source.batch_size, source.maximum_concurrency) == (10, None)


def test_a_queue_keeps_its_attributes_and_redrive_policy(tmp_path):
    jobs = model(tmp_path, QUEUE_TEMPLATE).queue("Jobs")
    assert jobs.visibility_timeout_s == 60
    assert (jobs.dead_letter_queue, jobs.max_receive_count) == ("Dead", 3)
    assert '"maxReceiveCount": 3' in jobs.attributes["RedrivePolicy"]


def test_a_fifo_queue_gets_its_suffix(tmp_path):
    names = [q.queue_name for q in model(tmp_path, QUEUE_TEMPLATE).queues]
    assert "Ordered.fifo" in names


def test_a_batch_over_ten_without_a_window_is_refused(tmp_path):
    text = QUEUE_TEMPLATE.replace("BatchSize: 5", "BatchSize: 50")
    with pytest.raises(TemplateError, match=r"Worker.Queued.BatchSize: .*Window"):
        model(tmp_path, text)


def test_a_batch_over_ten_with_a_window_is_accepted(tmp_path):
    text = QUEUE_TEMPLATE.replace(
        "BatchSize: 5", "BatchSize: 50\n            MaximumBatchingWindowInSeconds: 1"
    )
    [source] = model(tmp_path, text).queue_sources
    assert source.batch_size == 50


def test_a_maximum_concurrency_below_two_is_refused(tmp_path):
    text = QUEUE_TEMPLATE.replace("MaximumConcurrency: 4", "MaximumConcurrency: 1")
    with pytest.raises(TemplateError, match="MaximumConcurrency"):
        model(tmp_path, text)


def test_a_queue_outside_the_template_is_named(tmp_path):
    text = QUEUE_TEMPLATE.replace(
        "!GetAtt Jobs.Arn", "arn:aws:sqs:us-east-1:123456789012:elsewhere"
    )
    with pytest.raises(TemplateError, match=r"Worker.Queued.Queue: .*elsewhere"):
        model(tmp_path, text)


def test_a_redrive_policy_without_a_receive_count_is_refused(tmp_path):
    text = QUEUE_TEMPLATE.replace(", maxReceiveCount: 3", "")
    with pytest.raises(TemplateError, match=r"Jobs.RedrivePolicy"):
        model(tmp_path, text)
