"""The answer parser and its two shells (a kept-alive connection, ``http1``, and sockets
one thread drives, ``kept_alive_sockets``): a body by Content-Length, in chunks or to the
end; interim answers skipped; a connection the answer closes is opened again."""

import contextlib
import http.client
import socket
import threading
import time

import pytest

from chatroom.fanout.http1 import KeptAliveConnection, bodiless_response, parse_response
from chatroom.fanout.kept_alive_sockets import KeptAliveSockets, Waker

REQUEST = b"POST /dev/@connections/a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"


class _Server:
    """Answers each request it reads with the next of ``answers`` (closing the connection
    after an answer ``closing`` names); counts the connections accepted."""

    def __init__(self, answers, closing=()):
        self.answers = list(answers)
        self.closing = set(closing)
        self.accepted = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while self.answers:
            connection, _ = self._listener.accept()
            self.accepted += 1
            with connection:
                self._answer(connection)

    def _answer(self, connection):
        buffer = b""
        while self.answers:
            while REQUEST not in buffer:
                data = connection.recv(65536)
                if not data:
                    return
                buffer += data
            buffer = buffer.split(REQUEST, 1)[1]
            answer = self.answers.pop(0)
            connection.sendall(answer)
            if answer in self.closing:
                return


def exchange(server, times=1):
    connection = KeptAliveConnection("127.0.0.1", server.port)
    return [connection.exchange(REQUEST, 5.0) for _ in range(times)]


def test_a_body_is_read_by_its_content_length_and_the_connection_kept():
    server = _Server([b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"] * 2)
    first, second = exchange(server, 2)
    assert (first.status, first.body, second.body) == (200, b"ok", b"ok")
    assert server.accepted == 1


def test_headers_are_read_by_their_lower_cased_names():
    answer = (
        b"HTTP/1.1 410 Gone\r\nx-amzn-ErrorType: GoneException:http://x\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    (response,) = exchange(_Server([answer]))
    assert (response.status, response.headers["x-amzn-errortype"]) == (
        410,
        "GoneException:http://x",
    )


def test_a_chunked_body_is_joined():
    answer = (
        b"HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'5;ext=1\r\n{"mes\r\n8\r\nsage":1}\r\n0\r\nTrailer: x\r\n\r\n'
    )
    first, second = exchange(_Server([answer, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"]), 2)
    assert (first.status, first.body, second.status) == (403, b'{"message":1}', 200)


def test_an_interim_answer_is_skipped():
    answer = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    (response,) = exchange(_Server([answer]))
    assert (response.status, response.body) == (200, b"ok")


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
    ],
)
def test_an_answer_that_closes_the_connection_has_the_next_request_open_a_new_one(answer):
    server = _Server([answer, answer])
    first, second = exchange(server, 2)
    assert (first.body, second.body, server.accepted) == (b"ok", b"ok", 2)


def test_a_body_without_a_length_is_read_to_the_end_of_the_connection():
    answer = b"HTTP/1.1 500 Oops\r\n\r\nall of it"
    server = _Server([answer], closing=[answer])
    (response,) = exchange(server)
    assert (response.status, response.body) == (500, b"all of it")


def test_a_server_that_closes_without_answering_is_remote_disconnected():
    with pytest.raises(http.client.RemoteDisconnected):
        exchange(_Server([b""], closing=[b""]))


def test_a_body_cut_short_is_an_incomplete_read():
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nok"
    server = _Server([answer], closing=[answer])
    with pytest.raises(http.client.IncompleteRead):
        exchange(server)


def test_a_status_line_that_is_not_http_is_a_bad_status_line():
    with pytest.raises(http.client.BadStatusLine):
        exchange(_Server([b"SSH-2.0-OpenSSH\r\n\r\n"]))


CHUNKED = (
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n"
    b'5;ext=1\r\n{"mes\r\n8\r\nsage":1}\r\n0\r\nTrailer: x\r\n\r\n'
)


def test_an_answer_is_parsed_once_its_last_byte_is_in_and_taken_out_of_the_buffer():
    buffer = bytearray()
    for byte in CHUNKED[:-1]:
        buffer.append(byte)
        assert parse_response(buffer, ended=False) is None
    buffer += CHUNKED[-1:] + b"HTTP/1.1"
    parsed = parse_response(buffer, ended=False)
    assert (parsed.response.status, parsed.response.body, parsed.closes) == (
        403,
        b'{"message":1}',
        False,
    )
    assert buffer == b"HTTP/1.1"


def answers(port, requests, most=1, timeout_s=5.0):
    """What ``KeptAliveSockets.exchange_all`` answered, as (key, response) in order."""
    answered = []
    KeptAliveSockets("127.0.0.1", port).exchange_all(
        iter(requests), lambda key, response: answered.append((key, response)), most, timeout_s
    )
    return answered


def exchange_all(server, times=1):
    return [response for _, response in answers(server.port, [(n, REQUEST) for n in range(times)])]


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        CHUNKED,
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
    ],
)
def test_sockets_one_thread_drives_read_the_answers_a_connection_reads(answer):
    [expected] = exchange(_Server([answer]))
    assert exchange_all(_Server([answer] * 2), times=2) == [expected, expected]


def test_sockets_keep_a_connection_alive_across_requests():
    server = _Server([b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"] * 3)
    assert [r.status for r in exchange_all(server, times=3)] == [200, 200, 200]
    assert server.accepted == 1


def test_a_request_the_server_does_not_answer_in_its_time_gets_none():
    with socket.create_server(("127.0.0.1", 0)) as silent:  # connects, never answers
        started = time.monotonic()
        assert answers(silent.getsockname()[1], [("a", REQUEST)], 4, 0.2) == [("a", None)]
        assert 0.2 <= time.monotonic() - started < 2.0


def test_a_request_to_a_closed_port_gets_none():
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()
    assert answers(port, [("a", REQUEST)], 4, 1.0) == [("a", None)]


def test_a_request_tried_again_on_a_new_connection_keeps_its_deadline():
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    listener = socket.create_server(("127.0.0.1", 0))

    def serve():
        kept, _ = listener.accept()  # answers once, then drops the kept-alive connection late
        kept.recv(65536)
        kept.sendall(ok)
        kept.recv(65536)
        time.sleep(0.7)
        kept.close()
        fresh, _ = listener.accept()  # the request again: answered after its deadline
        fresh.recv(65536)
        time.sleep(0.7)
        with contextlib.suppress(OSError):
            fresh.sendall(ok)
        fresh.close()

    threading.Thread(target=serve, daemon=True).start()
    sockets = KeptAliveSockets("127.0.0.1", listener.getsockname()[1])
    answered = []
    for key in ("first", "again"):
        sockets.exchange_all(
            iter([(key, REQUEST)]), lambda k, response: answered.append((k, response)), 1, 1.0
        )
    assert answered[0][1].status == 200
    assert answered[1] == ("again", None)  # 1.4 s after it began: past its 1 s
    listener.close()


def test_requests_that_wait_start_once_the_waker_is_woken():
    server = _Server([b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"] * 2)
    waker = Waker()
    woken_at = []

    def requests():
        yield "first", REQUEST
        threading.Timer(0.2, lambda: (woken_at.append(time.monotonic()), waker.wake())).start()
        while not woken_at:
            yield None  # none may start until woken (asked again after each answer)
        yield "second", REQUEST

    answered = []
    KeptAliveSockets("127.0.0.1", server.port).exchange_all(
        requests(), lambda key, response: answered.append((key, time.monotonic())), 4, 5.0, waker
    )
    waker.close()
    assert [key for key, _ in answered] == ["first", "second"]
    assert answered[1][1] >= woken_at[0]


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n",
        b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
    ],
)
def test_a_bodiless_answer_is_read_as_the_parser_reads_it(answer):
    parsed = parse_response(bytearray(answer), ended=False)
    assert (bodiless_response(answer), parsed.closes) == (parsed.response, False)


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 410 Gone\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1",
    ],
)
def test_any_other_answer_is_left_to_the_parser(answer):
    assert bodiless_response(answer) is None
