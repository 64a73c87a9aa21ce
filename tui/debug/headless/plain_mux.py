"""progressui's ``textMux``: which step prints next, and the ``#N`` header of each switch.

Follows ``printer.go`` of buildkit's ``util/progress/progressui`` (as vendored by buildx 0.13):

* a step gets its number ``#N`` when it is first *printed*, not when it starts;
* completed steps of a batch are printed ordered by completion time;
* one step is "current": a step started while another one prints is held back (``#N ...``
  marks a switch) until the current one ends or the time-based fair share lets it through.
"""

from __future__ import annotations

from collections.abc import Callable

from tui.debug.headless.plain_trace import Trace
from tui.debug.headless.plain_vertex import Write
from tui.debug.model.textfmt import go_div

__all__ = ["TextMux"]

_ANTI_FLICKER = 5.0  # seconds
_MAX_DELAY = 10.0  # seconds


class TextMux:
    """Prints a :class:`Trace`'s pending updates in buildx's order through ``write``."""

    __slots__ = (
        "_clock",
        "_current",
        "_desc",
        "_last",
        "_next_index",
        "_not_first",
        "_trace",
        "_trunc",
        "_w",
    )

    def __init__(
        self,
        trace: Trace,
        write: Write,
        *,
        clock: Callable[[], float],
        desc: str,
        truncate_names: bool,
    ) -> None:
        self._trace = trace
        self._w = write
        self._clock = clock
        self._desc = desc
        self._trunc = truncate_names
        self._current = ""
        #: status id -> (current, timestamp) last printed, for the per-status throttle
        self._last: dict[str, tuple[int, int]] = {}
        self._not_first = False
        self._next_index = 0

    def print(self) -> None:
        """Print what buildx prints for the updates pending now."""
        by = self._trace.by
        completed: dict[str, None] = {}
        rest: dict[str, None] = {}
        for d in self._trace.updates:
            v = by.get(d)
            if v is None or v.hidden or v.digest != d:
                continue
            if v.completed:
                completed[d] = None
            else:
                rest[d] = None
        current = self._current
        if current in completed:
            self._print_vtx(current)

        def stop_key(d: str) -> int:
            stop = by[d].merged[-1][1]
            return stop if stop is not None else 0

        for d in sorted(completed, key=stop_key):
            if d != current:
                self._print_vtx(d)

        if not rest:
            if current:
                cv = by.get(current)
                if cv is not None and cv.started and not cv.completed:
                    return
            for d in self._trace.open:
                self._print_vtx(d)
                return
            return

        if current in rest:
            self._print_vtx(current)

        now = self._clock()
        # per candidate: [block time, speed, share, over limit]
        stats: dict[str, list[float]] = {}
        total = 0.0
        best = ""
        if current:
            rest[current] = None
        for d in rest:
            v = by.get(d)
            if v is None or v.last_block_time is None:
                continue
            tm = now - v.last_block_time
            speed = go_div(float(v.count), tm)
            over = tm > _MAX_DELAY and d != current
            stats[d] = [tm, speed, 0.0, 1.0 if over else 0.0]
            total += speed
            if over or not best or stats[best][1] < speed:
                best = d
        for s in stats.values():
            s[2] = go_div(s[1], total)

        if current in completed or not current:
            if best:
                self._print_vtx(best)
            return
        for d in rest:
            st = stats.get(d)
            if st is not None and st[3]:
                self._print_vtx(d)
                return
        # fair split between concurrently active steps
        cs = stats.get(current)
        if cs is not None and best and go_div(1.0, 1.0 - cs[2]) * _ANTI_FLICKER < cs[0]:
            self._print_vtx(best)

    def print_error_logs(self) -> None:
        """Print each failed step's last log lines (the end-of-build block)."""
        w = self._w
        for v in self._trace.vertexes:
            v.write_error_block(w)

    def step_of(self, digest: str) -> int | None:
        """The ``#N`` printed for a vertex digest (or group id), if it was printed yet."""
        v = self._trace.by.get(digest)
        return v.index if v is not None and v.index else None

    def _name(self, name: str) -> bytes:
        b = name.encode()
        if self._trunc and len(b) > 72:
            return b[:72] + b"..."
        return b

    def _print_vtx(self, d: str) -> None:
        by = self._trace.by
        v = by.get(d)
        if v is None:
            return
        w = self._w
        if v.index == 0:
            self._next_index += 1
            v.index = self._next_index
        idx = b"#%d " % v.index
        if d != self._current:
            if self._current:
                old = by[self._current]
                if old.logs_partial:
                    w(b"\n")
                old.logs_offset = 0
                old.count = 0
                w(b"#%d ...\n" % old.index)
            if self._not_first:
                w(b"\n")
            else:
                if self._desc:
                    w(b"#0 %s\n\n" % self._desc.encode())
                self._not_first = True
            w(idx + self._name(v.name) + b"\n")

        is_open = v.write_statuses(w, idx, self._last)
        v.write_warnings(w, idx)
        v.write_logs(w, idx)

        self._current = d
        if v.completed and not is_open:
            self._current = ""
            v.count = 0
            v.write_end(w, idx)
        self._trace.updates.pop(d, None)
