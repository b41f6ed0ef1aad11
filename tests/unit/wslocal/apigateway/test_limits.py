from wslocal.apigateway.limits import Limits, seconds_until_timeout, timeout_reason


def test_defaults_are_api_gateways():
    limits = Limits()
    assert limits.max_message_bytes == 128 * 1024
    assert limits.max_frame_bytes == 32 * 1024
    assert limits.idle_timeout == 600
    assert limits.max_duration == 7200
    assert limits.websocket_max_size == (131072, 32768)


def test_idle_timeout_counts_from_the_last_activity():
    limits = Limits(idle_timeout=10, max_duration=100)
    assert seconds_until_timeout(limits, now=15, connected_at=0, last_active_at=8) == 3


def test_maximum_duration_counts_from_the_connect():
    limits = Limits(idle_timeout=10, max_duration=20)
    assert seconds_until_timeout(limits, now=18, connected_at=0, last_active_at=17) == 2


def test_expired_connection_has_no_time_left():
    limits = Limits(idle_timeout=1, max_duration=100)
    assert seconds_until_timeout(limits, now=5, connected_at=0, last_active_at=0) < 0


def test_timeout_reason_names_the_limit_that_ran_out():
    limits = Limits(idle_timeout=10, max_duration=20)
    assert "idle" in timeout_reason(limits, now=11, connected_at=0)
    assert "maximum connection duration" in timeout_reason(limits, now=20, connected_at=0)
