import time

from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent
from boto3.dynamodb.types import TypeSerializer

from chatroom.delivery import GRACE_S, check_delay_s, overdue_candidates
from chatroom.fanout.shards import LONGEST_DELAY_S
from chatroom.service import LONGEST_DEADLINE_MS
from wslocal.eventsources import dynamodb_records

NOW_MS = 1_700_000_000_000


def record(name: str, delivery: str, sequence: str) -> dict:
    serialise = TypeSerializer().serialize
    image = {"room": "lobby", "messageId": "m-1", "delivery": delivery, "deliverBy": NOW_MS}
    stream = {
        "Keys": {"room": serialise("lobby"), "messageId": serialise("m-1")},
        "NewImage": {key: serialise(value) for key, value in image.items()},
        "SequenceNumber": sequence,
        "StreamViewType": "NEW_IMAGE",
        "ApproximateCreationDateTime": time.time(),
    }
    return dynamodb_records.lambda_record(
        {"eventID": sequence, "eventName": name, "dynamodb": stream},
        stream_arn="arn:aws:dynamodb:us-east-1:1:table/MessagesTable/stream/x",
        region="us-east-1",
    )


def candidates(*records: dict) -> list[str]:
    found = overdue_candidates(DynamoDBStreamEvent({"Records": list(records)}).records)
    return [r.dynamodb.sequence_number for r in found.values()]


def test_a_check_waits_until_the_senders_invocation_is_over_and_the_grace():
    assert check_delay_s(NOW_MS + 30_000, NOW_MS) == 30 + GRACE_S
    assert check_delay_s(NOW_MS + 1, NOW_MS) == 1 + GRACE_S  # never a moment early


def test_a_check_for_a_message_already_overdue_waits_only_the_grace():
    assert check_delay_s(NOW_MS - 5_000, NOW_MS) == GRACE_S
    assert check_delay_s(None, NOW_MS) == GRACE_S


def test_the_longest_deadline_is_checked_after_it_within_sqs_longest_delay():
    # deliverBy is never later than LONGEST_DEADLINE_MS after the store, so its check's
    # delay fits SQS's 900 s and is never cut short (which would check it too early).
    delay = check_delay_s(NOW_MS + LONGEST_DEADLINE_MS, NOW_MS)
    assert delay <= LONGEST_DELAY_S
    assert NOW_MS + delay * 1000 >= NOW_MS + LONGEST_DEADLINE_MS + GRACE_S * 1000


def test_a_message_stored_and_marked_in_one_batch_is_not_checked():
    assert candidates(record("INSERT", "pending", "1"), record("MODIFY", "handedOff", "2")) == []


def test_a_message_set_back_to_pending_is_checked_again():
    # the Retry of a failed message reopens it: a MODIFY to pending
    assert candidates(record("MODIFY", "pending", "7")) == ["7"]
    assert candidates(record("MODIFY", "pending", "7"), record("MODIFY", "handedOff", "8")) == []
