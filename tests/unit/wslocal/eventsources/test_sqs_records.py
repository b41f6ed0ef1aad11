"""Lambda's SQS records from ReceiveMessage's answer: they parse with Powertools' model."""

from aws_lambda_powertools.utilities.parser.models import SqsModel

from wslocal.eventsources.sqs_records import lambda_record, oldest_age_ms, receive_count

RECEIVED = {
    "MessageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
    "ReceiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a",
    "MD5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
    "Body": "Test message.",
    "Attributes": {
        "ApproximateReceiveCount": "2",
        "SentTimestamp": "1545082649183",
        "SenderId": "AIDAIENQZJOLO23YVJ4VO",
        "ApproximateFirstReceiveTimestamp": "1545082649185",
    },
    "MessageAttributes": {
        "count": {"StringValue": "100", "DataType": "Number"},
        "blob": {"BinaryValue": b"\x00\x01", "DataType": "Binary"},
    },
}
ARN = "arn:aws:sqs:us-east-2:123456789012:my-queue"


def record():
    return lambda_record(RECEIVED, queue_arn=ARN, region="us-east-2")


def test_a_record_parses_with_powertools_sqs_model():
    parsed = SqsModel.model_validate({"Records": [record()]})
    assert parsed.Records[0].eventSourceARN == ARN


def test_a_record_renames_sqs_fields_as_lambda_does():
    built = record()
    assert (built["messageId"], built["body"], built["md5OfBody"]) == (
        RECEIVED["MessageId"],
        "Test message.",
        RECEIVED["MD5OfBody"],
    )
    assert (built["eventSource"], built["awsRegion"]) == ("aws:sqs", "us-east-2")


def test_message_attributes_have_lambdas_lower_case_fields():
    attributes = record()["messageAttributes"]
    assert attributes["count"] == {
        "stringValue": "100",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "Number",
    }
    assert attributes["blob"]["binaryValue"] == "AAE="


def test_the_receive_count_is_read_from_the_attributes():
    assert receive_count(RECEIVED) == 2


def test_the_age_of_a_batch_is_that_of_its_oldest_message():
    newer = {**RECEIVED, "Attributes": {"SentTimestamp": "1545082649283"}}
    assert oldest_age_ms([newer, RECEIVED], now_ms=1545082649300) == 117


def test_a_batch_that_says_nothing_of_when_it_was_sent_has_no_age():
    assert oldest_age_ms([{"MessageId": "m", "Body": ""}], now_ms=1) is None
