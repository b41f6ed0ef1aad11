"""Lambda's batch rules: readiness, partial failures, retries, bisection, record age."""

from wslocal.eventsources.batches import (
    RECORD_AGE_EXCEEDED,
    RETRY_ATTEMPTS_EXHAUSTED,
    Attempt,
    RetryPolicy,
    after_failure,
    batch_ready,
    failed_positions,
    first_failure,
    retry_delay_s,
    split_expired,
)

REPORTING = RetryPolicy(report_item_failures=True)


def test_a_full_batch_is_ready_at_once():
    assert batch_ready(10, 10, first_buffered_s=100.0, now_s=100.0, window_s=5)


def test_a_partial_batch_waits_for_its_window():
    assert not batch_ready(3, 10, first_buffered_s=100.0, now_s=104.9, window_s=5)
    assert batch_ready(3, 10, first_buffered_s=100.0, now_s=105.0, window_s=5)


def test_nothing_buffered_is_never_ready():
    assert not batch_ready(0, 10, first_buffered_s=0.0, now_s=100.0, window_s=0)


def test_without_item_failure_reporting_any_result_is_success():
    result = {"batchItemFailures": [{"itemIdentifier": "2"}]}
    assert first_failure(result, ["1", "2"], RetryPolicy()) is None


def test_empty_answers_are_success():
    for result in (None, {}, {"batchItemFailures": []}, {"batchItemFailures": None}):
        assert first_failure(result, ["1", "2"], REPORTING) is None


def test_reported_failures_resume_from_the_lowest_one():
    result = {"batchItemFailures": [{"itemIdentifier": "3"}, {"itemIdentifier": "2"}]}
    assert first_failure(result, ["1", "2", "3"], REPORTING) == 1


def test_an_unreadable_answer_fails_the_whole_batch():
    for result in (
        "nope",
        {"batchItemFailures": "2"},
        {"batchItemFailures": [{"itemIdentifier": "unknown"}]},
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"id": "2"}]},
    ):
        assert first_failure(result, ["1", "2"], REPORTING) == 0


def test_a_queue_keeps_exactly_the_reported_messages():
    result = {"batchItemFailures": [{"itemIdentifier": "c"}, {"itemIdentifier": "a"}]}
    assert failed_positions(result, ["a", "b", "c"], REPORTING) == {0, 2}


def test_an_unreadable_answer_keeps_every_message_of_a_queue_batch():
    result = {"batchItemFailures": [{"itemIdentifier": "a"}, {"itemIdentifier": None}]}
    assert failed_positions(result, ["a", "b"], REPORTING) == {0, 1}


def test_a_failure_retries_from_the_failed_record_and_counts_the_retry():
    plan = after_failure(Attempt(("a", "b", "c")), 1, False, RetryPolicy())
    assert plan.then == (Attempt(("b", "c"), 1),) and plan.discarded is None


def test_retries_stop_at_the_limit_and_the_rest_is_discarded():
    policy = RetryPolicy(maximum_retry_attempts=2)
    plan = after_failure(Attempt(("a", "b"), retries=2), 0, True, policy)
    assert plan.then == ()
    assert plan.discarded is not None
    assert (plan.discarded.records, plan.discarded.condition) == (
        ("a", "b"),
        RETRY_ATTEMPTS_EXHAUSTED,
    )


def test_zero_retries_discards_after_the_first_failure():
    plan = after_failure(Attempt(("a",)), 0, True, RetryPolicy(maximum_retry_attempts=0))
    assert plan.discarded is not None and plan.then == ()


def test_a_function_error_is_bisected_without_spending_a_retry():
    policy = RetryPolicy(bisect_on_error=True, maximum_retry_attempts=1)
    plan = after_failure(Attempt(("a", "b", "c"), retries=1), 0, True, policy)
    assert plan.bisected
    assert plan.then == (Attempt(("a",), 1), Attempt(("b", "c"), 1))


def test_a_single_failing_record_is_retried_not_bisected():
    plan = after_failure(Attempt(("a",)), 0, True, RetryPolicy(bisect_on_error=True))
    assert not plan.bisected and plan.then == (Attempt(("a",), 1),)


def test_reported_item_failures_are_not_bisected():
    policy = RetryPolicy(bisect_on_error=True, report_item_failures=True)
    plan = after_failure(Attempt(("a", "b", "c")), 1, False, policy)
    assert not plan.bisected and plan.then == (Attempt(("b", "c"), 1),)


def test_records_older_than_the_maximum_age_are_split_off():
    policy = RetryPolicy(maximum_record_age_s=60)
    kept, expired = split_expired([10.0, 50.0, 90.0], lambda at: at, now_s=120.0, policy=policy)
    assert (kept, expired) == ((90.0,), (10.0, 50.0))
    assert RECORD_AGE_EXCEEDED == "RecordAgeExceeded"


def test_no_maximum_age_keeps_everything():
    kept, expired = split_expired([0.0], lambda at: at, now_s=1e9, policy=RetryPolicy())
    assert (kept, expired) == ((0.0,), ())


def test_retry_delay_doubles_up_to_a_bound():
    assert [retry_delay_s(n) for n in (1, 2, 3)] == [0.1, 0.2, 0.4]
    assert retry_delay_s(50) == 5.0
