"""Messages between a sweep and its worker processes: length-prefixed pickles on pipes.

A message is a ``(kind, payload)`` tuple, pickled and preceded by its length (8 bytes,
big-endian). Both ends trust each other: the parent starts the worker itself
(:mod:`resilience.sweeps.pool`), and the pipes are private to the pair.
"""

from __future__ import annotations

import pickle
import struct
from typing import IO, Any

__all__ = ["encode", "receive", "send"]

_HEADER = struct.Struct(">Q")


def encode(kind: str, payload: Any = None) -> bytes:
    """One message as bytes (to send the same one to several workers)."""
    data = pickle.dumps((kind, payload), protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(data)) + data


def send(
    stream: IO[bytes], kind: str, payload: Any = None, *, encoded: bytes | None = None
) -> None:
    """Write one message (or the ``encoded`` one) and flush it."""
    stream.write(encoded if encoded is not None else encode(kind, payload))
    stream.flush()


def _exactly(stream: IO[bytes], size: int) -> bytes | None:
    chunks: list[bytes] = []
    left = size
    while left:
        chunk = stream.read(left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def receive(stream: IO[bytes]) -> tuple[str, Any] | None:
    """The next message, or ``None`` when the other end closed the pipe (or died)."""
    header = _exactly(stream, _HEADER.size)
    if header is None:
        return None
    data = _exactly(stream, _HEADER.unpack(header)[0])
    if data is None:
        return None
    kind, payload = pickle.loads(data)
    return str(kind), payload
