"""The retry loop's attempts continued from a first attempt made elsewhere (the
broadcast's one thread)."""

from chatroom.retry import RetryPolicy, attempts

POLICY = RetryPolicy(attempts=3, budget_s=4.0, attempt_timeout_s=3.0)


def no_pause(seconds: float) -> None:
    pass


def test_attempts_made_elsewhere_count_against_the_policys_attempts():
    made = attempts(POLICY, made=1, started_at=10.0, clock=lambda: 10.0, sleep=no_pause)
    assert [attempt.number for attempt in made] == [1, 2]


def test_the_budget_counts_from_the_first_attempt_made_elsewhere():
    # 1.5 s after the first attempt, a pause and a whole 3 s attempt no longer fit in 4 s.
    made = attempts(POLICY, made=1, started_at=10.0, clock=lambda: 11.5, sleep=no_pause)
    assert list(made) == []
