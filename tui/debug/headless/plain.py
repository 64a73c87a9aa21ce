"""``docker buildx build --progress=plain`` output, produced from ``Control.Status``.

Reimplements the behaviour of buildkit's ``util/progress/progressui`` plain mode as vendored
by buildx 0.13 (buildkit v0.13.0: ``display.go`` for the trace and ``printer.go`` for the
``textMux``), plus buildx's end-of-build warning summary (``commands/build.go``
``printWarnings``, in ``tui.debug.headless.warnings_summary``); the error snippet is in
``tui.debug.model.snippet``.

The rules that shape the text:

* a step gets its number ``#N`` when it is first *printed*, not when it starts;
* output is paced like buildx: a message triggers printing at most every 100 ms (token
  bucket of one) and an idle stream is refreshed every 150 ms; pending updates accumulate in
  between, and completed steps of a batch are printed ordered by completion time;
* one step is "current": a step started while another one prints is held back (``#N ...``
  marks a switch) until the current one ends or the time-based fair share lets it through;
* log lines get the seconds since the step's latest start (3 decimals below 10 s, 2 below
  100 s, then 1); partial lines are continued in place;
* ``transferring ...`` statuses are throttled per status id (5 % or 5 s) unless completed;
* ``#N DONE`` shows the sum of the step's merged run intervals;
* at the end, each failed step's last 10 printed log lines are repeated between ``------``.
"""

from __future__ import annotations

import asyncio
import codecs
import os
import time
from collections.abc import AsyncIterable, Callable, Iterable
from typing import TYPE_CHECKING, TextIO

from tui.debug.headless.warnings_summary import _format_warnings, _Warn
from tui.debug.model.progressui import CANCELED_SUFFIX
from tui.debug.model.textfmt import _go_div, format_bytes
from tui.debug.model.timing import Interval, go_seconds, merge_intervals

if TYPE_CHECKING:
    from google.protobuf.timestamp_pb2 import Timestamp

    from tui.buildkit.proto import control_pb2

__all__ = ["LOGS_BUFFER_SIZE", "PlainPrinter"]

#: Log lines of a failed step repeated in the final error block.
LOGS_BUFFER_SIZE = 10

_ANTI_FLICKER = 5.0  # seconds
_MAX_DELAY = 10.0  # seconds
_MIN_TIME_DELTA_NS = 5_000_000_000
_MIN_PROGRESS_DELTA = 0.05
_DISPLAY_INTERVAL = 0.1  # rate limiter of plainDisplay.update
_TICK_INTERVAL = 0.15  # refresh ticker of Display.UpdateFrom
_NS = 1_000_000_000


class _Status:
    __slots__ = ("completed", "current", "id", "started", "timestamp", "total")

    def __init__(self, ps: control_pb2.VertexStatus) -> None:
        self.id = ps.ID
        self.current = ps.current
        self.total = ps.total
        self.timestamp = _ts(ps.timestamp) if ps.HasField("timestamp") else 0
        self.started = _ts(ps.started) if ps.HasField("started") else None
        self.completed = _ts(ps.completed) if ps.HasField("completed") else None


class _Sub:
    """A progress-group member as the group sees it."""

    __slots__ = ("cached", "completed", "error", "started", "weak")

    def __init__(self, pv: control_pb2.Vertex) -> None:
        self.started = _ts(pv.started) if pv.HasField("started") else None
        self.completed = _ts(pv.completed) if pv.HasField("completed") else None
        self.cached = pv.cached
        self.error = pv.error
        self.weak = pv.progressGroup.weak


class _PV:
    """progressui's per-step ``vertex`` state (a plain vertex or a progress group)."""

    __slots__ = (
        "by_id",
        "cached",
        "count",
        "digest",
        "error",
        "hidden",
        "index",
        "intervals",
        "last_block_time",
        "logs",
        "logs_offset",
        "logs_partial",
        "merged",
        "name",
        "prev",
        "ring",
        "ring_pos",
        "status_updates",
        "statuses",
        "subs",
        "warning_idx",
        "warnings",
    )

    def __init__(self, digest: str, name: str = "", *, group: bool = False) -> None:
        self.digest = digest
        self.name = name
        self.cached = False
        self.error = ""
        # prev vertex as (name, started, cached, error) for change detection
        self.prev: tuple[str, int | None, bool, str] | None = None
        self.intervals: dict[int, int | None] = {}
        self.merged: list[Interval] = []
        self.index = 0
        self.logs: list[bytes] = []
        self.logs_partial = False
        self.logs_offset = 0
        self.ring: list[bytes | None] | None = None
        self.ring_pos = 0
        self.last_block_time: float | None = None
        self.count = 0
        self.statuses: list[_Status] = []
        self.by_id: dict[str, _Status] = {}
        self.status_updates: dict[str, None] = {}
        self.warnings: list[bytes] = []
        self.warning_idx = 0
        self.hidden = group
        self.subs: dict[str, _Sub] | None = {} if group else None

    @property
    def started(self) -> bool:
        return bool(self.merged)

    @property
    def completed(self) -> bool:
        return bool(self.merged) and self.merged[-1][1] is not None

    def bump(self, now: float) -> None:
        if self.count == 0:
            self.last_block_time = now
        self.count += 1


def _ts(ts: Timestamp) -> int:
    return ts.seconds * _NS + ts.nanos


class PlainPrinter:
    """Streams ``--progress=plain`` text for a build to ``out``.

    Call ``feed`` for every ``StatusResponse`` (or let ``consume`` drive a stream), then
    ``finish`` once the stream has ended. ``clock`` (monotonic seconds) and the pacing
    intervals are injectable so tests can replay recorded streams deterministically;
    ``rate_limit=0`` prints on every message.
    """

    def __init__(
        self,
        out: TextIO,
        *,
        desc: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        rate_limit: float = _DISPLAY_INTERVAL,
        tick: float = _TICK_INTERVAL,
        truncate_names: bool | None = None,
        color: bool = True,
        debug: bool = False,
    ) -> None:
        self._out = out
        self._desc = desc or ""
        self._clock = clock
        self._rate = rate_limit
        self.tick = tick
        if truncate_names is None:
            truncate_names = os.environ.get("PROGRESS_NO_TRUNC") == "0"
        self._trunc = truncate_names
        self._color = color
        self._debug = debug
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._buf = bytearray()
        # trace
        self._by: dict[str, _PV] = {}
        self._groups: dict[str, _PV] = {}
        self._vertexes: list[_PV] = []
        self._updates: dict[str, None] = {}
        self._open: dict[str, None] = {}
        # textMux
        self._current = ""
        self._last: dict[str, tuple[int, int]] = {}
        self._not_first = False
        self._next_index = 0
        self._last_allowed: float | None = None
        self._warnings: list[_Warn] = []
        self._finished = False

    # ------------------------------------------------------------------ public
    def feed(self, resp: control_pb2.StatusResponse) -> None:
        """Merge one message and print what buildx would print on receiving it."""
        self._update(resp)
        if self._rate > 0:
            now = self._clock()
            if self._last_allowed is not None and now - self._last_allowed < self._rate:
                return
            self._last_allowed = now
        self.refresh()

    def refresh(self) -> None:
        """Print pending updates (buildx does this on a 150 ms ticker while idle)."""
        self._print()
        self._flush()

    def finish(self, *, warnings: bool = True) -> None:
        """Flush pending output, print the failed steps' log block and the warning summary."""
        if self._finished:
            return
        self._finished = True
        self._print()
        self._print_error_logs()
        text = self._decoder.decode(bytes(self._buf), final=True)
        self._buf.clear()
        if warnings:
            text += _format_warnings(self._warnings, debug=self._debug, color=self._color)
        self._write_text(text)

    async def consume(self, stream: AsyncIterable[control_pb2.StatusResponse]) -> None:
        """Feed every message of ``stream``, refreshing on the idle ticker; then return.

        Call ``finish`` afterwards (also when the stream raised).
        """
        it = aiter(stream)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.tick
        nxt: asyncio.Task[control_pb2.StatusResponse] | None = None
        try:
            while True:
                if nxt is None:
                    nxt = asyncio.ensure_future(anext(it))
                done, _ = await asyncio.wait({nxt}, timeout=max(0.0, deadline - loop.time()))
                if not done:
                    self.refresh()
                    deadline += self.tick
                    if deadline < loop.time():
                        deadline = loop.time() + self.tick
                    continue
                task, nxt = nxt, None
                try:
                    resp = task.result()
                except StopAsyncIteration:
                    return
                self.feed(resp)
                deadline = loop.time() + self.tick
        finally:
            if nxt is not None and not nxt.done():
                nxt.cancel()

    def step_of(self, digest: str) -> int | None:
        """The ``#N`` printed for a vertex digest (or group id), if it was printed yet."""
        v = self._by.get(digest)
        return v.index if v is not None and v.index else None

    @property
    def warnings(self) -> list[bytes]:
        """Short texts of all warnings received, in order."""
        return [w.short for w in self._warnings]

    # ------------------------------------------------------------------ output
    def _w(self, b: bytes) -> None:
        self._buf += b

    def _flush(self) -> None:
        if not self._buf:
            return
        text = self._decoder.decode(bytes(self._buf))
        self._buf.clear()
        self._write_text(text)

    def _write_text(self, text: str) -> None:
        if not text:
            return
        self._out.write(text)
        self._out.flush()

    # ------------------------------------------------------------------ trace.update
    def _set_open(self, v: _PV) -> None:
        if v.started and not v.completed and not v.hidden:
            self._open[v.digest] = None
        else:
            self._open.pop(v.digest, None)

    def _update(self, resp: control_pb2.StatusResponse) -> None:
        # progressui trace.update handles vertexes, groups, statuses, warnings, then logs;
        # warnings and logs touch disjoint state, so ListFields' field-number order (logs
        # before warnings) is equivalent, and one ListFields call is cheaper than four
        # repeated-field accesses.
        now = self._clock()
        for fd, items in resp.ListFields():
            num = fd.number
            if num == 3:
                self._update_logs(items, now)
            elif num == 1:
                self._update_vertexes(items, now)
            elif num == 2:
                self._update_statuses(items, now)
            elif num == 4:
                self._update_warnings(items, now)

    def _update_vertexes(self, vertexes: Iterable[control_pb2.Vertex], now: float) -> None:
        by = self._by
        groups: dict[str, None] = {}
        for pv in vertexes:
            if pv.HasField("progressGroup"):
                pg = pv.progressGroup
                g = self._groups.get(pg.id)
                if g is None:
                    g = _PV(pg.id, pg.name, group=True)
                    self._groups[pg.id] = g
                    by[pg.id] = g
                groups[pg.id] = None
                assert g.subs is not None
                g.subs[pv.digest] = _Sub(pv)
                by[pv.digest] = g
                continue
            prev = by.get(pv.digest)
            v = prev if prev is not None else _PV(pv.digest)
            if prev is None:
                by[pv.digest] = v
            started = _ts(pv.started) if pv.HasField("started") else None
            if started is not None:
                # triggerVertexEvent; a non-nil ``completed`` always counts as a change
                # because Go compares the two *time.Time pointers.
                p = v.prev
                if (
                    p is None
                    or pv.HasField("completed")
                    or p != (pv.name, started, pv.cached, pv.error)
                ):
                    v.bump(now)
                    self._updates[v.digest] = None
                v.prev = (pv.name, started, pv.cached, pv.error)
                if prev is None or not prev.started:
                    self._vertexes.append(v)
            if not (prev is not None and prev.started and started is None):
                # "allow a duplicate initial vertex that shouldn't reset state"
                v.name = pv.name
                v.cached = pv.cached
                v.error = pv.error
            if started is not None:
                stop = _ts(pv.completed) if pv.HasField("completed") else None
                v.intervals[started] = stop
                v.merged = merge_intervals(v.intervals.items())
                self._set_open(v)
        for gid in groups:
            self._refresh_group(self._groups[gid], now)

    def _update_statuses(self, statuses: Iterable[control_pb2.VertexStatus], now: float) -> None:
        for ps in statuses:
            v = self._by.get(ps.vertex)
            if v is None:
                continue
            st = _Status(ps)
            old = v.by_id.get(ps.ID)
            if old is None:
                v.by_id[ps.ID] = st
                if st.started is not None:
                    v.statuses.append(st)
            else:
                if st.started is not None and old.started is None:
                    v.statuses.append(old)
                old.current, old.total, old.timestamp = st.current, st.total, st.timestamp
                old.started, old.completed = st.started, st.completed
            v.status_updates[ps.ID] = None
            self._updates[v.digest] = None
            v.bump(now)

    def _update_warnings(self, warnings: Iterable[control_pb2.VertexWarning], now: float) -> None:
        for pw in warnings:
            w = _Warn(pw)
            self._warnings.append(w)
            v = self._by.get(pw.vertex)
            if v is None:
                continue
            v.warnings.append(w.short)
            v.bump(now)  # progressui does not mark the step updated for a warning

    def _update_logs(self, logs: Iterable[control_pb2.VertexLog], now: float) -> None:
        by, updates = self._by, self._updates
        for pl in logs:
            v = by.get(pl.vertex)
            if v is None:
                continue
            self._add_log(v, _ts(pl.timestamp), pl.msg)
            updates[v.digest] = None
            v.bump(now)

    def _refresh_group(self, g: _PV, now: float) -> None:
        assert g.subs is not None
        changed = newly_revealed = False
        was_hidden = g.hidden
        cached = True
        error = g.error
        for sub in g.subs.values():
            if sub.started is not None:
                if sub.started not in g.intervals or g.intervals[sub.started] != sub.completed:
                    changed = True
                g.intervals[sub.started] = sub.completed
                if not sub.weak:
                    g.hidden = False
            cached = cached and sub.cached
            if not error:
                error = sub.error
            else:
                g.hidden = False
        if g.cached != cached or g.error != error:
            changed = True
        g.cached, g.error = cached, error
        if not g.hidden and was_hidden:
            changed = newly_revealed = True
        g.merged = merge_intervals(g.intervals.items())
        self._set_open(g)
        if g.hidden:
            return
        if newly_revealed:
            self._vertexes.append(g)
        if changed:
            g.bump(now)
            self._updates[g.digest] = None

    @staticmethod
    def _add_log(v: _PV, ts: int, data: bytes) -> None:
        if not data:
            v.logs_partial = True  # progressui's split() reports an empty chunk as partial
            return
        parts = data.split(b"\n")
        complete = parts[-1] == b""
        if complete:
            parts.pop()
        for i, part in enumerate(parts):
            if i == 0 and v.logs_partial and v.logs:
                v.logs[-1] += part
                continue
            sec = go_seconds(ts - v.merged[-1][0]) if v.merged else 0.0
            prec = 3 if sec < 10 else 2 if sec < 100 else 1
            v.logs.append(b"%.*f %s" % (prec, sec, part))
        v.logs_partial = not complete

    # ------------------------------------------------------------------ textMux
    def _print(self) -> None:
        by = self._by
        completed: dict[str, None] = {}
        rest: dict[str, None] = {}
        for d in self._updates:
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
            for d in self._open:
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
            speed = _go_div(float(v.count), tm)
            over = tm > _MAX_DELAY and d != current
            stats[d] = [tm, speed, 0.0, 1.0 if over else 0.0]
            total += speed
            if over or not best or stats[best][1] < speed:
                best = d
        for s in stats.values():
            s[2] = _go_div(s[1], total)

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
        if cs is not None and best and _go_div(1.0, 1.0 - cs[2]) * _ANTI_FLICKER < cs[0]:
            self._print_vtx(best)

    def _name(self, name: str) -> bytes:
        b = name.encode()
        if self._trunc and len(b) > 72:
            return b[:72] + b"..."
        return b

    def _print_vtx(self, d: str) -> None:
        v = self._by.get(d)
        if v is None:
            return
        w = self._w
        if v.index == 0:
            self._next_index += 1
            v.index = self._next_index
        idx = b"#%d " % v.index
        if d != self._current:
            if self._current:
                old = self._by[self._current]
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

        is_open = False
        if v.status_updates:
            for s in v.statuses:
                if s.id not in v.status_updates:
                    continue
                last = self._last.get(s.id)
                if last is not None and s.completed is None:
                    delta = (s.current - last[0]) / s.total if s.total > 0 else 0.0
                    if delta < _MIN_PROGRESS_DELTA and s.timestamp - last[1] < _MIN_TIME_DELTA_NS:
                        continue
                self._last[s.id] = (s.current, s.timestamp)
                if s.total != 0:
                    size = f" {format_bytes(s.current)} / {format_bytes(s.total)}"
                elif s.current != 0:
                    size = f" {format_bytes(s.current)}"
                else:
                    size = ""
                tm = ""
                end = s.completed if s.completed is not None else s.timestamp
                if s.started is not None:
                    diff = go_seconds(end - s.started)
                    if diff > 0.01:
                        tm = f" {diff:.1f}s"
                if s.completed is not None:
                    tm += " done"
                else:
                    is_open = True
                w(idx + f"{s.id}{size}{tm}\n".encode())
            v.status_updates = {}

        while v.warning_idx < len(v.warnings):
            w(idx + b"WARN: " + v.warnings[v.warning_idx] + b"\n")
            v.warning_idx += 1

        logs = v.logs
        if logs:
            last_i = len(logs) - 1
            partial = v.logs_partial
            for i, line in enumerate(logs):
                if i == 0 and v.logs_offset != 0:
                    line = line[v.logs_offset :]
                    w(line)
                else:
                    w(idx + line)
                if i != last_i or not partial:
                    w(b"\n")
                ring = v.ring
                if ring is None:
                    ring = v.ring = [None] * LOGS_BUFFER_SIZE
                # buildx keeps these quirks: every line of a batch that ends with a partial
                # line lands in the same ring slot, and a continued line is stored without
                # its already printed head.
                ring[v.ring_pos] = line
                if not partial:
                    v.ring_pos = (v.ring_pos + 1) % LOGS_BUFFER_SIZE
            if partial:
                v.logs = logs[-1:]
                v.logs_offset = len(v.logs[0])
            else:
                v.logs = []
                v.logs_offset = 0

        self._current = d
        if v.completed and not is_open:
            self._current = ""
            v.count = 0
            if v.logs_partial:
                w(b"\n")
            if v.error:
                if v.error.endswith(CANCELED_SUFFIX):
                    w(b"#%d CANCELED\n" % v.index)
                else:
                    w(idx + b"ERROR: " + v.error.encode() + b"\n")
            elif v.cached:
                w(b"#%d CACHED\n" % v.index)
            else:
                took = b""
                if v.merged:
                    dt = 0.0
                    for start, stop in v.merged:
                        end_ns = stop if stop is not None else time.time_ns()
                        dt += go_seconds(end_ns - start)
                    took = b" %.1fs" % dt
                w(b"#%d DONE%s\n" % (v.index, took))
        self._updates.pop(d, None)

    def _print_error_logs(self) -> None:
        w = self._w
        for v in self._vertexes:
            if not v.error or v.error.endswith(CANCELED_SUFFIX):
                continue
            w(b"------\n")
            w(b" > " + v.name.encode() + b":\n")
            for line in v.logs:
                w(line + b"\n")
            ring = v.ring
            if ring is not None:
                n = len(ring)
                for k in range(n):
                    val = ring[(v.ring_pos + k) % n]
                    if val is not None:
                        w(val + b"\n")
            w(b"------\n")
