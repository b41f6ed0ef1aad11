import json

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from chatroom import budgets
from chatroom.connections import ConnectionStore, Member
from chatroom.query_items import take_scalar_items, with_scalar_items_taken

QUERY = {
    "TableName": "connections",
    "IndexName": "room-index",
    "KeyConditionExpression": "room = :room",
    "ExpressionAttributeValues": {":room": {"S": "lobby"}},
}
SCALAR_PAGE = {
    "Items": [
        {"connectionId": {"S": "c1="}, "connectedAt": {"N": "1700000000000"}},
        {"connectionId": {"S": "c2="}, "muted": {"BOOL": False}, "note": {"NULL": True}},
        {"connectionId": {"S": "ünï"}, "connectedAt": {"N": "1.5e3"}},
    ],
    "Count": 3,
    "ScannedCount": 3,
    "LastEvaluatedKey": {"connectionId": {"S": "ünï"}, "room": {"S": "lobby"}},
}


class _Body:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_):
        yield self._body


def answer(status: int, body: dict | bytes, **headers: str) -> AWSResponse:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return AWSResponse(
        "http://127.0.0.1:9/",
        status,
        {"x-amzn-requestid": "r1", "content-type": "application/x-amz-json-1.0", **headers},
        _Body(raw),
    )


def error(status: int, code: str, message: str = "no") -> AWSResponse:
    return answer(
        status, {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message}
    )


def dynamodb_client(*answers: AWSResponse, taken: bool = True):
    """A DynamoDB client with the stores' retries whose requests get ``answers`` in turn
    (never sent); ``client.sent`` are the bodies it sent."""
    session = boto3.session.Session(
        aws_access_key_id="a", aws_secret_access_key="s", region_name="us-east-1"
    )
    client = session.client(
        "dynamodb", endpoint_url="http://127.0.0.1:9", config=budgets.BEFORE_THE_STORE
    )
    queue = list(answers)
    client.sent = []

    def respond(request, **_):
        client.sent.append(json.loads(request.body))
        return queue.pop(0)

    client.meta.events.register("before-send.dynamodb", respond)
    return with_scalar_items_taken(client) if taken else client


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch):
    monkeypatch.setattr("botocore.endpoint.time.sleep", lambda seconds: None)


def both(*answers: AWSResponse):
    """The same answers to a client with the hook and to one without."""
    return dynamodb_client(*answers), dynamodb_client(*answers, taken=False)


def test_scalar_items_are_what_botocores_parser_gives():
    taken, parsed = both(answer(200, SCALAR_PAGE), answer(200, SCALAR_PAGE))
    assert taken.query(**QUERY) == parsed.query(**QUERY)
    assert taken.query(**QUERY)["Items"] == SCALAR_PAGE["Items"]


def items_handed_over(client) -> list:
    """What the hook handed botocore for each answer, recorded by a handler after it."""
    handed = []

    def after(response_dict, customized_response_dict, **_):
        handed.append(dict(customized_response_dict))

    client.meta.events.register("before-parse.dynamodb.Query", after)
    return handed


def test_scalar_items_are_handed_over_unparsed():
    client = dynamodb_client(answer(200, SCALAR_PAGE))
    handed = items_handed_over(client)
    client.query(**QUERY)
    assert handed == [{"Items": SCALAR_PAGE["Items"]}]


@pytest.mark.parametrize(
    "value",
    [
        {"B": "aGk="},
        {"L": [{"S": "x"}]},
        {"M": {"a": {"N": "1"}}},
        {"SS": ["a", "b"]},
        {"S": None},
        {"S": "x", "N": "1"},
        {"N": 1},
    ],
    ids=["binary", "list", "map", "set", "null-string", "two-kinds", "number-not-text"],
)
def test_items_holding_any_other_value_are_left_to_botocores_parser(value):
    page = {"Items": [{"connectionId": {"S": "c1="}, "v": value}], "Count": 1}
    taken, parsed = both(answer(200, page))
    handed = items_handed_over(taken)
    assert taken.query(**QUERY) == parsed.query(**QUERY)
    assert handed == [{}]


def test_an_error_answer_holding_items_is_left_to_botocore():
    body = {"__type": "ValidationException", "message": "bad", "Items": SCALAR_PAGE["Items"]}
    client = dynamodb_client(answer(400, body))
    handed = items_handed_over(client)
    with pytest.raises(client.exceptions.ClientError) as raised:
        client.query(**QUERY)
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert handed == [{}]


def test_a_binary_value_is_still_decoded_by_botocore():
    page = {"Items": [{"v": {"B": "aGk="}}], "Count": 1}
    assert dynamodb_client(answer(200, page)).query(**QUERY)["Items"] == [{"v": {"B": b"hi"}}]


def test_an_answer_that_is_not_json_is_parsed_as_botocore_parses_it():
    taken, parsed = both(answer(200, b"<html>busy</html>"))
    assert taken.query(**QUERY) == parsed.query(**QUERY)


def test_an_empty_answer_is_parsed_as_botocore_parses_it():
    taken, parsed = both(answer(200, b""))
    assert taken.query(**QUERY) == parsed.query(**QUERY)


def test_a_throttled_query_is_retried_and_its_next_answer_taken():
    client = dynamodb_client(
        error(400, "ProvisionedThroughputExceededException"), answer(200, SCALAR_PAGE)
    )
    assert client.query(**QUERY)["Items"] == SCALAR_PAGE["Items"]
    assert len(client.sent) == 2


def test_a_query_throttled_on_every_attempt_raises_the_clients_own_exception():
    throttled = [error(400, "ProvisionedThroughputExceededException", "slow") for _ in range(3)]
    client = dynamodb_client(*throttled)
    with pytest.raises(client.exceptions.ProvisionedThroughputExceededException) as raised:
        client.query(**QUERY)
    assert raised.value.response["Error"] == {
        "Code": "ProvisionedThroughputExceededException",
        "Message": "slow",
    }
    assert len(client.sent) == 3


def test_a_server_error_is_retried_then_raised_as_a_client_error():
    client = dynamodb_client(*[error(500, "InternalServerError") for _ in range(3)])
    with pytest.raises(ClientError) as raised:
        client.query(**QUERY)
    assert raised.value.response["Error"]["Code"] == "InternalServerError"
    assert raised.value.response["ResponseMetadata"]["RetryAttempts"] == 2


def test_a_refused_query_raises_at_once_as_without_the_hook():
    client = dynamodb_client(error(400, "ResourceNotFoundException", "no table"))
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.query(**QUERY)
    assert len(client.sent) == 1


def test_the_rooms_pages_are_all_read_through_the_hook():
    first = {"Items": SCALAR_PAGE["Items"][:2], "Count": 2, "LastEvaluatedKey": {"k": {"S": "c2="}}}
    last = {"Items": [{"connectionId": {"S": "c3="}, "connectedAt": {"N": "1700000000001"}}]}
    client = dynamodb_client(answer(200, first), answer(200, last))
    table = (
        boto3.session.Session(
            aws_access_key_id="a", aws_secret_access_key="s", region_name="us-east-1"
        )
        .resource("dynamodb", endpoint_url="http://127.0.0.1:9")
        .Table("connections")
    )
    store = ConnectionStore(table, raw_client=client)
    handed = items_handed_over(client)
    members = store.members("lobby", page_size=2, now_ms=1_700_000_000_000, with_names=False)
    assert members == [
        Member("c1=", 1_700_000_000_000),
        Member("c2=", 0),
        Member("c3=", 1_700_000_000_001),
    ]
    assert [sent["Limit"] for sent in client.sent] == [2, 2]
    assert "ExclusiveStartKey" not in client.sent[0]
    assert client.sent[1]["ExclusiveStartKey"] == {"k": {"S": "c2="}}
    assert handed == [{"Items": first["Items"]}, {"Items": last["Items"]}]


def test_a_botocore_that_gives_no_place_for_customized_items_parses_them_itself():
    response = {"status_code": 200, "body": json.dumps(SCALAR_PAGE).encode(), "headers": {}}
    take_scalar_items(response)
    assert json.loads(response["body"]) == SCALAR_PAGE
