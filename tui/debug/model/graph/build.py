"""``BuildGraph``: the UI-free model of a build, fed with ``Control.Status`` responses.

``BuildGraph.apply`` merges one ``StatusResponse`` at a time. Every message only carries
the items that changed, so the work done per message is proportional to its size: no
step ever rescans the whole graph.

Merge rules follow buildkit's ``util/progress/progressui/display.go`` (``trace.update``):

* a ``Vertex`` item replaces the vertex's fields (BuildKit always sends the whole vertex),
  except that a repeated *initial* vertex (no ``started``) does not reset a started one;
* every ``started`` value opens an interval keyed by its start time; the vertex's run time
  is the sum of its merged intervals and it is complete when the newest merged interval
  has a stop time;
* vertices carrying a ``progressGroup`` are shown as one step per group
  (``tui.debug.model.graph.groups``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

from tui.debug.model.graph.groups import Group, StepNumbering
from tui.debug.model.graph.values import (
    BuildWarning,
    Changes,
    OpInfo,
    ProgressGroup,
    SourceRange,
    StatusItem,
    VertexState,
)
from tui.debug.model.graph.vertex import Vertex
from tui.debug.model.logbuffer import DEFAULT_LOG_CAP, LogBuffer
from tui.debug.model.progressui import CANCELED_SUFFIX
from tui.debug.model.timing import go_seconds, timestamp_ns

if TYPE_CHECKING:
    from tui.buildkit.proto import control_pb2

__all__ = ["BuildGraph"]


# StatusResponse field numbers
_VERTEXES, _STATUSES, _LOGS, _WARNINGS = 1, 2, 3, 4
_NS = 1_000_000_000


class BuildGraph:
    """Incrementally merged state of one build's status stream."""

    def __init__(self, log_cap: int = DEFAULT_LOG_CAP) -> None:
        self.log_cap = log_cap
        self._vertices: dict[str, Vertex] = {}
        self._numbering = StepNumbering()
        self._dependents: dict[str, list[str]] = {}
        self._open: dict[str, None] = {}
        self._errors: dict[str, None] = {}
        self._counts: dict[VertexState, int] = dict.fromkeys(VertexState, 0)
        self._warnings: list[BuildWarning] = []
        self._ops: dict[str, OpInfo] = {}
        #: This build's steps by their (unique) names, once the definition is adopted.
        self._own_names: dict[str, str] = {}
        #: Another build's digest -> the step of ours it stands for (see :meth:`_stand_in`).
        self._aliases: dict[str, str] = {}
        #: Steps :meth:`settle` marked failed (a late report without the error keeps it).
        self._failed_at_end: set[str] = set()
        #: Our steps whose run the daemon reported under their own digest (stand-ins ignored).
        self._reported: set[str] = set()
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
        return self._numbering.groups

    @property
    def steps(self) -> Sequence[str]:
        """Group keys (vertex digest or group id) by step number; ``steps[n - 1]`` is #n."""
        return self._numbering.steps

    def step_of(self, digest: str) -> int | None:
        """Group number of a vertex digest or group id."""
        return self._numbering.step_of(digest, self._vertices)

    def vertex_for_step(self, step: int) -> Vertex | None:
        """The vertex numbered ``step``; for a group, its first member."""
        return self._numbering.vertex_for_step(step, self._vertices)

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
            if not v.error.endswith(CANCELED_SUFFIX):
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
            end = now_ns if now_ns is not None else time.time_ns()
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
                    if self._own_names and pv.digest not in self._ops:
                        own = self._stand_in(pv)
                        if own is None:
                            continue  # one of ours, reported under its own digest too
                        pv = own
                    elif pv.digest not in self._reported and pv.digest in self._ops and (
                            pv.HasField("started") or pv.error):
                        self._reported.add(pv.digest)  # its run, not only its declaration
                        stood_in = self._vertices.get(pv.digest)
                        if stood_in is not None and pv.digest in self._aliases.values():
                            stood_in.forget_runs()  # our own report replaces the stand-in's
                    self._apply_vertex(pv, ch, groups_seen)
                for gid in groups_seen:
                    self._numbering.refresh(gid, self._vertices, ch)
            elif num == _STATUSES:
                self._apply_statuses(items, ch)
            elif num == _WARNINGS:
                self._apply_warnings(items, ch)
        return ch

    def _stand_in(self, pv: control_pb2.Vertex) -> control_pb2.Vertex | None:
        """``pv`` as this build shows it when it is not in this build's definition.

        Two builds of the same Dockerfile have different digests for the steps after a COPY
        from the context (the context's source names its session), but the same cache keys:
        the daemon then runs such a step once, and may report it to this build under the
        other build's digest only. A vertex named as one of our steps stands in for it (with
        our digest and inputs) until the daemon reports our own; then it is dropped (None).
        Any other vertex is returned as it is.
        """
        own = self._aliases.get(pv.digest)
        if own is None:
            own = self._own_names.get(pv.name)
            if own is None or pv.digest in self._vertices:
                return pv  # not ours by name, or already shown as a row of its own
            self._aliases[pv.digest] = own
        if own in self._reported:
            return None
        alias = type(pv)()
        alias.CopyFrom(pv)
        alias.digest = own
        del alias.inputs[:]
        alias.inputs.extend(self._ops[own].inputs)
        return alias

    def _own_digest(self, digest: str) -> str | None:
        """The digest a status or log line of ``digest`` goes to (None: dropped)."""
        own = self._aliases.get(digest)
        if own is None:
            return digest
        return None if own in self._reported else own

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
        elif not pv.error and v.error and v.digest not in self._failed_at_end:
            self._errors.pop(v.digest, None)
        if pv.error or v.digest not in self._failed_at_end:  # a late report keeps the end's
            v.error = pv.error
        if pv.HasField("progressGroup"):
            pg = pv.progressGroup
            grp = ProgressGroup(pg.id, pg.name, pg.weak)
            v.progress_group = grp
            groups_seen[grp.id] = None
            self._numbering.join(v.digest, grp)
        if has_started:
            start = timestamp_ns(pv.started)
            stop = timestamp_ns(pv.completed) if pv.HasField("completed") else None
            v.record_run(start, stop)
            if self.first_started_ns is None or start < self.first_started_ns:
                self.first_started_ns = start
            if stop is not None and (
                self.last_completed_ns is None or stop > self.last_completed_ns
            ):
                self.last_completed_ns = stop
            if v.step is None and v.progress_group is None:
                v.step = self._numbering.number(v.digest, ch)
        else:
            v.started_ns = None
            v.completed_ns = None
        self._update_state(v, old_state)
        ch.vertices.add(v.digest)
        if has_started:
            self._infer_inputs(v, ch)

    def _update_state(self, v: Vertex, old_state: VertexState | None) -> None:
        new_state = v.derived_state()
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
        counts: dict[str, int] = {}
        for info in self._ops.values():
            if info.name:
                counts[info.name] = counts.get(info.name, 0) + 1
        self._own_names = {info.name: d for d, info in self._ops.items()
                           if info.name and counts[info.name] == 1}
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

    def own_step(self, digest: str, lines: Iterable[tuple[str, int, int]] = ()) -> str | None:
        """The row of this build that a digest from an error stands for (None: unknown).

        A step run once for two builds may fail under the other build's digest, never
        reported to this one: it is then found by the Dockerfile lines the error points at
        (``lines``: file name, first and last line), when one step of ours has exactly those.
        """
        if digest in self._vertices:
            return digest
        if digest in self._aliases:
            return self._aliases[digest]
        wanted = {(f, a, b) for f, a, b in lines}
        if not wanted:
            return None
        found = [d for d, info in self._ops.items() if info.source is not None and wanted == {
            (info.source.filename, r.start_line, r.end_line or r.start_line)
            for r in info.source.ranges}]
        return found[0] if len(found) == 1 else None

    def settle(self, failed: str | None = None, error: str = "") -> Changes:
        """The build has ended: what its status stream may not have said of our steps.

        ``failed`` (a row, with the build's ``error``) is shown failed if the stream never
        said so: a step run once for two builds may report its end only to the other one.
        For the same reason a step still shown running is done once a step that depends on
        it has started or failed (taken as its end: a dependent cannot start before).
        Called once the build's outcome is known.
        """
        ch = Changes()
        fv = self._vertices.get(failed) if failed is not None else None
        if fv is not None and not fv.error and error:
            old_state = fv.state if fv.declared else None
            fv.declared = True
            fv.error = error
            self._errors[fv.digest] = None
            self._failed_at_end.add(fv.digest)
            self._update_state(fv, old_state)
            ch.vertices.add(fv.digest)
        for d in list(self._open):
            v = self._vertices[d]
            deps = [dv for dep in self._dependents.get(d, ())
                    if (dv := self._vertices.get(dep)) is not None and (dv.is_started or dv.error)]
            if not deps or v.started_ns is None:
                continue
            starts = [dv.first_started_ns for dv in deps if dv.first_started_ns is not None]
            end = min(starts) if starts else time.time_ns()
            old_state = v.state
            v.record_run(v.started_ns, max(end, v.started_ns))
            self._update_state(v, old_state)
            ch.vertices.add(d)
        return ch

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

    def _apply_statuses(self, statuses: Iterable[control_pb2.VertexStatus], ch: Changes) -> None:
        for ps in statuses:
            digest = self._own_digest(ps.vertex) if self._aliases else ps.vertex
            if digest is None:
                continue
            v = self._vertex(digest)
            item = StatusItem(
                ps.ID,
                digest,
                ps.name,
                ps.current,
                ps.total,
                timestamp_ns(ps.timestamp) if ps.HasField("timestamp") else None,
                timestamp_ns(ps.started) if ps.HasField("started") else None,
                timestamp_ns(ps.completed) if ps.HasField("completed") else None,
            )
            v.statuses[ps.ID] = item
            ch.statuses.add(digest)

    def _apply_logs(self, logs: Iterable[control_pb2.VertexLog], ch: Changes) -> None:
        vertices = self._vertices
        last_digest = ""
        buf: LogBuffer | None = None
        aliases = self._aliases
        for pl in logs:
            d = pl.vertex
            if aliases and d in aliases:
                own = self._own_digest(d)
                if own is None:
                    continue
                d = own
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
