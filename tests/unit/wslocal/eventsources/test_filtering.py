"""Lambda's event filtering, case by case from AWS's documentation. Each case names its
source:

- [LAMBDA]: Lambda Developer Guide, "Control which events Lambda sends to your function"
  (invocation-eventfiltering), its "Filter rule syntax" table and examples.
- [DDB]: "Using event filtering with a DynamoDB event source" (with-ddb-filtering).
- [SQS]: "Using event filtering with an Amazon SQS event source" (with-sqs-filtering), and
  the "Properly filtering Amazon SQS messages" table of the first page.
- [EB]: EventBridge User Guide, "Comparison operators for use in event patterns"
  (eb-create-pattern-operators), whose syntax Lambda uses.
"""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wslocal.eventsources.filtering import (
    SQS_DATA_KEY,
    STREAM_DATA_KEY,
    compile_filters,
)
from wslocal.exceptions import FilterPatternError


def matches(pattern, record, data_key=STREAM_DATA_KEY):
    return compile_filters([json.dumps(pattern)], data_key).matches(record)


def sqs(body):
    return {"messageId": "m1", "body": body, "eventSource": "aws:sqs"}


# [DDB] "DynamoDB event": the example record of a table with key CustomerName
CUSTOMER = {
    "eventID": "1",
    "eventName": "INSERT",
    "eventVersion": "1.0",
    "dynamodb": {
        "ApproximateCreationDateTime": 1678831218.0,
        "Keys": {"CustomerName": {"S": "AnyCompany Industries"}},
        "NewImage": {
            "AccountManager": {"S": "Pat Candella"},
            "PaymentTerms": {"S": "60 days"},
            "CustomerName": {"S": "AnyCompany Industries"},
        },
        "SequenceNumber": "111",
        "SizeBytes": 26,
        "StreamViewType": "NEW_IMAGE",
    },
}


# --- DynamoDB ------------------------------------------------------------------------


def test_a_table_key_filters_records():  # [DDB] "Filtering with table keys"
    pattern = {"dynamodb": {"Keys": {"CustomerName": {"S": ["AnyCompany Industries"]}}}}
    assert matches(pattern, CUSTOMER)
    other = {**CUSTOMER, "dynamodb": {**CUSTOMER["dynamodb"], "Keys": {"CustomerName": {"S": "X"}}}}
    assert not matches(pattern, other)


def test_a_table_attribute_filters_records_with_any_of_its_values():
    # [DDB] "Filtering with table attributes": AccountManager is one of two people
    pattern = {"dynamodb": {"NewImage": {"AccountManager": {"S": ["Pat Candella", "Shirley"]}}}}
    assert matches(pattern, CUSTOMER)


def test_fields_of_both_images_are_anded():  # [DDB] "Filtering with Boolean expressions"
    pattern = {
        "dynamodb": {
            "NewImage": {"AccountManager": {"S": ["Pat Candella"]}},
            "OldImage": {"AccountManager": {"S": ["Terry Whitlock"]}},
        }
    }
    assert not matches(pattern, CUSTOMER)  # no OldImage: the second field has no value
    modify = {**CUSTOMER, "dynamodb": {**CUSTOMER["dynamodb"]}}
    modify["dynamodb"]["OldImage"] = {"AccountManager": {"S": "Terry Whitlock"}}
    assert matches(pattern, modify)


def test_exists_on_an_attribute_rather_than_its_typed_leaf_never_matches():
    # [DDB] "Using the Exists operator": Organizations is not a leaf node
    item = {
        "eventName": "INSERT",
        "dynamodb": {
            "NewImage": {
                "UserID": {"S": "12345"},
                "Organizations": {"L": [{"S": "Sales"}, {"S": "Marketing"}, {"S": "Support"}]},
            }
        },
    }
    wrong = {"dynamodb": {"NewImage": {"Organizations": [{"exists": True}]}}}
    right = {"dynamodb": {"NewImage": {"Organizations": {"L": {"S": [{"exists": True}]}}}}}
    assert not matches(wrong, item)
    assert matches(right, item)


def test_metadata_and_data_fields_together():  # [LAMBDA] "Filtering examples", as the chat uses
    pattern = {
        "eventName": ["MODIFY"],
        "dynamodb": {"NewImage": {"PaymentTerms": {"S": ["60 days"]}}},
    }
    assert not matches(pattern, CUSTOMER)
    assert matches(pattern, {**CUSTOMER, "eventName": "MODIFY"})


def test_a_stream_pattern_whose_data_key_is_not_an_object_is_refused():
    # [LAMBDA] "Properly filtering Kinesis and DynamoDB messages": a non-JSON pattern for
    # the data properties is an exception when the mapping is created
    with pytest.raises(FilterPatternError, match="'dynamodb' rules must be an object"):
        compile_filters(['{"dynamodb": ["x"]}'], STREAM_DATA_KEY)


def test_a_stream_data_key_that_is_not_an_object_is_refused_inside_or_too():
    with pytest.raises(FilterPatternError, match="'dynamodb' rules must be an object"):
        compile_filters(
            ['{"$or": [{"dynamodb": ["x"]}, {"eventName": ["INSERT"]}]}'], STREAM_DATA_KEY
        )


def test_a_typed_number_is_a_string_so_numeric_does_not_match_it():
    # [EB] "Numeric matching ... only works on values that are JSON numbers"; DynamoDB's N
    # is a string in the record
    record = {"dynamodb": {"NewImage": {"Quantity": {"N": "50"}}}}
    assert not matches(
        {"dynamodb": {"NewImage": {"Quantity": {"N": [{"numeric": [">", 10]}]}}}}, record
    )
    assert matches({"dynamodb": {"NewImage": {"Quantity": {"N": ["50"]}}}}, record)
    assert matches({"dynamodb": {"SizeBytes": [{"numeric": [">", 10]}]}}, CUSTOMER)


# --- the rule syntax table -----------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "present", "absent"),
    [
        # [LAMBDA] Null: "UserID": [ null ]
        ({"UserID": [None]}, {"UserID": None}, {"UserID": "u1"}),
        # [LAMBDA] Empty: "LastName": [""]
        ({"LastName": [""]}, {"LastName": ""}, {"LastName": "Doe"}),
        # [LAMBDA] Equals: "Name": [ "Alice" ]
        ({"Name": ["Alice"]}, {"Name": "Alice"}, {"Name": "alice"}),
        # [LAMBDA] Equals (ignore case): "Name": [ { "equals-ignore-case": "alice" } ]
        ({"Name": [{"equals-ignore-case": "alice"}]}, {"Name": "ALICE"}, {"Name": "Alicia"}),
        # [LAMBDA] And: "Location": [ "New York" ], "Day": ["Monday"]
        (
            {"Location": ["New York"], "Day": ["Monday"]},
            {"Location": "New York", "Day": "Monday"},
            {"Location": "New York", "Day": "Tuesday"},
        ),
        # [LAMBDA] Or: "PaymentType": [ "Credit", "Debit"]
        ({"PaymentType": ["Credit", "Debit"]}, {"PaymentType": "Debit"}, {"PaymentType": "Cash"}),
        # [LAMBDA] Or (multiple fields): "$or": [ {"Location": [...]}, {"Day": [...]} ]
        (
            {"$or": [{"Location": ["New York"]}, {"Day": ["Monday"]}]},
            {"Location": "Boston", "Day": "Monday"},
            {"Location": "Boston", "Day": "Friday"},
        ),
        # [LAMBDA] Not: "Weather": [ { "anything-but": [ "Raining" ] } ]
        (
            {"Weather": [{"anything-but": ["Raining"]}]},
            {"Weather": "Sunny"},
            {"Weather": "Raining"},
        ),
        # [LAMBDA] Numeric (equals): "Price": [ { "numeric": [ "=", 100 ] } ]
        ({"Price": [{"numeric": ["=", 100]}]}, {"Price": 100}, {"Price": 101}),
        # [LAMBDA] Numeric (range): more than 10, less than or equal to 20
        ({"Price": [{"numeric": [">", 10, "<=", 20]}]}, {"Price": 20}, {"Price": 10}),
        # [LAMBDA] Exists: "ProductName": [ { "exists": true } ]
        ({"ProductName": [{"exists": True}]}, {"ProductName": "x"}, {"Other": "x"}),
        # [LAMBDA] Does not exist: "ProductName": [ { "exists": false } ]
        ({"ProductName": [{"exists": False}]}, {"Other": "x"}, {"ProductName": "x"}),
        # [LAMBDA] Begins with: "Region": [ {"prefix": "us-" } ]
        ({"Region": [{"prefix": "us-"}]}, {"Region": "us-east-1"}, {"Region": "eu-west-1"}),
        # [LAMBDA] Ends with: "FileName": [ { "suffix": ".png" } ]
        ({"FileName": [{"suffix": ".png"}]}, {"FileName": "a.png"}, {"FileName": "a.jpg"}),
        # [EB] Anything-but (begins with): "Region": [ { "anything-but": {"prefix": "us-" } } ]
        (
            {"Region": [{"anything-but": {"prefix": "us-"}}]},
            {"Region": "eu-west-1"},
            {"Region": "us-east-1"},
        ),
        # [EB] Anything-but (ends with): "FileName": [ { "anything-but": { "suffix": ".png" } } ]
        (
            {"FileName": [{"anything-but": {"suffix": ".png"}}]},
            {"FileName": "a.jpg"},
            {"FileName": "a.png"},
        ),
        # [EB] Anything-but (ignore case)
        (
            {"state": [{"anything-but": {"equals-ignore-case": "initializing"}}]},
            {"state": "running"},
            {"state": "INITIALIZING"},
        ),
        # [EB] Anything-but a single value: "state": [ { "anything-but": "initializing" } ]
        (
            {"state": [{"anything-but": "initializing"}]},
            {"state": "running"},
            {"state": "initializing"},
        ),
        # [EB] Anything-but numbers
        ({"count": [{"anything-but": [0, 1]}]}, {"count": 2}, {"count": 1}),
        # [EB] Begins with (ignore case): {"prefix": { "equals-ignore-case": "eventb" }}
        (
            {"service": [{"prefix": {"equals-ignore-case": "eventb"}}]},
            {"service": "EventBridge"},
            {"service": "Lambda"},
        ),
        # [EB] Ends with (ignore case)
        (
            {"FileName": [{"suffix": {"equals-ignore-case": ".png"}}]},
            {"FileName": "A.PNG"},
            {"FileName": "a.gif"},
        ),
        # [EB] IP address: "sourceIPAddress": [ { "cidr": "10.0.0.0/24" } ]
        (
            {"sourceIPAddress": [{"cidr": "10.0.0.0/24"}]},
            {"sourceIPAddress": "10.0.0.255"},
            {"sourceIPAddress": "10.0.1.1"},
        ),
        # [EB] Wildcard: "EventBusArn": [ { "wildcard": "arn:aws:events:us-east-1:*:event-bus/*" } ]
        (
            {"EventBusArn": [{"wildcard": "arn:aws:events:us-east-1:*:event-bus/*"}]},
            {"EventBusArn": "arn:aws:events:us-east-1:123456789012:event-bus/default"},
            {"EventBusArn": "arn:aws:events:eu-west-1:123456789012:event-bus/default"},
        ),
    ],
)
def test_each_operator_of_the_rule_syntax(rule, present, absent):
    assert matches(rule, present)
    assert not matches(rule, absent)


def test_numbers_are_equal_only_when_written_the_same_way():
    # [LAMBDA] note: "300, 300.0, and 3.0e2 are not considered equal"
    record = {"data": json.loads('{"n": 300}')}
    assert matches({"data": {"n": [300]}}, record)
    assert not compile_filters(['{"n": [300.0]}'], SQS_DATA_KEY).matches({"n": 300})
    body = sqs('{"n": 3.0e2}')
    assert compile_filters(['{"body": {"n": [3.0e2]}}'], SQS_DATA_KEY).matches(body)
    assert not compile_filters(['{"body": {"n": [300]}}'], SQS_DATA_KEY).matches(body)


def test_strings_match_exactly_without_case_folding():  # [LAMBDA] note on strings
    assert not matches({"Name": ["alice"]}, {"Name": "Alice"})
    assert not matches({"n": ["1"]}, {"n": 1})


def test_a_value_in_an_array_matches_when_any_element_does():
    # [EB] "If the value in the event is an array, the event pattern matches if the
    # intersection of the event pattern array and the event array is non-empty"
    assert matches({"tags": ["red"]}, {"tags": ["blue", "red"]})
    assert not matches({"tags": ["red"]}, {"tags": []})
    assert matches({"tags": [{"exists": False}]}, {"tags": []})


def test_anything_but_and_prefix_need_the_field_to_be_there():
    # [EB] only exists: false matches a field that is not in the event
    assert not matches({"Weather": [{"anything-but": ["Raining"]}]}, {})
    assert not matches({"Region": [{"prefix": "us-"}]}, {})


def test_filters_are_ored_and_a_record_no_filter_matches_is_dropped():
    # [LAMBDA] "Your filters are logically ORed together ... If none of your filters are
    # satisfied, Lambda discards the record."
    event_filter = compile_filters(['{"a": [1]}', '{"b": [2]}'], STREAM_DATA_KEY)
    assert event_filter.matches({"b": 2})
    assert not event_filter.matches({"a": 2, "b": 1})


def test_no_filter_lets_everything_through():
    assert compile_filters([], SQS_DATA_KEY).matches(sqs("anything"))


# --- SQS bodies ----------------------------------------------------------------------


def test_a_json_body_is_filtered_on_its_fields():
    # [SQS] "Amazon SQS event filtering basics": RequestCode is "BBBB"
    pattern = ['{ "body" : { "RequestCode" : [ "BBBB" ] } }']
    body = (
        '{\n "RecordNumber": 1234,\n "TimeStamp": "yyyy-mm-ddThh:mm:ss",\n "RequestCode": "BBBB"\n}'
    )
    assert compile_filters(pattern, SQS_DATA_KEY).matches(sqs(body))
    assert not compile_filters(pattern, SQS_DATA_KEY).matches(sqs(body.replace("BBBB", "AAAA")))


def test_a_json_body_is_filtered_on_a_number_range():
    # [SQS] "RecordNumber" greater than 9999
    pattern = ['{ "body" : { "RecordNumber" : [ { "numeric": [ ">", 9999 ] } ] } }']
    assert compile_filters(pattern, SQS_DATA_KEY).matches(sqs('{"RecordNumber": 10000}'))
    assert not compile_filters(pattern, SQS_DATA_KEY).matches(sqs('{"RecordNumber": 1234}'))


@pytest.mark.parametrize(
    ("body", "pattern", "delivered"),
    [
        # [LAMBDA] "Properly filtering Amazon SQS messages", row by row
        ("plain text", '{"body": ["plain text"]}', True),  # plain string / plain string
        ("plain text", '{"messageId": ["m1"]}', True),  # plain / no data pattern
        ("plain text", '{"body": {"a": ["b"]}}', False),  # plain / JSON: dropped
        ('{"a": "b"}', '{"body": ["{\\"a\\": \\"b\\"}"]}', False),  # JSON / plain: dropped
        ('{"a": "b"}', '{"messageId": ["m1"]}', True),  # JSON / no data pattern
        ('{"a": "b"}', '{"body": {"a": ["b"]}}', True),  # JSON / JSON
    ],
)
def test_the_body_and_the_pattern_must_agree_on_json(body, pattern, delivered):
    assert compile_filters([pattern], SQS_DATA_KEY).matches(sqs(body)) is delivered


def test_a_body_pattern_inside_or_reads_the_body_as_its_own_kind():
    # [EB] "$or" combines whole sub-patterns: a body of fields in one alternative reads
    # the body as JSON, a body of rules in another as a plain string
    event_filter = compile_filters(
        ['{"$or": [{"body": {"kind": ["order"]}}, {"body": [{"prefix": "ORDER#"}]}]}'],
        SQS_DATA_KEY,
    )
    assert event_filter.matches(sqs('{"kind": "order"}'))
    assert event_filter.matches(sqs("ORDER#12"))
    assert not event_filter.matches(sqs('{"kind": "refund"}'))
    assert not event_filter.matches(sqs("REFUND#12"))


def test_a_plain_body_can_be_matched_by_prefix():
    assert compile_filters(['{"body": [{"prefix": "ORDER#"}]}'], SQS_DATA_KEY).matches(
        sqs("ORDER#12")
    )


# --- patterns Lambda refuses ---------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "says"),
    [
        ("not json", "is not JSON"),
        ("[1]", "must be a JSON object"),
        ('{"a": "b"}', "a: must be a list of rules"),
        ('{"a": {"b": 1}}', "a.b: must be a list of rules"),
        ('{"a": [{"prefix": 1}]}', "a: prefix takes a string"),
        ('{"a": [{"numeric": [">", "1"]}]}', "numeric > needs a number"),
        ('{"a": [{"numeric": ["!", 1]}]}', "numeric operator"),
        ('{"a": [{"numeric": [">", 1, ">", 2]}]}', "one lower"),
        ('{"a": [{"exists": "yes"}]}', "exists must be true or false"),
        ('{"a": [{"anything-but": []}]}', "at least one value"),
        ('{"a": [{"anything-but": ["x", 1]}]}', "strings or numbers"),
        ('{"a": [{"anything-but": {"numeric": [">", 1]}}]}', "anything-but takes values"),
        ('{"a": [{"cidr": "10.0.0.0/33"}]}', "not an IP network"),
        ('{"a": [{"wildcard": "a**b"}]}', "consecutive"),
        ('{"a": [{"contains": "x"}]}', "unknown operator 'contains'"),
        ('{"a": [{"prefix": "x", "suffix": "y"}]}', "one operator"),
        ('{"$or": [{"a": [1]}]}', "two or more"),
        ('{"a": [NaN]}', "is not JSON"),
    ],
)
def test_a_pattern_lambda_refuses_is_a_clear_error(pattern, says):
    with pytest.raises(FilterPatternError, match=r"Filters\[0\]\.Pattern: .*" + _escaped(says)):
        compile_filters([pattern], SQS_DATA_KEY)


def _escaped(text):
    import re

    return re.escape(text)


def test_more_filters_than_lambda_allows_is_an_error():
    with pytest.raises(FilterPatternError, match="11 filters"):
        compile_filters(['{"a": [1]}'] * 11, SQS_DATA_KEY)


def test_a_pattern_longer_than_lambdas_limit_is_an_error():
    with pytest.raises(FilterPatternError, match="4096"):
        compile_filters(['{"a": ["' + "x" * 4100 + '"]}'], SQS_DATA_KEY)


# --- generated input -----------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["a", "b", "$or", "body", "dynamodb"]), children, max_size=4
        )
    ),
    max_leaves=20,
)
operators = st.sampled_from(
    ["prefix", "suffix", "equals-ignore-case", "wildcard", "anything-but", "numeric", "exists",
     "cidr", "nope"]
)  # fmt: skip
rules = st.lists(
    json_values | st.dictionaries(operators, json_values, min_size=1, max_size=2), max_size=3
)
patterns = st.recursive(
    st.dictionaries(st.sampled_from(["a", "b", "body", "dynamodb"]), rules, max_size=3),
    lambda children: st.dictionaries(
        st.sampled_from(["a", "b", "$or", "body", "dynamodb"]),
        children | st.lists(children, max_size=3) | rules,
        max_size=3,
    ),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(
    pattern=patterns | json_values,
    record=json_values,
    body=st.text(max_size=20) | json_values.map(json.dumps),
    data_key=st.sampled_from([SQS_DATA_KEY, STREAM_DATA_KEY]),
)
def test_any_pattern_and_record_give_a_match_or_our_error_never_a_crash(
    pattern, record, body, data_key
):
    try:
        event_filter = compile_filters([json.dumps(pattern)], data_key)
    except FilterPatternError:
        return
    assert event_filter.matches({"record": record, "body": body, "a": record}) in (True, False)


def test_a_body_nested_deeper_than_python_recurses_is_matched_or_dropped_not_raised():
    event_filter = compile_filters(['{"body": {"a": [1]}}'], SQS_DATA_KEY)
    assert not event_filter.matches(sqs("[" * 100_000 + "]" * 100_000))
    assert not event_filter.matches(sqs("[" * 500 + '{"a": 2}' + "]" * 500))
    assert event_filter.matches(sqs("[" * 500 + '{"a": 1}' + "]" * 500))


def test_a_numeric_operator_that_is_not_a_string_is_our_error():
    with pytest.raises(FilterPatternError, match="numeric operator"):
        compile_filters(['{"a": [{"numeric": [[], null]}]}'], SQS_DATA_KEY)
