import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
from botocore.exceptions import NoCredentialsError

from chatroom import budgets
from chatroom.connections import CONNECT_GRACE_MS, Member
from chatroom.fanout.broadcast import MOST_BETWEEN_TIME_CHECKS_S, Broadcaster, Delivery
from chatroom.fanout.management_api import ManagementApiClients, management_endpoint
from tests.support.management_api import FakeManagementApi

NOW = 1_800_000_000.0
OLD = int(NOW * 1000) - CONNECT_GRACE_MS  # connected long enough ago to have opened


def members(*ids: str, connected_at: int = OLD) -> list[Member]:
    return [Member(connection_id, connected_at) for connection_id in ids]


def broadcaster(**kwargs) -> Broadcaster:
    return Broadcaster(clock=lambda: NOW, **kwargs)


def test_endpoint_is_built_from_the_events_domain_and_stage():
    assert management_endpoint("x.execute-api.eu-west-1.amazonaws.com", "dev", environ={}) == (
        "https://x.execute-api.eu-west-1.amazonaws.com/dev"
    )


def test_botos_endpoint_variable_wins():
    environ = {
        "AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI": "http://127.0.0.1:3001/local",
        "MANAGEMENT_API_ENDPOINT": "https://chat.example.com/v1",
    }
    assert management_endpoint("x", "dev", environ=environ) == "http://127.0.0.1:3001/local"


def test_a_custom_domain_endpoint_can_be_configured():
    environ = {"MANAGEMENT_API_ENDPOINT": "https://chat.example.com/v1"}
    assert management_endpoint("chat.example.com", "dev", environ=environ) == (
        "https://chat.example.com/v1"
    )


def test_one_client_per_endpoint_is_kept_for_the_execution_environment(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI", raising=False)
    clients = ManagementApiClients(boto3.session.Session(), os.environ)
    first = clients.for_request("a.example.com", "dev")
    assert clients.for_request("a.example.com", "dev") is first
    assert clients.for_request("b.example.com", "dev") is not first


def test_broadcast_delivers_to_every_connection():
    api = FakeManagementApi()
    result = broadcaster().broadcast(api, b"hello", members("a", "b", "c"))
    assert (result.delivered, result.gone, result.failed) == (3, (), 0)
    assert sorted(target for target, _ in api.posts) == ["a", "b", "c"]
    assert {data for _, data in api.posts} == {b"hello"}


def test_a_410_names_exactly_the_gone_connection():
    # moto's management API never answers 410: the fake plays API Gateway here.
    api = FakeManagementApi(gone={"b"})
    result = broadcaster().broadcast(api, b"hello", members("a", "b", "c"))
    assert (result.delivered, result.gone) == (2, ("b",))


def test_a_410_from_a_connection_still_in_connect_is_not_gone():
    # On AWS a post to a connection whose $connect is still running answers 410; the
    # connection opens a moment later and must stay in the room.
    api = FakeManagementApi(gone={"b"})
    young = members("a", "c") + members("b", connected_at=int(NOW * 1000) - 1000)
    result = broadcaster().broadcast(api, b"hello", young)
    assert result.gone == ()


def test_failed_posts_are_counted_and_not_gone():
    api = FakeManagementApi(failing={"c"})
    result = broadcaster().broadcast(api, b"x", members("a", "b", "c"))
    assert (result.delivered, result.failed, result.gone) == (2, 1, ())


def test_broadcast_to_nobody_posts_nothing():
    api = FakeManagementApi()
    result = broadcaster().broadcast(api, b"x", [])
    assert (result.delivered, result.gone, result.failed) == (0, (), 0)
    assert api.posts == []


def test_fan_out_runs_posts_concurrently_with_a_bound():
    running, peak, lock = 0, 0, threading.Lock()
    release = threading.Event()

    class SlowApi(FakeManagementApi):
        def post_to_connection(self, ConnectionId, Data, timeout_s=None):
            nonlocal running, peak
            with lock:
                running += 1
                peak = max(peak, running)
            release.wait(0.05)
            with lock:
                running -= 1
            return super().post_to_connection(ConnectionId=ConnectionId, Data=Data)

    recipients = members(*(str(i) for i in range(20)))
    result = broadcaster(max_workers=4).broadcast(SlowApi(), b"x", recipients)
    assert result.delivered == 20
    assert 1 < peak <= 4


def test_post_reports_gone_for_a_410():
    assert Broadcaster().post(FakeManagementApi(gone={"a"}), "a", b"x") is Delivery.GONE


def test_no_post_starts_when_the_invocations_time_is_short():
    api = FakeManagementApi()
    short = budgets.RESERVE_S - 0.1
    result = broadcaster().broadcast(api, b"x", members("a", "b"), remaining=lambda: short)
    assert [m.connection_id for m in result.deferred] == ["a", "b"]
    assert (result.delivered, result.failed, api.posts) == (0, 0, [])


def test_failed_members_are_named_for_the_caller_to_retry():
    api = FakeManagementApi(failing={"b"})
    result = broadcaster().broadcast(api, b"x", members("a", "b"))
    assert [m.connection_id for m in result.failed_members] == ["b"]


class _Answers(BaseHTTPRequestHandler):
    """Answers each POST with the next status of ``statuses`` (then 200)."""

    statuses: list[int]
    hits: list[str]

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.hits.append(self.path)
        status = self.statuses.pop(0) if self.statuses else 200
        body = b'{"message":"no"}' if status != 200 else b""
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def answering(monkeypatch):
    """A local @connections that answers the statuses a test gives, and its client."""
    _Answers.hits = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answers)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_port}/dev"
    monkeypatch.setenv("AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI", endpoint)
    yield ManagementApiClients(boto3.session.Session(), os.environ).for_request(
        "unused.example.com", "dev"
    )
    server.shutdown()


def test_a_403_fails_at_once_without_a_retry(answering):
    _Answers.statuses = [403]
    assert Broadcaster().post(answering, "a", b"x") is Delivery.FAILED
    assert len(_Answers.hits) == 1


def test_a_5xx_is_retried_at_most_three_times_in_all(answering):
    _Answers.statuses = [503, 503, 503, 503]
    assert Broadcaster().post(answering, "a", b"x") is Delivery.FAILED
    assert len(_Answers.hits) == 3


def test_no_retry_starts_past_the_invocations_reserve(answering):
    _Answers.statuses = [503, 200]
    enough = budgets.RESERVE_S + 0.5
    short = budgets.RESERVE_S - 1.0
    times = iter([enough, short, short])  # enough to start, then short
    assert Broadcaster().post(answering, "a", b"x", lambda: next(times)) is Delivery.FAILED
    assert len(_Answers.hits) == 1


class _TooManyThenOk(BaseHTTPRequestHandler):
    """Answers 429 (LimitExceededException) to the first POST, then 200."""

    hits: list[str]

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.hits.append(self.path)
        if len(self.hits) == 1:
            body = b'{"message":"Too many requests"}'
            self.send_response(429)
            self.send_header("x-amzn-ErrorType", "LimitExceededException")
        else:
            body = b""
            self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_429_is_retried_with_jitter(monkeypatch):
    _TooManyThenOk.hits = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _TooManyThenOk)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_port}/dev"
        monkeypatch.setenv("AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI", endpoint)
        client = ManagementApiClients(boto3.session.Session(), os.environ).for_request(
            "unused.example.com", "dev"
        )
        assert Broadcaster().post(client, "a", b"x") is Delivery.DELIVERED
        assert _TooManyThenOk.hits == ["/dev/@connections/a", "/dev/@connections/a"]
    finally:
        server.shutdown()


class _KeptAlive(BaseHTTPRequestHandler):
    """A kept-alive @connections: answers each member's POSTs with the next status of
    ``statuses[member]`` (then 200); 0 closes the connection without answering."""

    protocol_version = "HTTP/1.1"
    statuses: dict[str, list[int]]
    delays: dict[str, float]
    hits: list[str]
    drop_idle = False
    """Close each connection after its answer without saying so, as a server does to a
    kept-alive connection left idle past its timeout."""

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        member = self.path.rsplit("/", 1)[1]
        self.hits.append(member)
        time.sleep(self.delays.get(member, 0.0))
        answers = self.statuses.get(member, [])
        status = answers.pop(0) if answers else 200
        if status == 0:
            self.close_connection = True
            return
        body = b"" if status == 200 else b'{"message":"no"}'
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = self.drop_idle

    def log_message(self, *args):
        pass


@pytest.fixture
def kept_alive():
    """A local kept-alive @connections and the layer's client for it (the one-thread path)."""
    _KeptAlive.statuses, _KeptAlive.delays, _KeptAlive.hits = {}, {}, []
    _KeptAlive.drop_idle = False
    server = ThreadingHTTPServer(("127.0.0.1", 0), _KeptAlive)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    environ = {
        "AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI": f"http://127.0.0.1:{server.server_port}/dev"
    }
    yield ManagementApiClients(boto3.session.Session(), environ).configured()
    server.shutdown()


@pytest.fixture
def posts_in_threads(monkeypatch):
    """The members ``Broadcaster.post`` was called for (the threaded path's attempts)."""
    posted: list[str] = []
    real_post = Broadcaster.post

    def post(self, client, connection_id, *args, **kwargs):
        posted.append(connection_id)
        return real_post(self, client, connection_id, *args, **kwargs)

    monkeypatch.setattr(Broadcaster, "post", post)
    return posted


def test_first_attempts_go_from_one_thread_and_deliver_to_every_member(
    kept_alive, posts_in_threads
):
    ids = [f"m{i}" for i in range(40)]
    result = broadcaster(max_workers=8).broadcast(kept_alive, b"hello", members(*ids))
    assert (result.delivered, result.gone, result.failed, result.deferred) == (40, (), 0, ())
    assert sorted(_KeptAlive.hits) == sorted(ids)
    assert posts_in_threads == []


def test_a_410_on_a_first_attempt_is_gone(kept_alive, posts_in_threads):
    _KeptAlive.statuses = {"b": [410]}
    result = broadcaster().broadcast(kept_alive, b"hello", members("a", "b", "c"))
    assert (result.delivered, result.gone, result.failed) == (2, ("b",), 0)
    assert posts_in_threads == []


def test_a_410_on_a_first_attempt_from_a_connection_still_in_connect_is_not_gone(kept_alive):
    _KeptAlive.statuses = {"b": [410]}
    young = members("a") + members("b", connected_at=int(NOW * 1000) - 1000)
    result = broadcaster().broadcast(kept_alive, b"hello", young)
    assert (result.delivered, result.gone, result.failed) == (1, (), 0)


def test_a_403_on_a_first_attempt_fails_without_a_retry(kept_alive, posts_in_threads):
    _KeptAlive.statuses = {"b": [403]}
    result = broadcaster().broadcast(kept_alive, b"hello", members("a", "b"))
    assert [m.connection_id for m in result.failed_members] == ["b"]
    assert (_KeptAlive.hits.count("b"), posts_in_threads) == (1, [])


def test_a_5xx_on_a_first_attempt_is_retried_in_the_threads_and_delivered(
    kept_alive, posts_in_threads
):
    _KeptAlive.statuses = {"b": [500]}
    result = broadcaster().broadcast(kept_alive, b"hello", members("a", "b", "c"))
    assert (result.delivered, result.failed) == (3, 0)
    assert (_KeptAlive.hits.count("b"), posts_in_threads) == (2, ["b"])


def test_a_5xx_is_retried_at_once_not_after_the_slowest_first_attempt(kept_alive):
    # The POST budget (4 s) has room for a retry (a pause and a 3 s attempt) only in the
    # first second after the first attempt: waiting for a member answering in 1.2 s
    # would leave b none.
    _KeptAlive.statuses, _KeptAlive.delays = {"b": [500]}, {"slow": 1.2}
    result = broadcaster().broadcast(kept_alive, b"hello", members("slow", "b"))
    assert (result.delivered, result.failed) == (2, 0)


def test_a_5xx_is_tried_at_most_three_times_in_all_first_attempt_included(kept_alive):
    _KeptAlive.statuses = {"b": [503, 503, 503, 503]}
    result = broadcaster().broadcast(kept_alive, b"hello", members("a", "b"))
    assert [m.connection_id for m in result.failed_members] == ["b"]
    assert _KeptAlive.hits.count("b") == 3


def test_no_answer_on_a_first_attempt_is_retried_in_the_threads(kept_alive, posts_in_threads):
    _KeptAlive.statuses = {"b": [0]}
    result = broadcaster().broadcast(kept_alive, b"hello", members("a", "b", "c"))
    assert (result.delivered, result.failed) == (3, 0)
    assert posts_in_threads == ["b"]


def test_kept_alive_connections_the_server_dropped_are_replaced_without_a_retry(
    kept_alive, posts_in_threads
):
    _KeptAlive.drop_idle = True
    ids = [f"m{i}" for i in range(10)]
    first = broadcaster(max_workers=4).broadcast(kept_alive, b"one", members(*ids))
    second = broadcaster(max_workers=4).broadcast(kept_alive, b"two", members(*ids))
    assert (first.delivered, second.delivered) == (10, 10)
    assert sorted(_KeptAlive.hits) == sorted(ids * 2)
    assert posts_in_threads == []


def test_no_first_attempt_starts_when_the_invocations_time_is_short(kept_alive):
    short = budgets.RESERVE_S - 0.1
    result = broadcaster().broadcast(kept_alive, b"x", members("a", "b"), remaining=lambda: short)
    assert [m.connection_id for m in result.deferred] == ["a", "b"]
    assert (result.delivered, result.failed, _KeptAlive.hits) == (0, 0, [])


def test_members_reached_once_time_runs_short_are_deferred(kept_alive):
    _KeptAlive.delays = {"a": 0.3}
    ends = time.monotonic() + budgets.RESERVE_S + 0.2
    result = broadcaster(max_workers=1).broadcast(
        kept_alive, b"x", members("a", "b", "c"), remaining=lambda: ends - time.monotonic()
    )
    assert [m.connection_id for m in result.deferred] == ["b", "c"]
    assert (result.delivered, _KeptAlive.hits) == (1, ["a"])


def test_first_attempts_read_the_time_left_once_while_it_is_far_from_the_reserve(kept_alive):
    reads = []

    def remaining() -> float:
        reads.append(time.monotonic())
        return budgets.RESERVE_S + 60.0

    result = broadcaster(max_workers=4).broadcast(
        kept_alive, b"x", members(*(f"m{i}" for i in range(12))), remaining=remaining
    )
    assert result.delivered == 12
    assert len(reads) <= 1 + (reads[-1] - reads[0]) / MOST_BETWEEN_TIME_CHECKS_S


def test_a_time_left_that_drops_faster_than_the_clock_is_read_again_within_the_bound(
    kept_alive,
):
    _KeptAlive.delays = {"a": MOST_BETWEEN_TIME_CHECKS_S + 0.05}
    left = iter([budgets.RESERVE_S + 60.0] + [budgets.RESERVE_S - 0.1] * 2)
    result = broadcaster(max_workers=1).broadcast(
        kept_alive, b"x", members("a", "b", "c"), remaining=lambda: next(left)
    )
    assert [m.connection_id for m in result.deferred] == ["b", "c"]
    assert (result.delivered, _KeptAlive.hits) == (1, ["a"])


def test_a_member_whose_request_cannot_be_signed_fails_and_the_others_are_delivered(
    kept_alive, monkeypatch
):
    real = type(kept_alive).request_bytes

    def request_bytes(self, connection_id, data):
        if connection_id == "b":
            raise NoCredentialsError()
        return real(self, connection_id, data)

    monkeypatch.setattr(type(kept_alive), "request_bytes", request_bytes)
    result = broadcaster().broadcast(kept_alive, b"hello", members("a", "b", "c"))
    assert (result.delivered, result.failed) == (2, 1)
    assert [m.connection_id for m in result.failed_members] == ["b"]
    assert sorted(_KeptAlive.hits) == ["a", "c"]


class _CountsPostsInFlight(BaseHTTPRequestHandler):
    """A kept-alive @connections that answers each member's first POST 500 and the next
    200, each after ``delay_s``, and counts the POSTs it holds at once."""

    protocol_version = "HTTP/1.1"
    delay_s = 0.2
    lock = threading.Lock()
    holding = 0
    most_held = 0
    hits: list[str]

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        member = self.path.rsplit("/", 1)[1]
        cls = type(self)
        with cls.lock:
            cls.hits.append(member)
            first = cls.hits.count(member) == 1
            cls.holding += 1
            cls.most_held = max(cls.most_held, cls.holding)
        time.sleep(self.delay_s)
        with cls.lock:
            cls.holding -= 1
        self.send_response(500 if first else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_first_attempts_and_retries_share_the_bound_of_posts_in_flight():
    # Members each answer 500 once: while their retries are under way in the pool's
    # threads, first attempts to the others wait for them, so never more than
    # max_workers posts are in flight, though all are delivered.
    _CountsPostsInFlight.hits, _CountsPostsInFlight.holding = [], 0
    _CountsPostsInFlight.most_held = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CountsPostsInFlight)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    environ = {
        "AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI": f"http://127.0.0.1:{server.server_port}/dev"
    }
    client = ManagementApiClients(boto3.session.Session(), environ).configured()
    try:
        ids = [f"m{i}" for i in range(8)]
        result = broadcaster(max_workers=4).broadcast(client, b"hello", members(*ids))
    finally:
        server.shutdown()
    assert (result.delivered, result.failed) == (8, 0)
    assert sorted(_CountsPostsInFlight.hits) == sorted(ids * 2)
    assert _CountsPostsInFlight.most_held <= 4


class _HoldsARetry(BaseHTTPRequestHandler):
    """A kept-alive @connections where ``held`` answers 500, then holds its retry until
    every other member was posted; ``m1`` answers only once that retry has come, so it
    ends while the retry holds a place."""

    protocol_version = "HTTP/1.1"
    others: set[str]
    hits: list[str]
    retry_came: threading.Event
    others_posted: threading.Event
    released_by_the_others = False

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        member = self.path.rsplit("/", 1)[1]
        cls = type(self)
        cls.hits.append(member)
        status = 200
        if member == "held" and cls.hits.count("held") == 1:
            status = 500
        elif member == "held":
            cls.retry_came.set()
            cls.released_by_the_others = cls.others_posted.wait(timeout=2.0)
        elif member == "m1":
            cls.retry_came.wait(timeout=2.0)
        if cls.others <= set(cls.hits):
            cls.others_posted.set()
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_first_attempt_that_ends_lets_the_next_start_while_a_retry_holds_the_bound():
    # max_workers=2: held's retry and m1's first attempt fill the bound; when m1 ends, the
    # next members start at once, not once held's retry is done.
    ids = ["m1", "m2", "m3", "m4"]
    _HoldsARetry.others, _HoldsARetry.hits = set(ids), []
    _HoldsARetry.retry_came, _HoldsARetry.others_posted = threading.Event(), threading.Event()
    _HoldsARetry.released_by_the_others = False
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HoldsARetry)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    environ = {
        "AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI": f"http://127.0.0.1:{server.server_port}/dev"
    }
    client = ManagementApiClients(boto3.session.Session(), environ).configured()
    try:
        result = broadcaster(max_workers=2).broadcast(client, b"hi", members("held", *ids))
    finally:
        server.shutdown()
    assert (result.delivered, result.failed) == (5, 0)
    assert _HoldsARetry.released_by_the_others
