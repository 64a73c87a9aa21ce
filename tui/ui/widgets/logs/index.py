r"""Incremental line index over a vertex's ``LogBuffer`` (pure logic, no Textual).

A ``LogIndex`` maps line numbers to absolute byte offsets of the buffer, so a view can fetch
and decode only the lines it shows. Rules:

* lines end at ``\n``; a line also ends where the output switches stream (a stdout chunk
  followed by a stderr chunk in the middle of a line gives two lines, so each line has
  exactly one stream). A lone ``\n`` from the other stream just ends the open line;
* carriage returns are resolved lazily, as a terminal shows a progress line: trailing
  ``\r`` are ignored and only the text after the last ``\r`` is kept;
* ``update`` indexes only the bytes received since the previous call (at most ``budget``
  bytes per call, so a huge backlog is indexed over several frames) and drops the lines the
  buffer has trimmed from its head;
* per line the index stores an 8-byte start offset and a 1-byte flag (stream + "ended by a
  newline") in ``array`` objects; text is decoded per visible line only;
* ``find`` scans the raw bytes block-wise (``bytes.find``), never building per-line strings.

Line numbers are relative to the first kept line; ``dropped`` counts the lines removed from
the front so far, so ``dropped + i`` is a stable identifier of line ``i``.
"""

from __future__ import annotations

import re
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from itertools import accumulate, compress, islice, repeat
from operator import add, mul, ne, sub
from typing import NamedTuple

from tui.debug.model.logbuffer import STDERR, STDOUT, LogBuffer
from tui.ui.widgets.logs.raw import RawLog, signed

__all__ = ["DEFAULT_BUDGET", "IndexDelta", "LogIndex", "is_smart_case_sensitive", "sgr_strip"]

#: Bytes indexed per ``update`` call by default (~10 ms of work).
DEFAULT_BUDGET = 1 << 20
_SLICE = 1 << 20  # bytes split at once (bounds the temporary list of parts)
_SEARCH_BLOCK = 1 << 20
_NL = 0x40  # flag bit: the line was ended by a newline
_STREAM_MASK = 0x3F
_COMPACT_MIN = 1 << 16
_NL_BYTE = [bytes(((i & _STREAM_MASK) | _NL,)) for i in range(256)]
_SGR = re.compile(r"\x1b\[[0-9;:?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
_plus1 = (1).__add__


def sgr_strip(text: str) -> str:
    """Remove ANSI CSI / two-byte escape sequences from ``text``."""
    return _SGR.sub("", text) if "\x1b" in text else text


def is_smart_case_sensitive(pattern: str) -> bool:
    """Smart case: a pattern with an upper-case letter is matched case-sensitively."""
    return pattern != pattern.lower()


class IndexDelta(NamedTuple):
    """What one ``LogIndex.update`` call changed."""

    #: Lines dropped from the front by this call (head trimming of the buffer).
    dropped: int
    #: Whether the (new) first line lost bytes from its head (or lines were dropped).
    head_changed: bool
    #: Absolute number (``dropped + i``) of the first line at the tail whose text grew or
    #: that is new; ``None`` if nothing was appended.
    first_changed: int | None
    #: Lines added by this call.
    added: int


class LogIndex:
    """Line index over one ``LogBuffer``; see the module docstring for the rules."""

    __slots__ = (
        "_first",
        "_flags",
        "_open",
        "_open_stream",
        "_raw",
        "_starts",
        "buf",
        "dropped",
        "max_line_bytes",
        "scanned",
    )

    def __init__(self, buf: LogBuffer) -> None:
        self.buf = buf
        self._raw = RawLog(buf)
        self._starts = array("q")  # absolute start offset of each line
        self._flags = array("B")  # stream | _NL
        self._first = 0  # index of line 0 in the arrays
        self._open = False  # last line not ended yet (may be continued)
        self._open_stream = STDOUT
        #: Absolute offset up to which the buffer has been indexed.
        self.scanned = buf.start_offset
        #: Lines dropped from the front so far.
        self.dropped = 0
        #: Longest line seen, in bytes (an upper bound for its display width).
        self.max_line_bytes = 0

    # ------------------------------------------------------------------ size
    def __len__(self) -> int:
        return len(self._starts) - self._first

    @property
    def complete_lines(self) -> int:
        """Lines that can no longer change (all but an unterminated last line)."""
        return len(self) - (1 if self._open and len(self) else 0)

    @property
    def pending(self) -> int:
        """Bytes received but not indexed yet."""
        return max(0, self.buf.end_offset - max(self.scanned, self.buf.start_offset))

    @property
    def nbytes(self) -> int:
        """Memory used by the index arrays (allocated items)."""
        return (
            self._starts.buffer_info()[1] * self._starts.itemsize
            + self._flags.buffer_info()[1] * self._flags.itemsize
        )

    # ------------------------------------------------------------------ indexing
    def update(self, budget: int | None = DEFAULT_BUDGET) -> IndexDelta:
        """Index new output (at most ``budget`` bytes, ``None`` = all) and apply trimming."""
        buf = self.buf
        if buf.end_offset < self.scanned:  # a different/reset buffer: start over
            self.reset()
        dropped_before = self.dropped
        n_before = len(self)
        head_before = self._starts[self._first] if n_before else -1
        self._trim()
        head_changed = self.dropped != dropped_before or (
            len(self) > 0 and buf.start_offset > head_before
        )
        first_changed: int | None = None
        end = buf.end_offset
        if budget is not None:
            end = min(end, self.scanned + budget)
        if end > self.scanned:
            # the open last line grows; otherwise the new lines start after it
            first_changed = self.dropped + len(self) - (1 if self._open and len(self) else 0)
            for lo in range(self.scanned, end, _SLICE):
                self._index_block(lo, min(lo + _SLICE, end))
            self.scanned = end
        added = len(self) - n_before + (self.dropped - dropped_before)
        return IndexDelta(self.dropped - dropped_before, head_changed, first_changed, added)

    def reset(self) -> None:
        """Forget everything and index the buffer again from its first kept byte."""
        self._starts = array("q")
        self._flags = array("B")
        self._first = 0
        self._open = False
        self.scanned = self.buf.start_offset
        self.max_line_bytes = 0

    def _trim(self) -> None:
        start = self.buf.start_offset
        n = len(self._starts)
        first = self._first
        if first >= n:
            self.scanned = max(self.scanned, start)
            return
        if self._starts[first] >= start:
            return
        if self.scanned <= start:  # everything indexed is gone
            self.dropped += n - first
            self._starts = array("q")
            self._flags = array("B")
            self._first = 0
            self._open = False
            self.scanned = start
            return
        k = bisect_right(self._starts, start, first, n) - 1  # line containing ``start``
        if k + 1 < n and self._line_end(k) <= start:
            k += 1  # only its newline is left
        self.dropped += k - first
        self._first = k
        if k > _COMPACT_MIN and k > (n >> 1):
            del self._starts[:k]
            del self._flags[:k]
            self._first = 0

    def _index_block(self, lo: int, hi: int) -> None:
        """Index ``[lo, hi)``; every step is a C-level pass, whatever the chunking."""
        seg, ends = self._raw.chunks(lo, hi)
        data = self._raw.slice(lo, hi)
        if not seg or seg.count(seg[0]) == len(seg):  # one stream
            self._feed(lo, data, signed(seg[0]) if seg else STDOUT)
            return
        # the stream changes, and those that fall inside a line (they split it)
        changes = list(compress(map(sub, ends[:-1], repeat(lo)), map(ne, seg[:-1], seg[1:])))
        codes = bytes((seg[0], *compress(seg[1:], map(ne, seg[:-1], seg[1:]))))
        before = map(data.__getitem__, map(sub, changes, repeat(1)))
        mid = [  # a lone newline of the other stream just ends the line: not a split
            p for p in compress(changes, map(ne, before, repeat(10))) if data[p] != 10
        ]
        parts = data.split(b"\n")
        nl_starts = list(accumulate(map(_plus1, map(len, parts[:-1]))))
        ends_nl = not parts[-1]
        if ends_nl:
            nl_starts.pop()
        head: list[int] = []
        if not self._open or (self._open_stream != signed(seg[0]) and data[0] != 10):
            head = [0]  # a new line begins at ``lo``
        starts = head + nl_starts
        if mid:
            starts = sorted(starts + mid)
        # lines from the first one starting at/after a change on have the new stream
        ks = list(map(bisect_left, repeat(starts), changes))
        counts = map(sub, [*ks, len(starts)], [0, *ks])
        flags = bytearray(b"".join(map(mul, map(_NL_BYTE.__getitem__, codes), counts)))
        for p in mid:
            k = bisect_left(starts, p)
            if k:
                flags[k - 1] &= ~_NL & 0xFF
        if self._open and not head and starts and (not mid or starts[0] != mid[0]):
            self._flags[-1] |= _NL  # the open line was continued and ended by a newline
        elif self._open and not starts and ends_nl:
            self._flags[-1] |= _NL
        if starts:
            if ends_nl:
                self._open = False
            else:
                flags[-1] &= ~_NL & 0xFF
                self._open = True
                self._open_stream = signed(codes[-1])
            self._starts.extend(map(add, starts, repeat(lo)))
            self._flags.frombytes(flags)
        elif ends_nl:
            self._open = False
        longest = max(map(len, parts))
        if self._open and len(self._starts):
            longest = max(longest, hi - self._starts[-1])
        if longest > self.max_line_bytes:
            self.max_line_bytes = longest

    def _feed(self, pos: int, data: bytes, stream: int) -> None:
        parts = data.split(b"\n")
        n = len(parts)
        starts, flags = self._starts, self._flags
        code = stream & _STREAM_MASK
        if self._open and self._open_stream == stream:
            if n > 1:
                flags[-1] |= _NL
                self._open = False
            longest = pos - starts[-1] + len(parts[0])
        elif n == 1 or parts[0] or not self._open:
            starts.append(pos)
            flags.append(code | (_NL if n > 1 else 0))
            self._open = n == 1
            self._open_stream = stream
            longest = len(parts[0])
        else:  # a lone newline of the other stream ends the open line
            flags[-1] |= _NL
            self._open = False
            longest = 0
        if n > 1:
            last = parts[-1]
            k = n - 1 if last else n - 2  # new lines after the first part
            if k:
                offs = accumulate(map(_plus1, map(len, parts)), initial=pos)
                starts.extend(islice(offs, 1, 1 + k))
                flags.frombytes(bytes((code | _NL,)) * (n - 2))
                if last:
                    flags.append(code)
            self._open = bool(last)
            self._open_stream = stream
            longest = max(longest, max(map(len, parts)))
        if longest > self.max_line_bytes:
            self.max_line_bytes = longest

    # ------------------------------------------------------------------ lines
    def _line_end(self, j: int) -> int:
        """Absolute end (exclusive, newline excluded) of array line ``j``."""
        nxt = self._starts[j + 1] if j + 1 < len(self._starts) else self.scanned
        return nxt - (1 if self._flags[j] & _NL else 0)

    def span(self, i: int) -> tuple[int, int]:
        """Absolute ``[start, end)`` of line ``i`` as kept (newline excluded)."""
        j = self._first + i
        if not 0 <= i < len(self):
            raise IndexError(i)
        lo = max(self._starts[j], self.buf.start_offset)
        return lo, max(lo, self._line_end(j))

    def visible_span(self, i: int) -> tuple[int, int]:
        """``span`` with carriage returns resolved (text after the last non-trailing CR)."""
        lo, hi = self.span(i)
        return self._raw.after_cr(lo, hi)

    def stream(self, i: int) -> int:
        """Stream of line ``i`` (1 stdout, 2 stderr)."""
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self._flags[self._first + i] & _STREAM_MASK

    def is_stderr(self, i: int) -> bool:
        """Whether line ``i`` came from stderr."""
        return self.stream(i) == STDERR

    def line_bytes(self, i: int, limit: int | None = None) -> bytes:
        """Raw bytes of line ``i`` as shown (CR resolved), at most ``limit`` bytes."""
        lo, hi = self.visible_span(i)
        if limit is not None:
            hi = min(hi, lo + limit)
        return self._raw.slice(lo, hi)

    def line_text(self, i: int, limit: int | None = None) -> str:
        """Line ``i`` decoded as UTF-8 (invalid bytes replaced), escape codes kept."""
        return self.line_bytes(i, limit).decode("utf-8", "replace")

    def plain(self, i: int, limit: int | None = None) -> str:
        """Line ``i`` decoded, with ANSI escape sequences removed."""
        return sgr_strip(self.line_text(i, limit))

    def line_of_offset(self, offset: int) -> int:
        """Line (relative) containing absolute ``offset`` (clamped to the kept lines)."""
        n = len(self._starts)
        j = bisect_right(self._starts, offset, self._first, n) - 1
        return max(0, j - self._first)

    # ------------------------------------------------------------------ search
    def _needle(self, pattern: str, case_sensitive: bool | None) -> tuple[bytes, bool]:
        if case_sensitive is None:
            case_sensitive = is_smart_case_sensitive(pattern)
        pat = pattern if case_sensitive else pattern.lower()
        return pat.encode("utf-8"), case_sensitive

    def _block(self, lo: int, hi: int, fold: bool) -> bytes:
        blk = self._raw.slice(lo, hi)
        return blk.lower() if fold else blk

    def _matches(self, i: int, pos: int, size: int) -> bool:
        """Whether a hit at absolute ``pos`` lies inside line ``i``'s visible text."""
        lo, hi = self.visible_span(i)
        return lo <= pos and pos + size <= hi

    def find(
        self,
        pattern: str,
        start_line: int,
        backwards: bool = False,
        *,
        case_sensitive: bool | None = None,
    ) -> int | None:
        """First line from ``start_line`` on (or last line up to it) containing ``pattern``.

        Case-insensitive for ASCII letters unless the pattern has an upper-case letter
        (smart case) or ``case_sensitive`` says otherwise. Matches in text hidden by a
        carriage return do not count. ``None`` if there is no match.
        """
        n = len(self)
        if not pattern or "\n" in pattern or n == 0:
            return None
        needle, cs = self._needle(pattern, case_sensitive)
        if backwards:
            if start_line < 0:
                return None
            return self._find_back(needle, min(start_line, n - 1), not cs)
        if start_line >= n:
            return None
        return next(self._iter_fwd(needle, max(start_line, 0), not cs, n), None)

    def _iter_fwd(self, needle: bytes, line: int, fold: bool, stop_line: int) -> Iterator[int]:
        """Matching lines in ``[line, stop_line)``, ascending, each once."""
        if line >= stop_line:
            return
        size = len(needle)
        pos = self.span(line)[0]
        end = self.span(stop_line - 1)[1]
        while pos < end:
            hi = min(pos + _SEARCH_BLOCK, end)
            blk = self._block(pos, min(hi + size - 1, end), fold)
            j = blk.find(needle)
            while j >= 0 and pos + j < hi:
                at = pos + j
                i = self.line_of_offset(at)
                if self._matches(i, at, size):
                    yield i
                    if i + 1 >= stop_line:
                        return
                    nxt = self.span(i + 1)[0]
                    if nxt >= hi:
                        pos = nxt
                        break
                    j = blk.find(needle, nxt - pos)
                else:
                    j = blk.find(needle, j + 1)
            else:
                pos = hi

    def _find_back(self, needle: bytes, line: int, fold: bool) -> int | None:
        size = len(needle)
        stop = self.span(0)[0]
        limit = self.span(line)[1]
        hi = limit
        while hi > stop:
            lo = max(hi - _SEARCH_BLOCK, stop)
            blk = self._block(lo, min(hi + size - 1, limit), fold)
            j = blk.rfind(needle)
            while j >= 0:
                at = lo + j
                if at < hi:
                    i = self.line_of_offset(at)
                    if self._matches(i, at, size):
                        return i
                j = blk.rfind(needle, 0, j + size - 1)
            hi = lo
        return None

    def iter_matches(
        self,
        pattern: str,
        start_line: int = 0,
        end_line: int | None = None,
        *,
        case_sensitive: bool | None = None,
    ) -> Iterator[int]:
        """Lines in ``[start_line, end_line)`` containing ``pattern``, ascending (lazy).

        Do not update the index while iterating.
        """
        stop = len(self) if end_line is None else min(end_line, len(self))
        if not pattern or "\n" in pattern:
            return iter(())
        needle, cs = self._needle(pattern, case_sensitive)
        return self._iter_fwd(needle, max(start_line, 0), not cs, stop)

    def count(
        self,
        pattern: str,
        *,
        start_line: int = 0,
        end_line: int | None = None,
        limit: int | None = None,
        case_sensitive: bool | None = None,
    ) -> int:
        """Number of lines in ``[start_line, end_line)`` matching (stops at ``limit``)."""
        count = 0
        for _ in self.iter_matches(pattern, start_line, end_line, case_sensitive=case_sensitive):
            count += 1
            if limit is not None and count >= limit:
                break
        return count
