"""UI-free model of a BuildKit build, fed with ``Control.Status`` responses.

``BuildGraph.apply`` merges one ``StatusResponse`` at a time. Every message only carries
the items that changed, so the work done per message is proportional to its size: no
step ever rescans the whole graph.

Merge rules follow buildkit's ``util/progress/progressui/display.go`` (``trace.update``):

* a ``Vertex`` item replaces the vertex's fields (BuildKit always sends the whole vertex),
  except that a repeated *initial* vertex (no ``started``) does not reset a started one;
* every ``started`` value opens an interval keyed by its start time; the vertex's run time
  is the sum of its merged intervals and it is complete when the newest merged interval
  has a stop time;
* vertices carrying a ``progressGroup`` are shown as one step per group; the group appears
  once one of its non-weak members has started (or one of them failed).

Group numbers follow the order in which progressui's trace first sees a step start (a cached
step counts: BuildKit sends it with ``started == completed``). That is the order of buildx's
tty view and of its error-log block. ``--progress=plain`` numbers a step when it first
*prints* it, which is the same order unless steps run concurrently; see
``tui.debug.headless.plain.PlainPrinter.step_of`` for that exact numbering.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from tui.debug.model.logbuffer import DEFAULT_LOG_CAP, LogBuffer
from tui.debug.model.progressui import CANCELED_SUFFIX
from tui.debug.model.timing import (
    Interval,
    go_seconds,
    merge_intervals,
    ns_to_datetime,
    timestamp_ns,
)

if TYPE_CHECKING:
    from tui.buildkit.proto import control_pb2

__all__ = [
    "CANCELED_SUFFIX",
    "BuildGraph",
    "BuildWarning",
    "Changes",
    "Group",
    "OpInfo",
    "ProgressGroup",
    "SourceRange",
    "StatusItem",
    "Vertex",
    "VertexSource",
    "VertexState",
]


# StatusResponse field numbers
_VERTEXES, _STATUSES, _LOGS, _WARNINGS = 1, 2, 3, 4
_NS = 1_000_000_000


class VertexState(enum.StrEnum):
    """Display state of a vertex."""

    QUEUED = "queued"
    RUNNING = "running"
    CACHED = "cached"
    DONE = "done"
    ERROR = "error"
    CANCELED = "canceled"


@dataclass(slots=True, frozen=True)
class ProgressGroup:
    """A ``pb.ProgressGroup``: vertices shown together as one step."""

    id: str
    name: str
    weak: bool


@dataclass(slots=True)
class StatusItem:
    """A ``VertexStatus`` (e.g. ``transferring context:``), replaced on every update."""

    id: str
    vertex: str
    name: str
    current: int
    total: int
    timestamp_ns: int | None
    started_ns: int | None
    completed_ns: int | None

    @property
    def done(self) -> bool:
        """Whether the status has a completion time."""
        return self.completed_ns is not None

    @property
    def started(self) -> datetime | None:
        """Start time as a UTC datetime."""
        return None if self.started_ns is None else ns_to_datetime(self.started_ns)

    @property
    def completed(self) -> datetime | None:
        """Completion time as a UTC datetime."""
        return None if self.completed_ns is None else ns_to_datetime(self.completed_ns)


@dataclass(slots=True, frozen=True)
class SourceRange:
    """A ``pb.Range`` in a source file (1-based lines)."""

    start_line: int
    start_character: int
    end_line: int
    end_character: int


@dataclass(slots=True, frozen=True)
class VertexSource:
    """Where a vertex comes from in the build's source (a Dockerfile's lines)."""

    filename: str
    ranges: tuple[SourceRange, ...]

    def describe(self) -> str:
        """``Dockerfile:3`` or ``Dockerfile:3-5``."""
        if not self.ranges:
            return self.filename
        first = min(r.start_line for r in self.ranges)
        last = max(r.end_line for r in self.ranges)
        return f"{self.filename}:{first}" + (f"-{last}" if last > first else "")


@dataclass(slots=True, frozen=True)
class OpInfo:
    """What this build's own LLB definition says of a vertex.

    A vertex shared with another build on the daemon carries that build's name in the status
    stream (the daemon names it after the build that asked first); this is ours.
    """

    name: str
    inputs: tuple[str, ...]
    source: VertexSource | None


@dataclass(slots=True, frozen=True)
class BuildWarning:
    """A ``VertexWarning`` (e.g. a Dockerfile lint warning)."""

    vertex: str
    level: int
    short: str
    detail: tuple[str, ...]
    url: str
    filename: str
    source: bytes
    language: str
    ranges: tuple[SourceRange, ...]
    has_source: bool

    @property
    def line_ranges(self) -> list[tuple[int, int]]:
        """``(start_line, end_line)`` pairs, as ``format_source_error`` takes them."""
        return [(r.start_line, r.end_line) for r in self.ranges]


def _cancelled(error: str) -> bool:
    return error.endswith(CANCELED_SUFFIX)


class Vertex:
    """A build vertex and everything the status stream said about it."""

    __slots__ = (
        "_merged",
        "cached",
        "completed_ns",
        "declared",
        "digest",
        "error",
        "inferred",
        "inputs",
        "intervals",
        "logs",
        "name",
        "progress_group",
        "seq",
        "source",
        "started_ns",
        "state",
        "statuses",
        "step",
        "warnings",
    )

    def __init__(self, digest: str, seq: int, log_cap: int) -> None:
        self.digest = digest
        #: Position in first-seen order (0-based).
        self.seq = seq
        #: False while only logs/statuses referenced this digest (no Vertex item yet).
        self.declared = False
        self.name = ""
        self.inputs: tuple[str, ...] = ()
        self.cached = False
        #: Done elsewhere: a dependent started although this build's status never showed
        #: this vertex run (shared with another build, or not needed thanks to the cache).
        self.inferred = False
        #: Its lines in the Dockerfile, from this build's definition.
        self.source: VertexSource | None = None
        self.error = ""
        self.started_ns: int | None = None
        self.completed_ns: int | None = None
        self.progress_group: ProgressGroup | None = None
        #: start ns -> stop ns (or None), one entry per distinct ``started`` value.
        self.intervals: dict[int, int | None] = {}
        self._merged: list[Interval] = []
        self.state = VertexState.QUEUED
        #: Group number (1-based) once started; group members use their group's number.
        self.step: int | None = None
        self.logs = LogBuffer(log_cap)
        self.statuses: dict[str, StatusItem] = {}
        self.warnings: list[BuildWarning] = []

    def __repr__(self) -> str:
        return f"Vertex({self.digest[:19]!r}, {self.name!r}, {self.state.value}, step={self.step})"

    @property
    def merged_intervals(self) -> list[Interval]:
        """Run intervals merged as progressui merges them."""
        return self._merged

    @property
    def is_started(self) -> bool:
        """Whether the vertex has started at least once."""
        return bool(self._merged)

    @property
    def is_completed(self) -> bool:
        """Whether the newest run interval has ended."""
        return bool(self._merged) and self._merged[-1][1] is not None

    @property
    def started(self) -> datetime | None:
        """``started`` of the last vertex update, as a UTC datetime."""
        return None if self.started_ns is None else ns_to_datetime(self.started_ns)

    @property
    def completed(self) -> datetime | None:
        """``completed`` of the last vertex update, as a UTC datetime."""
        return None if self.completed_ns is None else ns_to_datetime(self.completed_ns)

    @property
    def first_started_ns(self) -> int | None:
        """Start of the earliest run interval."""
        return self._merged[0][0] if self._merged else None

    def duration(self, now_ns: int | None = None) -> float | None:
        """Run time in seconds (sum of merged intervals, as ``#N DONE 1.2s`` shows it).

        An open interval counts up to ``now_ns`` (default: the current time).
        """
        if not self._merged:
            return None
        total = 0.0
        for start, stop in self._merged:
            if stop is None:
                stop = now_ns if now_ns is not None else _now_ns()
            total += go_seconds(stop - start)
        return total

    def _derive_state(self) -> VertexState:
        if self.error:
            return VertexState.CANCELED if _cancelled(self.error) else VertexState.ERROR
        if self._merged:
            if self._merged[-1][1] is not None:
                return VertexState.CACHED if self.cached else VertexState.DONE
            return VertexState.RUNNING
        return VertexState.CACHED if self.inferred else VertexState.QUEUED


class Group:
    """A progress group: member vertices shown (and numbered) as one step.

    Hidden until a non-weak member has started; ``cached`` when all members are, ``error``
    is the first member error.
    """

    __slots__ = ("cached", "error", "hidden", "id", "intervals", "members", "name", "step")

    def __init__(self, group: ProgressGroup) -> None:
        self.id = group.id
        self.name = group.name
        self.members: dict[str, None] = {}
        self.hidden = True
        self.step: int | None = None
        self.cached = False
        self.error = ""
        self.intervals: dict[int, int | None] = {}

    def __repr__(self) -> str:
        return f"Group({self.id!r}, {self.name!r}, step={self.step}, members={len(self.members)})"


class Changes:
    """What one ``apply`` call changed (sets of vertex digests)."""

    __slots__ = ("logs", "new_steps", "statuses", "vertices", "warnings")

    def __init__(self) -> None:
        #: Vertices whose ``Vertex`` record was updated.
        self.vertices: set[str] = set()
        #: Vertices with updated status items.
        self.statuses: set[str] = set()
        #: Vertices that received log output.
        self.logs: set[str] = set()
        #: Vertices that received warnings.
        self.warnings: set[str] = set()
        #: Digests (or group ids) that received a step number, in numbering order.
        self.new_steps: list[str] = []

    def __repr__(self) -> str:
        return (
            f"Changes(vertices={self.vertices}, statuses={self.statuses}, logs={self.logs}, "
            f"warnings={self.warnings}, new_steps={self.new_steps})"
        )

    @property
    def digests(self) -> set[str]:
        """Every digest touched by the message."""
        return self.vertices | self.statuses | self.logs | self.warnings

    def __bool__(self) -> bool:
        return bool(self.vertices or self.statuses or self.logs or self.warnings)

    def merge(self, other: Changes) -> None:
        """Add ``other``'s changes to these (to batch several messages into one frame)."""
        self.vertices |= other.vertices
        self.statuses |= other.statuses
        self.logs |= other.logs
        self.warnings |= other.warnings
        self.new_steps.extend(other.new_steps)


def _now_ns() -> int:
    return time.time_ns()


class BuildGraph:
    """Incrementally merged state of one build's status stream."""

    def __init__(self, log_cap: int = DEFAULT_LOG_CAP) -> None:
        self.log_cap = log_cap
        self._vertices: dict[str, Vertex] = {}
        self._groups: dict[str, Group] = {}
        self._steps: list[str] = []
        self._dependents: dict[str, list[str]] = {}
        self._open: dict[str, None] = {}
        self._errors: dict[str, None] = {}
        self._counts: dict[VertexState, int] = dict.fromkeys(VertexState, 0)
        self._warnings: list[BuildWarning] = []
        self._ops: dict[str, OpInfo] = {}
        self.first_started_ns: int | None = None
        self.last_completed_ns: int | None = None
        #: Number of ``StatusResponse`` messages applied.
        self.messages = 0

    # ----------------------------------------------------------------- read access
    @property
    def vertices(self) -> Mapping[str, Vertex]:
        """All vertices by digest, in first-seen order."""
        return self._vertices

    def __len__(self) -> int:
        return len(self._vertices)

    def __contains__(self, digest: object) -> bool:
        return digest in self._vertices

    def __iter__(self) -> Iterator[Vertex]:
        return iter(self._vertices.values())

    def __getitem__(self, digest: str) -> Vertex:
        return self._vertices[digest]

    def get(self, digest: str) -> Vertex | None:
        """The vertex with this digest, if known."""
        return self._vertices.get(digest)

    @property
    def groups(self) -> Mapping[str, Group]:
        """Progress groups by id."""
        return self._groups

    @property
    def steps(self) -> Sequence[str]:
        """Group keys (vertex digest or group id) by step number; ``steps[n - 1]`` is #n."""
        return self._steps

    def step_of(self, digest: str) -> int | None:
        """Group number of a vertex digest or group id."""
        v = self._vertices.get(digest)
        if v is not None:
            return v.step
        g = self._groups.get(digest)
        return g.step if g is not None else None

    def vertex_for_step(self, step: int) -> Vertex | None:
        """The vertex numbered ``step``; for a group, its first member."""
        if not 1 <= step <= len(self._steps):
            return None
        key = self._steps[step - 1]
        v = self._vertices.get(key)
        if v is not None:
            return v
        g = self._groups[key]
        return self._vertices.get(next(iter(g.members)))

    def used_later(self, digest: str) -> bool:
        """Whether a vertex depending on ``digest`` (directly or not) has started.

        Its output then existed, even if this build's status never said so: a vertex shared
        with another build on the daemon reports its progress to the build that asked first.
        """
        seen: set[str] = set()
        todo = list(self._dependents.get(digest, ()))
        while todo:
            d = todo.pop()
            if d in seen:
                continue
            seen.add(d)
            v = self._vertices.get(d)
            if v is not None and v.state is not VertexState.QUEUED:
                return True
            todo += self._dependents.get(d, ())
        return False

    def dependents(self, digest: str) -> list[str]:
        """Digests of vertices that list ``digest`` among their inputs."""
        return list(self._dependents.get(digest, ()))

    @property
    def running(self) -> list[Vertex]:
        """Vertices currently running, in start order."""
        return [self._vertices[d] for d in self._open]

    def count(self, state: VertexState) -> int:
        """Number of declared vertices in ``state``."""
        return self._counts[state]

    @property
    def completed_count(self) -> int:
        """Declared vertices that finished (done, cached, error or canceled)."""
        c = self._counts
        return (
            c[VertexState.DONE]
            + c[VertexState.CACHED]
            + c[VertexState.ERROR]
            + c[VertexState.CANCELED]
        )

    @property
    def errors(self) -> list[Vertex]:
        """Vertices with an error (cancellations included), in the order errors arrived."""
        return [self._vertices[d] for d in self._errors]

    @property
    def failed(self) -> Vertex | None:
        """The failed vertex: the first to report an error that is not a cancellation.

        (The daemon's ``errdefs.Vertex`` error detail names it authoritatively.)
        """
        for d in self._errors:
            v = self._vertices[d]
            if not _cancelled(v.error):
                return v
        return None

    @property
    def warnings(self) -> list[BuildWarning]:
        """All warnings in arrival order."""
        return self._warnings

    def duration(self, now_ns: int | None = None) -> float | None:
        """Wall time from the first start to the last completion, in seconds.

        While some vertex is still running the end is ``now_ns`` (default: now).
        """
        if self.first_started_ns is None:
            return None
        end = self.last_completed_ns
        if self._open or end is None:
            end = now_ns if now_ns is not None else _now_ns()
        return go_seconds(end - self.first_started_ns)

    # ----------------------------------------------------------------- updates
    def _vertex(self, digest: str) -> Vertex:
        v = self._vertices.get(digest)
        if v is None:
            v = Vertex(digest, len(self._vertices), self.log_cap)
            self._vertices[digest] = v
        return v

    def apply(self, resp: control_pb2.StatusResponse) -> Changes:
        """Merge one ``StatusResponse``; return what changed."""
        self.messages += 1
        ch = Changes()
        # ListFields yields only the non-empty repeated fields, in field-number order
        # (vertexes, statuses, logs, warnings): one call instead of four slow accesses.
        for fd, items in resp.ListFields():
            num = fd.number
            if num == _LOGS:
                self._apply_logs(items, ch)
            elif num == _VERTEXES:
                groups_seen: dict[str, None] = {}
                for pv in items:
                    self._apply_vertex(pv, ch, groups_seen)
                for gid in groups_seen:
                    self._refresh_group(self._groups[gid], ch)
            elif num == _STATUSES:
                self._apply_statuses(items, ch)
            elif num == _WARNINGS:
                self._apply_warnings(items, ch)
        return ch

    def _apply_vertex(
        self, pv: control_pb2.Vertex, ch: Changes, groups_seen: dict[str, None]
    ) -> None:
        v = self._vertex(pv.digest)
        has_started = pv.HasField("started")
        if v.declared and v.is_started and not has_started:
            # progressui: "allow a duplicate initial vertex that shouldn't reset state"
            if not v.inputs and pv.inputs:
                self._set_inputs(v, tuple(pv.inputs))
                ch.vertices.add(v.digest)
            return
        old_state = v.state if v.declared else None
        v.declared = True
        own = self._ops.get(pv.digest)
        v.name = pv.name
        if own is not None:
            v.name = own.name or pv.name
            v.source = own.source
        inputs = tuple(pv.inputs)
        if inputs != v.inputs:
            self._set_inputs(v, inputs)
        v.cached = pv.cached
        if pv.error and not v.error:
            self._errors[v.digest] = None
        elif not pv.error and v.error:
            self._errors.pop(v.digest, None)
        v.error = pv.error
        if pv.HasField("progressGroup"):
            pg = pv.progressGroup
            grp = ProgressGroup(pg.id, pg.name, pg.weak)
            v.progress_group = grp
            groups_seen[grp.id] = None
            g = self._groups.get(grp.id)
            if g is None:
                g = self._groups[grp.id] = Group(grp)
            g.members[v.digest] = None
        if has_started:
            start = timestamp_ns(pv.started)
            stop = timestamp_ns(pv.completed) if pv.HasField("completed") else None
            v.started_ns = start
            v.completed_ns = stop
            if start not in v.intervals or v.intervals[start] != stop:
                v.intervals[start] = stop
                v._merged = merge_intervals(v.intervals.items())
            if self.first_started_ns is None or start < self.first_started_ns:
                self.first_started_ns = start
            if stop is not None and (
                self.last_completed_ns is None or stop > self.last_completed_ns
            ):
                self.last_completed_ns = stop
            if v.step is None and v.progress_group is None:
                self._number(v.digest, ch)
                v.step = len(self._steps)
        else:
            v.started_ns = None
            v.completed_ns = None
        self._update_state(v, old_state)
        ch.vertices.add(v.digest)
        if has_started:
            self._infer_inputs(v, ch)

    def _update_state(self, v: Vertex, old_state: VertexState | None) -> None:
        new_state = v._derive_state()
        if new_state is not old_state:
            if old_state is not None:
                self._counts[old_state] -= 1
            self._counts[new_state] += 1
            v.state = new_state
        if new_state is VertexState.RUNNING:
            self._open[v.digest] = None
        else:
            self._open.pop(v.digest, None)

    def _infer_inputs(self, v: Vertex, ch: Changes) -> None:
        """A started vertex's inputs (and theirs) are done, whatever the stream said.

        A vertex shared with another build may report its run only to that build, and one
        whose dependents came from the cache may never run: either way it is shown cached
        instead of queued forever.
        """
        todo = list(v.inputs)
        own = self._ops.get(v.digest)
        if own is not None:
            todo.extend(own.inputs)
        while todo:
            d = todo.pop()
            iv = self._vertices.get(d)
            info = self._ops.get(d)
            if iv is None or not iv.declared:
                if info is None:
                    continue  # not known to be a vertex of this build
                iv = self._vertex(d)
                iv.declared = True
                iv.name = info.name
                iv.source = info.source
                self._set_inputs(iv, info.inputs)
                old_state = None
            elif iv.inferred or iv.is_started or iv.error:
                continue
            else:
                old_state = iv.state
            iv.inferred = True
            self._update_state(iv, old_state)
            ch.vertices.add(d)
            todo.extend(iv.inputs)
            if info is not None:
                todo.extend(info.inputs)

    def adopt(self, ops: Mapping[str, OpInfo]) -> Changes:
        """Take this build's own names and Dockerfile lines for its vertices.

        Called once the frontend has returned the definition; vertices already seen are
        renamed (a shared vertex may carry another build's name), and the inputs of started
        vertices are marked done.
        """
        ch = Changes()
        self._ops.update(ops)
        for digest, info in ops.items():
            v = self._vertices.get(digest)
            if v is None or not v.declared:
                continue
            v.source = info.source
            if info.name and v.name != info.name:
                v.name = info.name
                ch.vertices.add(digest)
        for v in list(self._vertices.values()):
            if v.is_started:
                self._infer_inputs(v, ch)
        return ch

    def _number(self, key: str, ch: Changes) -> None:
        self._steps.append(key)
        ch.new_steps.append(key)

    def _set_inputs(self, v: Vertex, inputs: tuple[str, ...]) -> None:
        for d in v.inputs:
            deps = self._dependents.get(d)
            if deps is not None and v.digest in deps:
                deps.remove(v.digest)
        for d in inputs:
            deps = self._dependents.setdefault(d, [])
            if v.digest not in deps:
                deps.append(v.digest)
        v.inputs = inputs

    def _refresh_group(self, g: Group, ch: Changes) -> None:
        # progressui vertexGroup.refresh: cached iff all members cached, first error wins,
        # revealed once a non-weak member started (or a second member brought an error).
        cached = True
        error = g.error
        for d in g.members:
            m = self._vertices[d]
            if m.started_ns is not None:
                g.intervals[m.started_ns] = m.completed_ns
                pg = m.progress_group
                if pg is not None and not pg.weak:
                    g.hidden = False
            cached = cached and m.cached
            if not error:
                error = m.error
            else:
                g.hidden = False
        g.cached = cached
        g.error = error
        if not g.hidden and g.step is None:
            self._number(g.id, ch)
            g.step = len(self._steps)
        if g.step is not None:
            for d in g.members:
                self._vertices[d].step = g.step

    def _apply_statuses(self, statuses: Iterable[control_pb2.VertexStatus], ch: Changes) -> None:
        for ps in statuses:
            v = self._vertex(ps.vertex)
            item = StatusItem(
                ps.ID,
                ps.vertex,
                ps.name,
                ps.current,
                ps.total,
                timestamp_ns(ps.timestamp) if ps.HasField("timestamp") else None,
                timestamp_ns(ps.started) if ps.HasField("started") else None,
                timestamp_ns(ps.completed) if ps.HasField("completed") else None,
            )
            v.statuses[ps.ID] = item
            ch.statuses.add(ps.vertex)

    def _apply_logs(self, logs: Iterable[control_pb2.VertexLog], ch: Changes) -> None:
        vertices = self._vertices
        last_digest = ""
        buf: LogBuffer | None = None
        for pl in logs:
            d = pl.vertex
            if d != last_digest or buf is None:
                v = vertices.get(d)
                if v is None:
                    v = self._vertex(d)
                buf = v.logs
                last_digest = d
                ch.logs.add(d)
            ts = pl.timestamp
            buf.add(pl.stream, ts.seconds * _NS + ts.nanos, pl.msg)

    def _apply_warnings(self, warnings: Iterable[control_pb2.VertexWarning], ch: Changes) -> None:
        for pw in warnings:
            v = self._vertex(pw.vertex)
            info = pw.info
            w = BuildWarning(
                vertex=pw.vertex,
                level=pw.level,
                short=pw.short.decode("utf-8", "replace"),
                detail=tuple(d.decode("utf-8", "replace") for d in pw.detail),
                url=pw.url,
                filename=info.filename,
                source=info.data,
                language=info.language,
                ranges=tuple(
                    SourceRange(r.start.line, r.start.character, r.end.line, r.end.character)
                    for r in pw.ranges
                ),
                has_source=pw.HasField("info"),
            )
            v.warnings.append(w)
            self._warnings.append(w)
            ch.warnings.add(pw.vertex)
