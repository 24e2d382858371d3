"""The only thing the grader and the student's process share: frames of plain values over two pipes.

A frame is a 4-byte big-endian length and that many bytes of UTF-8 JSON. Values are JSON's (None, bool, int,
float, str, list, dict with str keys) plus NumPy arrays, written ``{"__array__": [dtype, shape, base64]}``
with a numeric or boolean dtype. Nothing is pickled: decoding a frame cannot run code, and :func:`decode`
checks every size (frame bytes, array elements, nesting, string length) so that whatever the student's
process writes, the grader gets plain, bounded values or a :class:`ProtocolError`.

Both sides import this module; it imports only the standard library and NumPy.
"""

from __future__ import annotations

import base64
import json
import os
import select
import struct
import time

import numpy as np

MAX_FRAME = 64 * 2**20           # bytes of one frame
MAX_ELEMENTS = 4 * 2**20         # elements of one array
MAX_DEPTH = 8                    # nesting of lists and dicts
MAX_ITEMS = 10_000               # entries of one list or dict
MAX_STRING = 100_000             # characters of one string
DTYPES = {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float16", "float32", "float64"}


class ProtocolError(Exception):
    """A frame that is not what the protocol allows (too large, malformed, an unknown type)."""


class PeerGone(ProtocolError):
    """The other side closed its end (or died)."""


class Timeout(ProtocolError):
    """No complete frame before the deadline."""


# ------------------------------------------------------------------------------------------ values


def encode(value, depth: int = 0):
    """``value`` as JSON-ready plain data; NumPy arrays and scalars become tagged arrays."""
    if depth > MAX_DEPTH:
        raise ProtocolError("nested too deeply")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value if not isinstance(value, float) or np.isfinite(value) else _array(np.asarray(value))
    if isinstance(value, (np.ndarray, np.generic)):
        return _array(np.asarray(value))
    if isinstance(value, (list, tuple)):
        return [encode(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {str(k): encode(v, depth + 1) for k, v in value.items()}
    raise ProtocolError(f"cannot send a {type(value).__name__}")


def _array(a: np.ndarray) -> dict:
    if a.dtype.name not in DTYPES:
        raise ProtocolError(f"cannot send an array of dtype {a.dtype}")
    # tobytes() writes C order whatever the layout (np.ascontiguousarray would turn a 0-d array into 1-d)
    return {"__array__": [a.dtype.name, list(a.shape), base64.b64encode(a.tobytes(order="C")).decode("ascii")]}


def decode(data, depth: int = 0):
    """Plain data back into values, checking every bound (:class:`ProtocolError` otherwise)."""
    if depth > MAX_DEPTH:
        raise ProtocolError("nested too deeply")
    if data is None or isinstance(data, (bool, int, float)):
        return data
    if isinstance(data, str):
        if len(data) > MAX_STRING:
            raise ProtocolError("a string is too long")
        return data
    if isinstance(data, list):
        if len(data) > MAX_ITEMS:
            raise ProtocolError("a list is too long")
        return [decode(v, depth + 1) for v in data]
    if isinstance(data, dict):
        if set(data) == {"__array__"}:
            return _decode_array(data["__array__"])
        if len(data) > MAX_ITEMS:
            raise ProtocolError("a dict is too long")
        return {str(k): decode(v, depth + 1) for k, v in data.items()}
    raise ProtocolError(f"unexpected {type(data).__name__}")


def _decode_array(spec) -> np.ndarray:
    try:
        dtype, shape, payload = spec
        shape = tuple(int(n) for n in shape)
    except (TypeError, ValueError):
        raise ProtocolError("a malformed array") from None
    if dtype not in DTYPES or any(n < 0 for n in shape) or len(shape) > 32:
        raise ProtocolError(f"an array of dtype {dtype!r} and shape {shape!r} is not allowed")
    size = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if size > MAX_ELEMENTS:
        raise ProtocolError(f"an array of {size} elements is too large")
    raw = base64.b64decode(payload.encode("ascii") if isinstance(payload, str) else b"", validate=True)
    if len(raw) != size * np.dtype(dtype).itemsize:
        raise ProtocolError("an array's data does not match its shape")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


# ------------------------------------------------------------------------------------------ frames


def send(fd: int, message: dict) -> None:
    """Write one frame holding ``message`` (encoded with :func:`encode`)."""
    body = json.dumps(encode(message), allow_nan=False, separators=(",", ":")).encode("utf-8")
    if len(body) > MAX_FRAME:
        raise ProtocolError(f"a frame of {len(body)} bytes is too large")
    data = struct.pack(">I", len(body)) + body
    while data:
        try:
            n = os.write(fd, data)
        except BrokenPipeError:
            raise PeerGone("the other side closed the pipe") from None
        data = data[n:]


def _read_exactly(fd: int, n: int, deadline: float | None) -> bytes:
    chunks, got = [], 0
    while got < n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise Timeout("no answer in time")
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            raise PeerGone("the other side closed the pipe")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def receive(fd: int, timeout: float | None = None) -> dict:
    """Read one frame and return its message, decoded and checked; ``timeout`` seconds for the whole frame."""
    deadline = None if timeout is None else time.monotonic() + timeout
    (length,) = struct.unpack(">I", _read_exactly(fd, 4, deadline))
    if length > MAX_FRAME:
        raise ProtocolError(f"a frame of {length} bytes is too large")
    try:
        message = json.loads(_read_exactly(fd, length, deadline).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ProtocolError("a frame that is not JSON") from None
    if not isinstance(message, dict):
        raise ProtocolError("a frame that is not an object")
    return decode(message)
