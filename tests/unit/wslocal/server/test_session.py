"""The frames a session writes itself are the ones websockets would write."""

import pytest
from websockets.frames import Frame, Opcode

from wslocal.server.session import data_frame


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 200_000])
def test_a_text_message_is_framed_as_websockets_frames_it(size):
    data = b"a" * size
    assert data_frame(data) == Frame(Opcode.TEXT, data).serialize(mask=False, extensions=[])


def test_utf_8_beyond_ascii_is_still_text():
    data = "héllo, 世界".encode()
    assert data_frame(data) == Frame(Opcode.TEXT, data).serialize(mask=False, extensions=[])


def test_bytes_that_are_not_utf_8_are_a_binary_frame():
    data = b"\xff\xfe\x00binary"
    assert data_frame(data) == Frame(Opcode.BINARY, data).serialize(mask=False, extensions=[])
