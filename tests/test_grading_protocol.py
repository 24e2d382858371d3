"""The frames between the grader and the student's process (adamcourse/grading/protocol.py): plain values
only, every size checked, nothing executed while decoding."""

from __future__ import annotations

import json
import os
import struct
import threading

import numpy as np
import pytest

from adamcourse.grading import protocol


@pytest.fixture
def pipe():
    r, w = os.pipe()
    yield r, w
    for fd in (r, w):
        try:
            os.close(fd)
        except OSError:
            pass


def roundtrip(pipe, message):
    r, w = pipe
    protocol.send(w, message)
    return protocol.receive(r, timeout=5)


def test_plain_values_and_arrays_come_back_equal(pipe):
    message = {"op": "call", "args": [np.arange(6.0).reshape(2, 3), np.int64(3), 0.5, None, True, "x",
                                      np.array(2.5), np.asfortranarray(np.arange(6.0).reshape(2, 3)),
                                      [np.float32(1.5)], {"k": np.array([1, 2], dtype=np.int32)}],
               "nan": float("nan"), "inf": -np.inf}
    got = roundtrip(pipe, message)
    a = got["args"]
    np.testing.assert_array_equal(a[0], np.arange(6.0).reshape(2, 3))
    assert a[0].dtype == np.float64 and a[0].flags.writeable
    assert a[1] == 3 and a[2] == 0.5 and a[3] is None and a[4] is True and a[5] == "x"
    assert a[6].shape == () and a[6] == 2.5, "a 0-d array stays 0-d"
    np.testing.assert_array_equal(a[7], np.arange(6.0).reshape(2, 3))
    assert a[8][0].dtype == np.float32 and a[9]["k"].dtype == np.int32
    assert np.isnan(got["nan"]) and got["inf"] == -np.inf


@pytest.mark.parametrize("value", [object(), np.array(["a"]), np.array([object()]), lambda: 1])
def test_what_is_not_plain_is_refused_at_the_sender(pipe, value):
    with pytest.raises(protocol.ProtocolError):
        protocol.send(pipe[1], {"value": value})


def raw_frame(fd, body: bytes, length: int | None = None):
    """Write a frame by hand, from a thread (a frame larger than the pipe's buffer blocks until read)."""
    data = struct.pack(">I", len(body) if length is None else length) + body
    threading.Thread(target=lambda: os.write(fd, data) if len(data) < 65536 else _write_all(fd, data),
                     daemon=True).start()


def _write_all(fd, data):
    try:
        while data:
            data = data[os.write(fd, data):]
    except OSError:
        pass


@pytest.mark.parametrize("body, message", [
    (b"not json", "not JSON"),
    (b"[1, 2]", "not an object"),
    (json.dumps({"a": {"__array__": ["object", [1], "AA=="]}}).encode(), "not allowed"),
    (json.dumps({"a": {"__array__": ["float64", [2], "AAAAAAAA8D8="]}}).encode(), "does not match"),
    (json.dumps({"a": {"__array__": ["float64", [10**9], ""]}}).encode(), "too large"),
    (json.dumps({"a": {"__array__": ["float64", [-1], ""]}}).encode(), "not allowed"),
    (json.dumps({"a": {"__array__": "nonsense"}}).encode(), "malformed"),
    (("{\"a\":" + "[" * 50 + "]" * 50 + "}").encode(), "nested too deeply"),
    (("[" * 100000 + "]" * 100000).encode(), "not JSON"),
    (json.dumps({"s": "x" * (protocol.MAX_STRING + 1)}).encode(), "too long"),
])
def test_a_forged_frame_is_a_protocol_error_never_a_crash(pipe, body, message):
    raw_frame(pipe[1], body)
    with pytest.raises(protocol.ProtocolError, match=message):
        protocol.receive(pipe[0], timeout=5)


def test_an_oversized_length_is_refused_before_reading(pipe):
    raw_frame(pipe[1], b"", length=protocol.MAX_FRAME + 1)
    with pytest.raises(protocol.ProtocolError, match="too large"):
        protocol.receive(pipe[0], timeout=5)


def test_silence_times_out_and_a_closed_pipe_is_peer_gone(pipe):
    r, w = pipe
    raw_frame(w, b"{}", length=10)                 # a frame that never completes
    with pytest.raises(protocol.Timeout):
        protocol.receive(r, timeout=0.3)
    r2, w2 = os.pipe()
    os.close(w2)
    with pytest.raises(protocol.PeerGone):
        protocol.receive(r2, timeout=1)
    os.close(r2)


def test_a_large_array_streams_through(pipe):
    r, w = pipe
    big = np.random.default_rng(0).standard_normal(500_000)
    thread = threading.Thread(target=protocol.send, args=(w, {"v": big}))
    thread.start()
    got = protocol.receive(r, timeout=10)
    thread.join()
    np.testing.assert_array_equal(got["v"], big)
