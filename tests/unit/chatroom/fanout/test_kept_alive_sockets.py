"""Pipelined posts on kept-alive sockets one thread drives: several requests in flight on a
connection, their answers taken in order, and the recovery RFC 9112 asks of a client that
pipelines (requests behind a closing answer or a dropped connection written again;
requests on a connection that never answered, or behind a late answer, get none)."""

import errno
import socket
import struct
import threading
import time

from chatroom.fanout import kept_alive_sockets
from chatroom.fanout.kept_alive_sockets import KeptAliveSockets

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"


def request(key: str, body: bytes = b"hi") -> bytes:
    head = f"POST /dev/@connections/{key} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


def answer(body: bytes, *headers: str) -> bytes:
    head = "".join(f"{header}\r\n" for header in (f"Content-Length: {len(body)}", *headers))
    return f"HTTP/1.1 200 OK\r\n{head}\r\n".encode() + body


class _Scripted:
    """Runs the next of ``scripts`` on each connection it accepts, each in its own thread;
    a script is given the connection and a reader of whole requests (``read(n)`` returns
    the next ``n`` requests' paths' last part). Counts the connections accepted."""

    def __init__(self, *scripts):
        self.scripts = list(scripts)
        self.accepted = 0
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while self.scripts:
            connection, _ = self.listener.accept()
            with self.lock:
                self.accepted += 1
            script = self.scripts.pop(0)
            threading.Thread(target=self._run, args=(script, connection), daemon=True).start()

    def _run(self, script, connection):
        with connection:
            script(connection, _Requests(connection))


class _Requests:
    """Whole requests read from a connection (their bodies' length from Content-Length)."""

    def __init__(self, connection):
        self.connection = connection
        self.buffer = b""

    def read(self, count):
        keys = []
        while len(keys) < count:
            key = self._take()
            if key is not None:
                keys.append(key)
                continue
            self._receive()
        return keys

    def read_all_sent(self):
        """Every whole request the client has sent so far (one at least)."""
        keys = self.read(1)
        self.connection.settimeout(0.05)
        try:
            while True:
                while (key := self._take()) is not None:
                    keys.append(key)
                self._receive()
        except TimeoutError:
            return keys
        finally:
            self.connection.settimeout(None)

    def _take(self):
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = self.buffer[:end].decode()
        length = int(head.lower().split("content-length: ")[1].split("\r\n")[0])
        if len(self.buffer) < end + 4 + length:
            return None
        self.buffer = self.buffer[end + 4 + length :]
        return head.split(" ")[1].rsplit("/", 1)[1]

    def _receive(self):
        data = self.connection.recv(65536)
        if not data:
            raise ConnectionError("the client closed")
        self.buffer += data


def exchange(port, keys, most, depth, timeout_s=5.0, sockets=None, body=b"hi"):
    """What ``exchange_all`` answered, as ``{key: response}``, in the order answered;
    every key answered exactly once."""
    answered = []
    (sockets or KeptAliveSockets("127.0.0.1", port)).exchange_all(
        iter([(key, request(key, body)) for key in keys]),
        lambda key, response: answered.append((key, response)),
        most,
        timeout_s,
        depth=depth,
    )
    assert sorted(key for key, _ in answered) == sorted(keys)
    return dict(answered)


def test_requests_on_a_connection_are_written_before_the_first_answer_is_read():
    def answers_once_all_four_are_in(connection, requests):
        requests.read(4)
        connection.sendall(OK * 4)

    server = _Scripted(answers_once_all_four_are_in)
    answered = exchange(server.port, "abcd", most=4, depth=4, timeout_s=2.0)
    assert [(key, r.status) for key, r in answered.items()] == [(k, 200) for k in "abcd"]
    assert server.accepted == 1


def test_answers_read_together_go_to_their_requests_in_order():
    def answers_together(connection, requests):
        keys = requests.read(3)
        connection.sendall(b"".join(answer(key.encode()) for key in keys))

    answered = exchange(_Scripted(answers_together).port, "xyz", most=3, depth=3)
    assert {key: response.body for key, response in answered.items()} == {
        "x": b"x",
        "y": b"y",
        "z": b"z",
    }


def test_the_local_stages_answers_read_together_are_one_object_as_the_parser_reads_it():
    def answers_together(connection, requests):
        requests.read(5)
        connection.sendall(OK * 5)

    answered = exchange(_Scripted(answers_together).port, "abcde", most=5, depth=5)
    responses = list(answered.values())
    assert all(response is responses[0] for response in responses)
    assert (responses[0].status, responses[0].headers, responses[0].body) == (
        200,
        {"content-length": "0"},
        b"",
    )


def test_requests_behind_an_answer_that_closes_are_written_again_on_a_new_connection():
    seen = []

    def closes_after_the_first(connection, requests):
        requests.read(3)
        connection.sendall(answer(b"", "Connection: close"))

    def answers_the_rest(connection, requests):
        seen.extend(requests.read(2))
        connection.sendall(OK * 2)

    server = _Scripted(closes_after_the_first, answers_the_rest)
    answered = exchange(server.port, "abc", most=3, depth=3)
    assert [(key, r.status) for key, r in answered.items()] == [("a", 200), ("b", 200), ("c", 200)]
    assert (seen, server.accepted) == (["b", "c"], 2)


def test_requests_unanswered_when_a_connection_that_answered_drops_are_written_again():
    def drops_after_the_first(connection, requests):
        requests.read(3)
        connection.sendall(OK)

    def answers_the_rest(connection, requests):
        requests.read(2)
        connection.sendall(OK * 2)

    server = _Scripted(drops_after_the_first, answers_the_rest)
    answered = exchange(server.port, "abc", most=3, depth=3)
    assert [response.status for response in answered.values()] == [200, 200, 200]
    assert server.accepted == 2


def test_requests_on_a_connection_that_drops_before_any_answer_get_none_at_once():
    def drops(connection, requests):
        requests.read(3)

    server = _Scripted(drops, drops)
    started = time.monotonic()
    answered = exchange(server.port, "abc", most=3, depth=3)
    assert answered == {"a": None, "b": None, "c": None}
    assert server.accepted == 1  # left to the caller's retries, which wait between attempts
    assert time.monotonic() - started < 1.0


def test_a_late_answer_fails_the_requests_behind_it_on_its_connection_only():
    def never_answers(connection, requests):
        requests.read(3)
        time.sleep(1.0)

    def answers(connection, requests):
        requests.read(3)
        connection.sendall(OK * 3)

    server = _Scripted(never_answers, answers)
    answered = exchange(server.port, "abcdef", most=6, depth=3, timeout_s=0.3)
    # spread side by side: a, c, e on the first connection, b, d, f on the second
    assert {key for key, response in answered.items() if response is None} == {"a", "c", "e"}
    assert {key for key, response in answered.items() if response is not None} == {"b", "d", "f"}


def test_no_more_than_most_requests_are_in_flight_on_most_over_depth_connections():
    lock = threading.Lock()
    outstanding = [0, 0]  # now, most seen

    def answers_all_sent_late(connection, requests):
        while True:
            try:
                keys = requests.read_all_sent()
            except ConnectionError:
                return
            with lock:
                outstanding[0] += len(keys)
                outstanding[1] = max(outstanding)
            time.sleep(0.01)
            with lock:
                outstanding[0] -= len(keys)
            connection.sendall(OK * len(keys))

    server = _Scripted(*[answers_all_sent_late] * 8)
    keys = [f"m{n}" for n in range(40)]
    answered = exchange(server.port, keys, most=5, depth=2)
    assert [response.status for response in answered.values()] == [200] * 40
    assert 2 < outstanding[1] <= 5  # several at once on a connection, never over the bound
    assert server.accepted == 3


def test_a_few_requests_go_side_by_side_rather_than_one_behind_a_slow_answer():
    def answers_a_late(connection, requests):
        while True:
            try:
                [key] = requests.read(1)
            except ConnectionError:
                return
            time.sleep(0.5 if key == "a" else 0.0)
            connection.sendall(OK)

    server = _Scripted(answers_a_late, answers_a_late)
    answered = exchange(server.port, "ab", most=32, depth=8)
    assert list(answered) == ["b", "a"]
    assert server.accepted == 2


def test_requests_too_big_for_one_send_are_written_whole_while_answers_come_back():
    body = b"x" * (1024 * 1024)
    received = []

    def answers_each_as_read(connection, requests):
        for _ in range(4):
            received.extend(requests.read(1))
            connection.sendall(answer(b"y" * (256 * 1024)))

    server = _Scripted(answers_each_as_read)
    answered = exchange(server.port, "abcd", most=4, depth=4, body=body)
    assert received == ["a", "b", "c", "d"]
    assert [len(response.body) for response in answered.values()] == [256 * 1024] * 4


def test_a_connection_left_open_is_used_again_by_the_next_call():
    def answers(connection, requests):
        requests.read(2)
        connection.sendall(OK * 2)
        requests.read(2)
        connection.sendall(OK * 2)

    server = _Scripted(answers)
    sockets = KeptAliveSockets("127.0.0.1", server.port)
    first = exchange(server.port, "ab", most=2, depth=2, sockets=sockets)
    second = exchange(server.port, "cd", most=2, depth=2, sockets=sockets)
    assert [r.status for r in [*first.values(), *second.values()]] == [200] * 4
    assert server.accepted == 1


def test_an_answer_no_request_asked_for_closes_the_connection():
    def answers_twice(connection, requests):
        requests.read(1)
        connection.sendall(OK * 2)
        time.sleep(0.5)

    def answers(connection, requests):
        requests.read(1)
        connection.sendall(OK)

    server = _Scripted(answers_twice, answers)
    sockets = KeptAliveSockets("127.0.0.1", server.port)
    exchange(server.port, "a", most=1, depth=2, sockets=sockets)
    assert exchange(server.port, "b", most=1, depth=2, sockets=sockets)["b"].status == 200
    assert server.accepted == 2


def test_every_request_is_answered_when_no_connection_can_be_opened(monkeypatch):
    def too_many_open_files(self):
        raise OSError(errno.EMFILE, "Too many open files")

    monkeypatch.setattr(kept_alive_sockets._Drive, "_connect", too_many_open_files)
    keys = [f"m{n}" for n in range(10)]
    assert exchange(1, keys, most=2, depth=1) == {key: None for key in keys}


def test_a_kept_connection_the_server_reset_has_each_request_answered_once_on_a_new_one():
    reset = threading.Event()

    def answers_then_resets(connection, requests):
        requests.read(1)
        connection.sendall(OK)
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        connection.close()
        reset.set()

    seen = []

    def answers(connection, requests):
        seen.extend(requests.read(3))
        connection.sendall(OK * 3)

    server = _Scripted(answers_then_resets, answers)
    sockets = KeptAliveSockets("127.0.0.1", server.port)
    exchange(server.port, "a", most=3, depth=3, sockets=sockets)
    assert reset.wait(5)
    again = exchange(server.port, "bcd", most=3, depth=3, sockets=sockets)
    assert [response.status for response in again.values()] == [200, 200, 200]
    assert (sorted(seen), server.accepted) == (["b", "c", "d"], 2)


def test_answers_that_close_one_after_another_end_with_every_request_answered():
    def answers_one_and_closes(connection, requests):
        requests.read_all_sent()
        connection.sendall(answer(b"", "Connection: close"))

    server = _Scripted(*[answers_one_and_closes] * 4)
    answered = exchange(server.port, "abcd", most=4, depth=4)
    assert [response.status for response in answered.values()] == [200] * 4
    assert server.accepted == 4


def test_a_request_whose_connect_fails_goes_on_a_connection_with_room(monkeypatch):
    real_connect = kept_alive_sockets._Drive._connect
    connects = []

    def only_the_first_connects(self):
        connects.append(1)
        if len(connects) > 1:
            raise OSError(errno.EMFILE, "Too many open files")
        return real_connect(self)

    def answers_all_sent(connection, requests):
        while True:
            try:
                keys = requests.read_all_sent()
            except ConnectionError:
                return
            connection.sendall(OK * len(keys))

    monkeypatch.setattr(kept_alive_sockets._Drive, "_connect", only_the_first_connects)
    server = _Scripted(answers_all_sent)
    answered = exchange(server.port, "ab", most=4, depth=2)
    assert [response.status for response in answered.values()] == [200, 200]
    assert server.accepted == 1
