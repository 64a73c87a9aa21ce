"""One step of ``--progress=plain`` output: progressui's per-vertex state and the lines it prints.

The state is what buildkit's ``util/progress/progressui`` (as vendored by buildx 0.13) keeps
per ``vertex`` in ``display.go``; the lines are the body of ``printer.go``'s ``printVtx``:
status lines (``transferring ...`` throttled per status id), ``WARN:`` lines, log lines and
the closing ``DONE``/``CACHED``/``ERROR``/``CANCELED`` line, plus the failed step's block of
its last log lines printed at the end of the build.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from tui.debug.model.progressui import CANCELED_SUFFIX
from tui.debug.model.textfmt import format_bytes
from tui.debug.model.timing import Interval, go_seconds, timestamp_ns

if TYPE_CHECKING:
    from tui.buildkit.proto import control_pb2

__all__ = ["LOGS_BUFFER_SIZE", "GroupMember", "PlainStatus", "PlainVertex", "Write"]

#: Log lines of a failed step repeated in the final error block.
LOGS_BUFFER_SIZE = 10

_MIN_TIME_DELTA_NS = 5_000_000_000
_MIN_PROGRESS_DELTA = 0.05

#: Appends bytes to the printer's output buffer.
Write = Callable[[bytes], object]


class PlainStatus:
    """progressui's ``status`` of one status id (e.g. ``transferring context:``)."""

    __slots__ = ("completed", "current", "id", "started", "timestamp", "total")

    def __init__(self, ps: control_pb2.VertexStatus) -> None:
        self.id = ps.ID
        self.current = ps.current
        self.total = ps.total
        self.timestamp = timestamp_ns(ps.timestamp) if ps.HasField("timestamp") else 0
        self.started = timestamp_ns(ps.started) if ps.HasField("started") else None
        self.completed = timestamp_ns(ps.completed) if ps.HasField("completed") else None


class GroupMember:
    """A progress-group member as the group sees it."""

    __slots__ = ("cached", "completed", "error", "started", "weak")

    def __init__(self, pv: control_pb2.Vertex) -> None:
        self.started = timestamp_ns(pv.started) if pv.HasField("started") else None
        self.completed = timestamp_ns(pv.completed) if pv.HasField("completed") else None
        self.cached = pv.cached
        self.error = pv.error
        self.weak = pv.progressGroup.weak


class PlainVertex:
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
        self.statuses: list[PlainStatus] = []
        self.by_id: dict[str, PlainStatus] = {}
        self.status_updates: dict[str, None] = {}
        self.warnings: list[bytes] = []
        self.warning_idx = 0
        self.hidden = group
        self.subs: dict[str, GroupMember] | None = {} if group else None

    @property
    def started(self) -> bool:
        """Whether the step has run at least once."""
        return bool(self.merged)

    @property
    def completed(self) -> bool:
        """Whether the step's latest run has ended."""
        return bool(self.merged) and self.merged[-1][1] is not None

    def bump(self, now: float) -> None:
        """Count one update (the fair share of the printer weighs steps by update rate)."""
        if self.count == 0:
            self.last_block_time = now
        self.count += 1

    def add_log(self, ts: int, data: bytes) -> None:
        """Add a log chunk stamped ``ts``: lines get the seconds since the latest start."""
        if not data:
            self.logs_partial = True  # progressui's split() reports an empty chunk as partial
            return
        parts = data.split(b"\n")
        complete = parts[-1] == b""
        if complete:
            parts.pop()
        for i, part in enumerate(parts):
            if i == 0 and self.logs_partial and self.logs:
                self.logs[-1] += part
                continue
            sec = go_seconds(ts - self.merged[-1][0]) if self.merged else 0.0
            prec = 3 if sec < 10 else 2 if sec < 100 else 1
            self.logs.append(b"%.*f %s" % (prec, sec, part))
        self.logs_partial = not complete

    # ------------------------------------------------------------------ printVtx body
    def write_statuses(self, w: Write, idx: bytes, last: dict[str, tuple[int, int]]) -> bool:
        """Write the updated status lines; ``last`` throttles them per id. True if one is open."""
        is_open = False
        if not self.status_updates:
            return is_open
        for s in self.statuses:
            if s.id not in self.status_updates:
                continue
            prev = last.get(s.id)
            if prev is not None and s.completed is None:
                delta = (s.current - prev[0]) / s.total if s.total > 0 else 0.0
                if delta < _MIN_PROGRESS_DELTA and s.timestamp - prev[1] < _MIN_TIME_DELTA_NS:
                    continue
            last[s.id] = (s.current, s.timestamp)
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
        self.status_updates = {}
        return is_open

    def write_warnings(self, w: Write, idx: bytes) -> None:
        """Write the warnings not printed yet."""
        while self.warning_idx < len(self.warnings):
            w(idx + b"WARN: " + self.warnings[self.warning_idx] + b"\n")
            self.warning_idx += 1

    def write_logs(self, w: Write, idx: bytes) -> None:
        """Write the pending log lines (continuing a partial one) and keep the last ones."""
        logs = self.logs
        if not logs:
            return
        last_i = len(logs) - 1
        partial = self.logs_partial
        for i, line in enumerate(logs):
            if i == 0 and self.logs_offset != 0:
                line = line[self.logs_offset :]
                w(line)
            else:
                w(idx + line)
            if i != last_i or not partial:
                w(b"\n")
            ring = self.ring
            if ring is None:
                ring = self.ring = [None] * LOGS_BUFFER_SIZE
            # buildx keeps these quirks: every line of a batch that ends with a partial
            # line lands in the same ring slot, and a continued line is stored without
            # its already printed head.
            ring[self.ring_pos] = line
            if not partial:
                self.ring_pos = (self.ring_pos + 1) % LOGS_BUFFER_SIZE
        if partial:
            self.logs = logs[-1:]
            self.logs_offset = len(self.logs[0])
        else:
            self.logs = []
            self.logs_offset = 0

    def write_end(self, w: Write, idx: bytes) -> None:
        """Write the closing line of a completed step (ending a partial log line first)."""
        if self.logs_partial:
            w(b"\n")
        if self.error:
            if self.error.endswith(CANCELED_SUFFIX):
                w(b"#%d CANCELED\n" % self.index)
            else:
                w(idx + b"ERROR: " + self.error.encode() + b"\n")
        elif self.cached:
            w(b"#%d CACHED\n" % self.index)
        else:
            took = b""
            if self.merged:
                dt = 0.0
                for start, stop in self.merged:
                    end_ns = stop if stop is not None else time.time_ns()
                    dt += go_seconds(end_ns - start)
                took = b" %.1fs" % dt
            w(b"#%d DONE%s\n" % (self.index, took))

    def write_error_block(self, w: Write) -> None:
        """Write a failed step's last log lines between ``------`` (not for a cancellation)."""
        if not self.error or self.error.endswith(CANCELED_SUFFIX):
            return
        w(b"------\n")
        w(b" > " + self.name.encode() + b":\n")
        for line in self.logs:
            w(line + b"\n")
        ring = self.ring
        if ring is not None:
            n = len(ring)
            for k in range(n):
                val = ring[(self.ring_pos + k) % n]
                if val is not None:
                    w(val + b"\n")
        w(b"------\n")
