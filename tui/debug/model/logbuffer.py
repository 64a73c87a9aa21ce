"""Per-vertex log storage: raw ``VertexLog`` chunks kept up to a byte cap (the tail)."""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from typing import NamedTuple

__all__ = [
    "DEFAULT_LOG_CAP",
    "STDERR",
    "STDOUT",
    "LogBuffer",
    "LogChunk",
]

STDOUT = 1
STDERR = 2
#: Bytes of log output kept per vertex by default (the tail is kept).
DEFAULT_LOG_CAP = 1 << 20


class LogChunk(NamedTuple):
    """One ``VertexLog`` payload as received (arbitrary chunking, raw bytes)."""

    stream: int
    timestamp_ns: int
    data: bytes


class LogBuffer:
    """Per-vertex log output capped at ``cap`` bytes, keeping the tail.

    Stored column-wise (one ``bytearray`` plus end offset, timestamp and stream arrays) so
    a chunk costs ~17 bytes beyond its text; dropped head bytes are compacted away in
    amortized O(1). Offsets are absolute byte positions in the vertex's whole output:
    ``start_offset`` is where the kept data begins (= bytes dropped so far), ``end_offset``
    the total received.
    """

    __slots__ = (
        "_data",
        "_dead",
        "_ends",
        "_first",
        "_streams",
        "_ts",
        "cap",
        "dropped_chunks",
        "end_offset",
    )

    def __init__(self, cap: int = DEFAULT_LOG_CAP) -> None:
        if cap < 0:
            raise ValueError("cap must be >= 0")
        self.cap = cap
        self._data = bytearray()
        self._dead = 0  # dropped bytes still at the front of _data
        self._ends = array("q")  # absolute end offset of each chunk
        self._ts = array("q")
        self._streams = array("b")
        self._first = 0  # index of the first kept chunk in the arrays
        self.end_offset = 0
        self.dropped_chunks = 0

    def append(self, chunk: LogChunk) -> None:
        """Add a chunk, then drop from the head until the buffer fits its cap."""
        self.add(chunk.stream, chunk.timestamp_ns, chunk.data)

    def add(self, stream: int, timestamp_ns: int, data: bytes) -> None:
        """Add one chunk given as its parts (empty chunks are ignored)."""
        if not data:
            return
        self._data += data
        self.end_offset += len(data)
        self._ends.append(self.end_offset)
        self._ts.append(timestamp_ns)
        self._streams.append(stream)
        if len(self._data) - self._dead > self.cap:
            self._trim()

    def _trim(self) -> None:
        start = self.end_offset - self.cap
        self._dead = len(self._data) - self.cap
        ends, first = self._ends, self._first
        n = len(ends)
        while first < n and ends[first] <= start:
            first += 1
        self.dropped_chunks += first - self._first
        self._first = first
        if self._dead > max(self.cap, 4096):  # compact once the dead head is big enough
            del self._data[: self._dead]
            self._dead = 0
            del self._ends[:first]
            del self._ts[:first]
            del self._streams[:first]
            self._first = 0

    @property
    def size(self) -> int:
        """Bytes currently kept."""
        return len(self._data) - self._dead

    @property
    def start_offset(self) -> int:
        """Absolute offset of the first kept byte."""
        return self.end_offset - self.size

    @property
    def dropped_bytes(self) -> int:
        """Bytes dropped from the head because of the cap."""
        return self.start_offset

    @property
    def truncated(self) -> bool:
        """Whether any output was dropped because of the cap."""
        return self.start_offset > 0

    def __len__(self) -> int:
        return len(self._ends) - self._first

    def __iter__(self) -> Iterator[LogChunk]:
        """Kept chunks (the first one may have lost its head to the cap)."""
        base = self.end_offset - len(self._data)  # absolute offset of _data[0]
        start = self.start_offset
        data, ends, ts, streams = self._data, self._ends, self._ts, self._streams
        for i in range(self._first, len(ends)):
            lo = ends[i - 1] if i else 0
            lo = max(lo, start)
            yield LogChunk(streams[i], ts[i], bytes(data[lo - base : ends[i] - base]))

    def data(self, stream: int | None = None) -> bytes:
        """Kept bytes, optionally of one stream only (1 stdout, 2 stderr)."""
        if stream is None:
            return bytes(self._data[self._dead :])
        return b"".join(c.data for c in self if c.stream == stream)

    def read(self, offset: int) -> bytes:
        """Kept bytes from absolute ``offset`` on (clamped to what is still kept)."""
        base = self.end_offset - len(self._data)
        lo = max(offset, self.start_offset) - base
        return bytes(self._data[lo:])

    def text(self, stream: int | None = None) -> str:
        """Kept output decoded as UTF-8 (invalid bytes replaced)."""
        return self.data(stream).decode("utf-8", "replace")
