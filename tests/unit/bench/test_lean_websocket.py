"""The bench's lean WebSocket client (bench/lean_websocket.py): server frames however the
reads cut them, and what RFC 6455 asks a client to answer."""

import asyncio

import pytest

from bench.lean_websocket import (
    BINARY,
    CLOSE,
    CONTINUATION,
    PING,
    PONG,
    TEXT,
    Frame,
    FrameParser,
    LeanClient,
    WebSocketError,
    accept_for,
    connect,
)


def server_frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    """An unmasked frame as a server sends it, in the shortest length encoding."""
    first = bytes([(0x80 if fin else 0) | opcode])
    if len(payload) < 126:
        return first + bytes([len(payload)]) + payload
    if len(payload) < 1 << 16:
        return first + bytes([126]) + len(payload).to_bytes(2, "big") + payload
    return first + bytes([127]) + len(payload).to_bytes(8, "big") + payload


def unmasked(frame: bytes) -> Frame:
    """A client's frame read back as a server would: its mask taken off."""
    length, at = frame[1] & 0x7F, 2
    if length == 126:
        length, at = int.from_bytes(frame[2:4], "big"), 4
    elif length == 127:
        length, at = int.from_bytes(frame[2:10], "big"), 10
    assert frame[1] & 0x80, "a client's frame must be masked"
    mask, payload = frame[at : at + 4], frame[at + 4 : at + 4 + length]
    return Frame(
        bool(frame[0] & 0x80),
        frame[0] & 0x0F,
        bytes(b ^ mask[i % 4] for i, b in enumerate(payload)),
    )


class RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []
        self.aborted = False

    def write(self, data: bytes) -> None:  # type: ignore[override]
        self.written.append(bytes(data))

    def is_closing(self) -> bool:
        return self.aborted

    def abort(self) -> None:
        self.aborted = True


def receive(client: LeanClient, data: bytes) -> None:
    """One read from the socket, as asyncio hands it to a buffered protocol."""
    buffer = client.get_buffer(len(data))
    buffer[: len(data)] = data
    client.buffer_updated(len(data))


def handshake_answer(request: bytes, accept: str | None = None) -> bytes:
    key = next(
        line.split(": ", 1)[1]
        for line in request.decode().split("\r\n")
        if line.lower().startswith("sec-websocket-key:")
    )
    return (
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept or accept_for(key)}\r\n\r\n"
    ).encode()


def open_client() -> tuple[LeanClient, RecordingTransport, list[str | bytes]]:
    messages: list[str | bytes] = []
    client = LeanClient("127.0.0.1:1", "/?room=r", messages.append, memoryview(bytearray(1 << 16)))
    transport = RecordingTransport()
    client.connection_made(transport)
    receive(client, handshake_answer(transport.written.pop()))
    return client, transport, messages


def test_a_frame_split_across_reads_comes_out_whole_after_its_last_byte():
    parser = FrameParser()
    frame = server_frame(TEXT, b'{"payload":"bench-1"}')
    assert [parser.feed(frame[i : i + 1]) for i in range(len(frame) - 1)] == [[]] * (len(frame) - 1)
    assert parser.feed(frame[-1:]) == [Frame(True, TEXT, b'{"payload":"bench-1"}')]


def test_every_frame_of_one_read_comes_out_in_order():
    parser = FrameParser()
    read = server_frame(TEXT, b"one") + server_frame(TEXT, b"two") + server_frame(TEXT, b"")
    assert [f.payload for f in parser.feed(read)] == [b"one", b"two", b""]


def test_a_read_ending_inside_the_next_frame_keeps_its_start_for_the_next_read():
    parser = FrameParser()
    second = server_frame(TEXT, b"second")
    assert parser.feed(server_frame(TEXT, b"first") + second[:3]) == [Frame(True, TEXT, b"first")]
    assert parser.feed(second[3:]) == [Frame(True, TEXT, b"second")]


def test_a_16_bit_length_is_read():
    payload = b"x" * 300
    assert FrameParser().feed(server_frame(BINARY, payload)) == [Frame(True, BINARY, payload)]


def test_a_64_bit_length_is_read_across_many_reads():
    payload = bytes(range(256)) * 300  # 76,800 bytes: more than 16 bits can count
    frame = server_frame(BINARY, payload)
    assert frame[1] == 127
    parser = FrameParser()
    frames = [f for at in range(0, len(frame), 1000) for f in parser.feed(frame[at : at + 1000])]
    assert frames == [Frame(True, BINARY, payload)]


def test_a_length_split_in_its_extended_bytes_waits_for_them():
    parser = FrameParser()
    frame = server_frame(TEXT, b"y" * 200)
    assert parser.feed(frame[:3]) == []
    assert parser.feed(frame[3:]) == [Frame(True, TEXT, b"y" * 200)]


def test_a_ping_is_read_as_a_control_frame_with_its_payload():
    assert FrameParser().feed(server_frame(PING, b"are you there")) == [
        Frame(True, PING, b"are you there")
    ]


def test_a_masked_server_frame_is_refused():
    with pytest.raises(WebSocketError):
        FrameParser().feed(bytes([0x81, 0x80 | 1]) + b"mask" + b"x")


async def test_the_handshake_sends_a_fresh_key_and_opens_on_the_matching_accept():
    keys = []
    for _ in range(2):
        client = LeanClient("127.0.0.1:1", "/", lambda message: None, memoryview(bytearray(4096)))
        transport = RecordingTransport()
        client.connection_made(transport)
        request = transport.written.pop()
        keys.append(next(line for line in request.split(b"\r\n") if b"Sec-WebSocket-Key" in line))
        receive(client, handshake_answer(request))
        assert client.opened.done() and client.opened.exception() is None
    assert keys[0] != keys[1]


async def test_a_wrong_sec_websocket_accept_fails_the_handshake():
    client = LeanClient("127.0.0.1:1", "/", lambda message: None, memoryview(bytearray(4096)))
    transport = RecordingTransport()
    client.connection_made(transport)
    receive(client, handshake_answer(transport.written.pop(), accept="bm90IHRoZSBhbnN3ZXI="))
    with pytest.raises(WebSocketError):
        client.opened.result()
    assert transport.aborted


async def test_frames_in_the_same_read_as_the_handshake_are_delivered():
    messages: list[str | bytes] = []
    client = LeanClient("127.0.0.1:1", "/", messages.append, memoryview(bytearray(4096)))
    transport = RecordingTransport()
    client.connection_made(transport)
    receive(client, handshake_answer(transport.written.pop()) + server_frame(TEXT, b"hello"))
    assert messages == ["hello"]


async def test_text_comes_as_str_and_binary_as_bytes():
    client, _, messages = open_client()
    receive(client, server_frame(TEXT, "héllo".encode()) + server_frame(BINARY, b"\x00\x01"))
    assert messages == ["héllo", b"\x00\x01"]


async def test_a_fragmented_message_is_delivered_once_whole_around_a_ping():
    client, transport, messages = open_client()
    receive(client, server_frame(TEXT, b"bench-", fin=False) + server_frame(PING, b"p"))
    receive(client, server_frame(CONTINUATION, b"x-", fin=False))
    assert messages == []
    receive(client, server_frame(CONTINUATION, b"1"))
    assert messages == ["bench-x-1"]
    assert [unmasked(frame) for frame in transport.written] == [Frame(True, PONG, b"p")]


async def test_a_ping_is_answered_with_a_masked_pong_of_the_same_payload():
    client, transport, _ = open_client()
    receive(client, server_frame(PING, b"\x00\x01ping"))
    (pong,) = transport.written
    assert unmasked(pong) == Frame(True, PONG, b"\x00\x01ping")


async def test_a_server_close_is_answered_with_its_status_code_once():
    client, transport, _ = open_client()
    receive(client, server_frame(CLOSE, (1001).to_bytes(2, "big") + b"going away"))
    receive(client, server_frame(CLOSE, (1001).to_bytes(2, "big")))
    assert [unmasked(frame) for frame in transport.written] == [
        Frame(True, CLOSE, (1001).to_bytes(2, "big"))
    ]


async def test_a_sent_message_is_one_masked_text_frame():
    client, transport, _ = open_client()
    await client.send("x" * 70_000)
    (frame,) = transport.written
    assert unmasked(frame) == Frame(True, TEXT, b"x" * 70_000)


async def test_a_handshake_that_times_out_closes_its_socket():
    closed = asyncio.Event()

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await reader.read()  # returns at the client's end of the connection
        closed.set()
        writer.close()

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        with pytest.raises(TimeoutError):
            await connect(f"ws://127.0.0.1:{port}/", lambda message: None, open_timeout=0.05)
        await asyncio.wait_for(closed.wait(), 5)
