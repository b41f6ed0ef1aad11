"""RateLimiter: N messages per sender per window, counted in DynamoDB (moto)."""

from chatroom.rate_limit import RateLimit, RateLimiter

NOW_S = 1_800_000_000.0


def test_a_connection_may_send_its_limit_in_a_window_and_no_more(chat_tables):
    limiter = RateLimiter(chat_tables.messages, RateLimit(limit=3, window_s=10))
    answers = [limiter.admit("c1", NOW_S + i * 0.1) for i in range(5)]
    assert answers == [True, True, True, False, False]


def test_the_next_window_starts_counting_again(chat_tables):
    limiter = RateLimiter(chat_tables.messages, RateLimit(limit=1, window_s=10))
    assert limiter.admit("c1", NOW_S)
    assert not limiter.admit("c1", NOW_S + 1)
    assert limiter.admit("c1", NOW_S + 10)


def test_each_connection_has_its_own_count(chat_tables):
    limiter = RateLimiter(chat_tables.messages, RateLimit(limit=1, window_s=10))
    assert limiter.admit("c1", NOW_S)
    assert limiter.admit("c2", NOW_S)


def test_a_limit_of_zero_turns_it_off(chat_tables):
    limiter = RateLimiter(chat_tables.messages, RateLimit(limit=0))
    assert all(limiter.admit("c1", NOW_S) for _ in range(50))


def test_counters_are_not_part_of_any_rooms_history(chat_tables):
    from chatroom.messages import MessageStore

    RateLimiter(chat_tables.messages).admit("ip:10.0.0.1:alice", NOW_S)
    assert MessageStore(table=chat_tables.messages).recent("lobby", now_s=NOW_S) == []


class CountingWrites:
    """The messages table, counting UpdateItem calls."""

    def __init__(self, table) -> None:
        self._table = table
        self.updates = 0

    def update_item(self, **kwargs):
        self.updates += 1
        return self._table.update_item(**kwargs)


def test_a_refused_send_costs_one_conditional_write(chat_tables):
    table = CountingWrites(chat_tables.messages)
    limiter = RateLimiter(table, RateLimit(limit=2, window_s=10))
    assert limiter.admit("ip:10.0.0.1:alice", NOW_S) and limiter.admit("ip:10.0.0.1:alice", NOW_S)
    table.updates = 0
    assert not limiter.admit("ip:10.0.0.1:alice", NOW_S + 1)
    assert table.updates == 1
