"""Reading pjsua2's audio buffers: the fast path must give exactly SWIG's bytes."""

from __future__ import annotations

import os

import pjsua2 as pj

from dialer.telephony.media import _vector_bytes_fast, vector_bytes


def test_fast_buffer_reader_is_chosen_and_reads_what_swig_reads() -> None:
    assert vector_bytes is _vector_bytes_fast, "this wheel's std::vector layout is known"
    for size in (0, 1, 320, 640, 1920):
        data = os.urandom(size)
        vector = pj.ByteVector(data)
        assert vector_bytes(vector) == bytes(vector) == data


def test_reads_a_media_frame_buffer_in_place() -> None:
    frame = pj.MediaFrame()
    frame.buf = pj.ByteVector(b"\x01\x02" * 320)
    assert vector_bytes(frame.buf) == b"\x01\x02" * 320
