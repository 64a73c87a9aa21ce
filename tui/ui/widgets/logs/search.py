"""The logs pane's search state, no Textual: the pattern, the current match, the match counter.

``LogSearch`` holds a smart-case pattern (folded unless it has an upper-case letter), the
current match as an absolute line number (``dropped + i``, stable while the buffer trims its
head), and counts the matching lines a few MB at a time (:meth:`LogSearch.count_step`, one call
per frame) up to :data:`COUNT_LIMIT`, for ``match i/N``.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left

from rich.style import Style
from rich.text import Text

from tui.ui.widgets.logs.index import LogIndex, is_smart_case_sensitive

__all__ = ["COUNT_LIMIT", "LogSearch"]

#: Matching lines counted at most for "match i/N".
COUNT_LIMIT = 100_000
_COUNT_BYTES = 4 << 20  # bytes scanned per frame by the match counter


class LogSearch:
    """The search over one view's lines (see the module docstring)."""

    __slots__ = ("_count_done", "_count_next", "_current", "_fold", "_hits", "_no_match",
                 "_pattern")

    def __init__(self) -> None:
        self._pattern = ""
        self._fold = True
        self._current: int | None = None  # absolute line number of the current match
        self._hits = array("q")  # absolute numbers of matching lines counted so far
        self._count_next = 0  # absolute line the counter continues from
        self._count_done = True
        self._no_match = False

    # ------------------------------------------------------------------ state
    @property
    def pattern(self) -> str:
        """The active pattern ("" when none)."""
        return self._pattern

    @property
    def current(self) -> int | None:
        """Absolute line number (``dropped + i``) of the current match, if any."""
        return self._current

    def current_line(self, idx: LogIndex | None) -> int | None:
        """Line (index into ``idx``) of the current match, if it is still there."""
        if self._current is None or idx is None:
            return None
        rel = self._current - idx.dropped
        return rel if 0 <= rel < len(idx) else None

    def set_pattern(self, pattern: str) -> bool:
        """Search for ``pattern`` from now on (no current match); whether it changed."""
        changed = pattern != self._pattern
        if changed:
            self._pattern = pattern
            self._fold = not is_smart_case_sensitive(pattern)
        self._current = None
        self._no_match = False
        return changed

    def forget_match(self) -> None:
        """No current match, and no "no match" either (another vertex is shown)."""
        self._current = None
        self._no_match = False

    def select(self, idx: LogIndex, line: int | None) -> int | None:
        """Make line ``line`` of ``idx`` the current match (``None``: there is none).

        Returns the absolute line number of the previous current match.
        """
        old = self._current
        if line is None:
            self._no_match = True
            self._current = None
        else:
            self._no_match = False
            self._current = idx.dropped + line
        return old

    # ------------------------------------------------------------------ finding
    def find(self, idx: LogIndex, start: int, direction: int = 1) -> int | None:
        """The first matching line from ``start`` on (``direction`` < 0: back), wrapping."""
        pattern = self._pattern
        if direction > 0:
            found = idx.find(pattern, start)
            if found is None:
                found = idx.find(pattern, 0)
        else:
            found = idx.find(pattern, start, backwards=True)
            if found is None:
                found = idx.find(pattern, len(idx) - 1, backwards=True)
        return found

    def step(self, idx: LogIndex, direction: int, first_visible: int) -> int | None:
        """The next (``direction`` > 0) or previous matching line after the current match.

        Without a current match the search starts at ``first_visible``.
        """
        cur = self.current_line(idx)
        start = first_visible if cur is None else cur + (1 if direction > 0 else -1)
        return self.find(idx, start, direction)

    def highlight(self, text: Text, style: Style) -> None:
        """Stylize every occurrence of the pattern in ``text`` with ``style``."""
        plain = text.plain.lower() if self._fold else text.plain
        pat = self._pattern.lower() if self._fold else self._pattern
        size = len(pat)
        at = plain.find(pat)
        while at >= 0:
            text.stylize(style, at, at + size)
            at = plain.find(pat, at + size)

    # ------------------------------------------------------------------ counting
    @property
    def counting(self) -> bool:
        """Whether matching lines remain to be counted."""
        return bool(self._pattern) and not self._count_done

    def restart_count(self, idx: LogIndex | None) -> bool:
        """Count again from ``idx``'s first line; whether there is counting to do."""
        self._hits = array("q")
        self._count_next = idx.dropped if idx is not None else 0
        self._count_done = not self._pattern or idx is None
        return not self._count_done

    def resume_count(self, idx: LogIndex) -> bool:
        """New complete lines after a finished count: whether counting starts again."""
        if (
            self._pattern
            and self._count_done
            and self._count_next < idx.dropped + idx.complete_lines
        ):
            self._count_done = False
            return True
        return False

    def forget_dropped(self, idx: LogIndex) -> None:
        """Drop the counted matches the buffer has trimmed from its head."""
        hits = self._hits
        del hits[: bisect_left(hits, idx.dropped)]

    def count_step(self, idx: LogIndex) -> bool:
        """Count matching lines over the next few MB (bounded work); whether more remain."""
        start = max(self._count_next - idx.dropped, 0)
        end = idx.complete_lines
        if start < end:
            lo = idx.span(start)[0]
            end = min(end, idx.line_of_offset(lo + _COUNT_BYTES) + 1)
            hits, base = self._hits, idx.dropped
            for line in idx.iter_matches(self._pattern, start, end):
                hits.append(base + line)
                if len(hits) >= COUNT_LIMIT:
                    break
            self._count_next = idx.dropped + end
        if len(self._hits) >= COUNT_LIMIT:
            self._count_done = False  # stays "+": more may exist
            self._count_next = idx.dropped + len(idx)
        elif self._count_next - idx.dropped >= idx.complete_lines:
            self._count_done = True
        else:
            return True
        return False

    @property
    def status(self) -> str:
        """``match 3/17`` (``?`` / ``+`` while counting or above the limit) or ``no match``."""
        if not self._pattern:
            return ""
        if self._no_match:
            return "no match"
        total = f"{len(self._hits)}{'' if self._count_done else '+'}"
        cur = self._current
        if cur is None:
            return f"{total} matches"
        if cur < self._count_next or self._count_done:
            k = bisect_left(self._hits, cur)
            pos = str(k + 1) if k < len(self._hits) and self._hits[k] == cur else "?"
        else:
            pos = "?"
        return f"match {pos}/{total}"
