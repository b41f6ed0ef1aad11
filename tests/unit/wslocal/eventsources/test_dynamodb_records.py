"""Stream records as Lambda hands them over, and the on-failure description."""

from datetime import UTC, datetime

from aws_lambda_powertools.utilities.parser.models import DynamoDBStreamModel

from wslocal.eventsources.batches import Discarded
from wslocal.eventsources.dynamodb_records import (
    TTL_IDENTITY,
    event_name,
    failure_record,
    is_removal,
    lambda_record,
)

STREAM = "arn:aws:dynamodb:us-east-1:123456789012:table/Orders/stream/local"


def raw(sequence="100", name="INSERT", binary=b"\x00\x01"):
    """A record as botocore parses GetRecords: a datetime, bytes for binary values."""
    return {
        "eventID": "e1",
        "eventName": name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "ddblocal",
        "dynamodb": {
            "ApproximateCreationDateTime": datetime(2024, 11, 24, 11, 30, 31, tzinfo=UTC),
            "Keys": {"id": {"S": "o1"}},
            "NewImage": {"id": {"S": "o1"}, "blob": {"B": binary}},
            "SequenceNumber": sequence,
            "SizeBytes": 20,
            "StreamViewType": "NEW_IMAGE",
        },
    }


def test_a_record_has_lambdas_fields_and_the_template_region_and_arn():
    record = lambda_record(raw(), stream_arn=STREAM, region="us-east-1")
    assert set(record) == {
        "eventID", "eventName", "eventVersion", "eventSource", "awsRegion", "dynamodb",
        "eventSourceARN",
    }  # fmt: skip
    assert (record["awsRegion"], record["eventSourceARN"]) == ("us-east-1", STREAM)
    assert record["dynamodb"]["ApproximateCreationDateTime"] == 1732447831.0
    assert record["dynamodb"]["NewImage"]["blob"] == {"B": "AAE="}


def test_records_parse_with_powertools_parser_model():
    records = [lambda_record(raw(), stream_arn=STREAM, region="us-east-1")]
    DynamoDBStreamModel.model_validate({"Records": records})


def test_a_ttl_removal_carries_the_services_identity():
    record = lambda_record(raw(name="REMOVE"), stream_arn=STREAM, region="us-east-1", by_ttl=True)
    assert record["userIdentity"] == TTL_IDENTITY


def test_an_ordinary_record_has_no_user_identity():
    assert "userIdentity" not in lambda_record(raw(), stream_arn=STREAM, region="us-east-1")


def test_the_failure_record_describes_the_records_without_carrying_them():
    discarded = Discarded((raw("100"), raw("105")), "RetryAttemptsExhausted", retries=2)
    message = failure_record(
        discarded,
        shard_id="shard-1",
        stream_arn=STREAM,
        function_arn="arn:aws:lambda:us-east-1:123456789012:function:f",
        request_id="r1",
        error="Unhandled",
        now_s=1732447900.0,
    )
    info = message["DDBStreamBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (
        "100",
        "105",
        2,
    )
    assert message["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert message["requestContext"]["approximateInvokeCount"] == 3
    assert "NewImage" not in str(message)


def unknown(view, *images):
    record = raw(name="UNKNOWN_TO_SDK_VERSION")
    stream = record["dynamodb"]
    stream["StreamViewType"] = view
    stream.pop("NewImage")
    for image in images:
        stream[image] = {"id": {"S": "o1"}}
    return record


def test_an_event_name_outside_dynamodbs_three_is_read_from_both_images():
    both = "NEW_AND_OLD_IMAGES"
    assert event_name(unknown(both, "NewImage")) == "INSERT"
    assert event_name(unknown(both, "NewImage", "OldImage")) == "MODIFY"
    assert is_removal(unknown(both, "OldImage"))
    removal = lambda_record(unknown(both, "OldImage"), stream_arn=STREAM, region="eu-west-1")
    assert removal["eventName"] == "REMOVE"


def test_with_one_image_only_the_event_it_can_tell_is_named():
    assert event_name(unknown("NEW_IMAGE")) == "REMOVE"  # a TTL removal: no new image
    assert event_name(unknown("NEW_IMAGE", "NewImage")) == "UNKNOWN_TO_SDK_VERSION"
    assert event_name(unknown("OLD_IMAGE")) == "INSERT"
    assert event_name(unknown("OLD_IMAGE", "OldImage")) == "UNKNOWN_TO_SDK_VERSION"
    assert event_name(unknown("KEYS_ONLY")) == "UNKNOWN_TO_SDK_VERSION"
