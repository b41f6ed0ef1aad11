import pytest

from wslocal.runtime.framing import HEADER, FramingError, decode_payload, encode_frame, frame_length


def test_a_frame_is_a_length_then_json():
    frame = encode_frame({"type": "ready", "n": 1})
    assert frame_length(frame[: HEADER.size]) == len(frame) - HEADER.size
    assert decode_payload(frame[HEADER.size :]) == {"type": "ready", "n": 1}


def test_a_frame_must_hold_an_object():
    with pytest.raises(FramingError):
        decode_payload(b"[1]")


def test_an_oversized_length_is_refused():
    with pytest.raises(FramingError):
        frame_length(HEADER.pack(2**31))
