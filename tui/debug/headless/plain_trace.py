"""progressui's ``trace``: ``Control.Status`` messages merged into per-step state.

Follows ``trace.update`` of buildkit's ``util/progress/progressui/display.go`` (as vendored by
buildx 0.13): vertexes (and progress groups), statuses, warnings and logs update their step,
mark it as updated for the printer and count the update for the printer's fair share.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from tui.debug.headless.plain_vertex import GroupMember, PlainStatus, PlainVertex
from tui.debug.headless.warnings_summary import Warn
from tui.debug.model.timing import merge_intervals, timestamp_ns

if TYPE_CHECKING:
    from tui.buildkit.proto import control_pb2

__all__ = ["Trace"]


class Trace:
    """The steps of one build as the plain printer sees them."""

    __slots__ = ("by", "groups", "open", "updates", "vertexes", "warnings")

    def __init__(self) -> None:
        #: vertex digest (or group id, or a group member's digest) -> its step
        self.by: dict[str, PlainVertex] = {}
        self.groups: dict[str, PlainVertex] = {}
        #: steps in the order they started (the final error block's order)
        self.vertexes: list[PlainVertex] = []
        #: digests updated since they were last printed, in update order
        self.updates: dict[str, None] = {}
        #: digests of started, unfinished, visible steps
        self.open: dict[str, None] = {}
        self.warnings: list[Warn] = []

    def update(self, resp: control_pb2.StatusResponse, now: float) -> None:
        """Merge one status message received at monotonic time ``now``."""
        # progressui trace.update handles vertexes, groups, statuses, warnings, then logs;
        # warnings and logs touch disjoint state, so ListFields' field-number order (logs
        # before warnings) is equivalent, and one ListFields call is cheaper than four
        # repeated-field accesses.
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

    def _set_open(self, v: PlainVertex) -> None:
        if v.started and not v.completed and not v.hidden:
            self.open[v.digest] = None
        else:
            self.open.pop(v.digest, None)

    def _update_vertexes(self, vertexes: Iterable[control_pb2.Vertex], now: float) -> None:
        by = self.by
        groups: dict[str, None] = {}
        for pv in vertexes:
            if pv.HasField("progressGroup"):
                pg = pv.progressGroup
                g = self.groups.get(pg.id)
                if g is None:
                    g = PlainVertex(pg.id, pg.name, group=True)
                    self.groups[pg.id] = g
                    by[pg.id] = g
                groups[pg.id] = None
                assert g.subs is not None
                g.subs[pv.digest] = GroupMember(pv)
                by[pv.digest] = g
                continue
            prev = by.get(pv.digest)
            v = prev if prev is not None else PlainVertex(pv.digest)
            if prev is None:
                by[pv.digest] = v
            started = timestamp_ns(pv.started) if pv.HasField("started") else None
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
                    self.updates[v.digest] = None
                v.prev = (pv.name, started, pv.cached, pv.error)
                if prev is None or not prev.started:
                    self.vertexes.append(v)
            if not (prev is not None and prev.started and started is None):
                # "allow a duplicate initial vertex that shouldn't reset state"
                v.name = pv.name
                v.cached = pv.cached
                v.error = pv.error
            if started is not None:
                stop = timestamp_ns(pv.completed) if pv.HasField("completed") else None
                v.intervals[started] = stop
                v.merged = merge_intervals(v.intervals.items())
                self._set_open(v)
        for gid in groups:
            self._refresh_group(self.groups[gid], now)

    def _update_statuses(self, statuses: Iterable[control_pb2.VertexStatus], now: float) -> None:
        for ps in statuses:
            v = self.by.get(ps.vertex)
            if v is None:
                continue
            st = PlainStatus(ps)
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
            self.updates[v.digest] = None
            v.bump(now)

    def _update_warnings(self, warnings: Iterable[control_pb2.VertexWarning], now: float) -> None:
        for pw in warnings:
            w = Warn(pw)
            self.warnings.append(w)
            v = self.by.get(pw.vertex)
            if v is None:
                continue
            v.warnings.append(w.short)
            v.bump(now)  # progressui does not mark the step updated for a warning

    def _update_logs(self, logs: Iterable[control_pb2.VertexLog], now: float) -> None:
        by, updates = self.by, self.updates
        for pl in logs:
            v = by.get(pl.vertex)
            if v is None:
                continue
            v.add_log(timestamp_ns(pl.timestamp), pl.msg)
            updates[v.digest] = None
            v.bump(now)

    def _refresh_group(self, g: PlainVertex, now: float) -> None:
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
            self.vertexes.append(g)
        if changed:
            g.bump(now)
            self.updates[g.digest] = None
