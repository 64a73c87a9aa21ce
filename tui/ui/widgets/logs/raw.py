"""Reading a ``LogBuffer``'s storage in place (pure logic, no Textual).

``LogBuffer`` offers ``read(offset)`` (a copy of everything from ``offset`` on) and chunk
iteration from the head, both O(kept size); slicing a visible line, resolving its carriage
returns or finding the streams of the newest chunks needs its column arrays. All of the line
index's access to the buffer's private storage is here.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right

from tui.debug.model.logbuffer import LogBuffer

__all__ = ["RawLog", "signed"]


def signed(code: int) -> int:
    """A stream as ``LogBuffer`` stores it (signed byte) from its unsigned byte value."""
    return code - 256 if code > 127 else code


class RawLog:
    """Access to a ``LogBuffer``'s storage without copying the whole kept text."""

    __slots__ = ("buf",)

    def __init__(self, buf: LogBuffer) -> None:
        self.buf = buf

    def base(self) -> int:
        """Absolute offset of ``_data[0]``."""
        b = self.buf
        return b.end_offset - len(b._data)

    def slice(self, lo: int, hi: int) -> bytes:
        """Bytes ``[lo, hi)`` (absolute, clamped to what is kept)."""
        b = self.buf
        base = self.base()
        lo = max(lo, b.start_offset)
        if hi <= lo:
            return b""
        with memoryview(b._data) as view:  # one copy; released before the buffer changes
            return view[lo - base : hi - base].tobytes()

    def after_cr(self, lo: int, hi: int) -> tuple[int, int]:
        """``[lo, hi)`` as a terminal shows it: trailing CRs off, the text after the last CR."""
        data = self.buf._data
        base = self.base()
        while hi > lo and data[hi - 1 - base] == 13:
            hi -= 1
        r = data.rfind(b"\r", lo - base, hi - base)
        if r >= 0:
            lo = r + 1 + base
        return lo, hi

    def chunks(self, lo: int, hi: int) -> tuple[bytes, array[int]]:
        """Streams (as unsigned bytes) and absolute ends of the chunks covering ``[lo, hi)``.

        The last end is clipped to ``hi``.
        """
        b = self.buf
        ends, first = b._ends, b._first
        n = len(ends)
        k0 = bisect_right(ends, lo, first, n)
        k1 = min(bisect_left(ends, hi, k0, n), n - 1)
        seg = b._streams[k0 : k1 + 1].tobytes()
        cut = ends[k0 : k1 + 1]
        if cut and cut[-1] > hi:
            cut[-1] = hi
        return seg, cut
