"""Row model of the build-graph pane: vertices grouped by Dockerfile stage (no Textual here).

``GraphRows`` turns a ``BuildGraph`` into a flat list of rows: one header per stage, in the
order the stages were first seen, then the stage's vertices ordered by their position in the
stage (``[builder 2/4]`` → 2) and first-seen order. Progress-group members share one row.

``GraphRows.update`` takes a (merged) ``Changes`` batch and re-derives only what it names:
a state change marks its row and its stage header dirty; only new rows (or a collapsed or
expanded stage) rebuild the flat list, which is the one O(n) step.

Rows are identified by a *key*: the vertex digest, or ``GROUP_PREFIX + group id`` for a
progress group, or ``STAGE_PREFIX + stage name`` for a header. Keys never change, so views
can cache per key while rows move.
"""

from __future__ import annotations

import re
import time
from bisect import bisect_right
from collections import deque
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from tui.debug.model.graph import BuildGraph, Changes, Vertex, VertexState
from tui.debug.model.timing import go_seconds, merge_intervals

__all__ = [
    "DEFAULT_STAGE",
    "GROUP_PREFIX",
    "INTERNAL_STAGE",
    "OTHER_STAGE",
    "STAGE_PREFIX",
    "GraphRows",
    "ParsedName",
    "Row",
    "RowsUpdate",
    "StageRow",
    "VertexRow",
    "dependents_of",
    "failed_chain",
    "format_duration",
    "inputs_of",
    "parse_name",
]

#: Stage of ``[internal] ...`` / ``[auth] ...`` vertices.
INTERNAL_STAGE = "internal"
#: Stage of vertices whose name has no bracket prefix (``exporting to image``).
OTHER_STAGE = "other"
#: Stage of ``[2/5] ...`` vertices: the only stage of a single-stage Dockerfile.
DEFAULT_STAGE = "stage"
#: Key prefix of stage header rows.
STAGE_PREFIX = "\x00stage:"
#: Key prefix of progress-group rows.
GROUP_PREFIX = "\x00group:"

_PREFIX = re.compile(r"\[([^\]]*)\]\s*")
_POSITION = re.compile(r"(\d+)/(\d+)")
_NO_POSITION = 1 << 30


@dataclass(frozen=True, slots=True)
class ParsedName:
    """A vertex name split into stage, position in the stage, and the rest."""

    stage: str
    #: ``(n, total)`` of ``[stage n/total]``, if the prefix has it.
    position: tuple[int, int] | None
    #: The name without a prefix that only repeats the stage.
    label: str


def parse_name(name: str) -> ParsedName:
    """Split ``[builder 2/4] RUN make`` into ``("builder", (2, 4), "RUN make")``.

    ``[2/5] ...`` belongs to ``DEFAULT_STAGE``; ``[internal] ...`` to ``INTERNAL_STAGE``
    (prefix dropped); other bracket prefixes such as ``[auth]`` to ``INTERNAL_STAGE`` too, but
    keep their prefix; names without one to ``OTHER_STAGE``.
    """
    m = _PREFIX.match(name)
    if m is None:
        return ParsedName(OTHER_STAGE, None, name)
    words = m.group(1).split()
    rest = name[m.end() :]
    if words:
        pm = _POSITION.fullmatch(words[-1])
        if pm is not None:
            stage = " ".join(words[:-1]) or DEFAULT_STAGE
            return ParsedName(stage, (int(pm[1]), int(pm[2])), rest)
    if words == [INTERNAL_STAGE]:
        return ParsedName(INTERNAL_STAGE, None, rest)
    return ParsedName(INTERNAL_STAGE, None, name)


def format_duration(seconds: float) -> str:
    """``0.4s``, ``12.3s``, ``2m05s``, ``1h02m`` (tenths are truncated, as buildx does)."""
    if seconds < 60:
        return f"{int(max(seconds, 0.0) * 10) / 10:.1f}s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def inputs_of(graph: BuildGraph, digest: str) -> list[str]:
    """The vertex's inputs that the graph knows, in declaration order."""
    v = graph.get(digest)
    if v is None:
        return []
    return [d for d in v.inputs if d in graph]


def dependents_of(graph: BuildGraph, digest: str) -> list[str]:
    """Vertices that list ``digest`` among their inputs."""
    return graph.dependents(digest)


def failed_chain(graph: BuildGraph, digest: str | None) -> set[str]:
    """The failed vertex and everything it was built from (transitively, through inputs)."""
    if digest is None or digest not in graph:
        return set()
    seen = {digest}
    todo = deque([digest])
    while todo:
        v = graph.get(todo.popleft())
        if v is None:
            continue
        for d in v.inputs:
            if d not in seen:
                seen.add(d)
                todo.append(d)
    return seen


class StageRow:
    """A stage header and the stage's vertex rows (kept sorted)."""

    __slots__ = ("collapsed", "counts", "key", "name", "rows", "sort_keys")

    def __init__(self, name: str) -> None:
        self.name = name
        self.key = STAGE_PREFIX + name
        self.collapsed = False
        #: Vertex rows in display order, and their sort keys (for ``bisect``).
        self.rows: list[VertexRow] = []
        self.sort_keys: list[tuple[int, int]] = []
        #: Rows per state.
        self.counts: dict[VertexState, int] = dict.fromkeys(VertexState, 0)

    def __repr__(self) -> str:
        return f"StageRow({self.name!r}, rows={len(self.rows)})"

    @property
    def total(self) -> int:
        """Number of vertex rows."""
        return len(self.rows)

    @property
    def done(self) -> int:
        """Rows that completed successfully (done or cached)."""
        return self.counts[VertexState.DONE] + self.counts[VertexState.CACHED]

    @property
    def failed(self) -> int:
        """Rows in error."""
        return self.counts[VertexState.ERROR]

    @property
    def running(self) -> int:
        """Rows running."""
        return self.counts[VertexState.RUNNING]


@dataclass(slots=True, eq=False)
class VertexRow:
    """One vertex (or one progress group) in the pane."""

    key: str
    stage: StageRow
    name: str
    label: str
    position: tuple[int, int] | None
    seq: int
    #: Member digests in first-seen order (one, unless this is a group row).
    digests: list[str] = field(default_factory=list)
    group: str | None = None
    #: The state the stage counts hold for this row.
    state: VertexState = VertexState.QUEUED

    @property
    def digest(self) -> str:
        """The first member's digest."""
        return self.digests[0]


#: A row of the flat list.
Row = StageRow | VertexRow


@dataclass(slots=True)
class RowsUpdate:
    """What an update changed in the row list."""

    #: Keys of rows to re-render (vertex rows, stage headers).
    dirty: set[str] = field(default_factory=set)
    #: Rows were inserted, moved or hidden: indices changed.
    structure: bool = False


class GraphRows:
    """Stage-grouped rows over a ``BuildGraph``, updated incrementally."""

    def __init__(self, graph: BuildGraph) -> None:
        self.graph = graph
        self._stages: dict[str, StageRow] = {}
        self._rows_by_key: dict[str, VertexRow] = {}
        self._key_of: dict[str, str] = {}
        self._flat: list[Row] = []
        self._index: dict[str, int] = {}
        self._running: dict[str, None] = {}
        self._failed: str | None = None
        self._failed_explicit = False
        self._chain: frozenset[str] = frozenset()
        self._focus: str | None = None
        self._inputs: frozenset[str] = frozenset()
        self._dependents: frozenset[str] = frozenset()
        for v in graph:
            if v.declared:
                self._add(v)
        for row in self._rows_by_key.values():
            self._recount(row)
        self._refresh_failed_default()
        self._recompute_edges()
        self._flatten()

    # ------------------------------------------------------------------ read access
    @property
    def rows(self) -> Sequence[Row]:
        """Visible rows, top to bottom."""
        return self._flat

    def __len__(self) -> int:
        return len(self._flat)

    @property
    def stages(self) -> Mapping[str, StageRow]:
        """Stages by name, in first-seen order."""
        return self._stages

    def index_of(self, key: str) -> int | None:
        """Row index of a key (``None`` if unknown or inside a collapsed stage)."""
        return self._index.get(key)

    def key_of(self, digest: str) -> str | None:
        """Row key showing a vertex digest."""
        return self._key_of.get(digest)

    def row(self, key: str) -> VertexRow | None:
        """The vertex row with this key."""
        return self._rows_by_key.get(key)

    @property
    def running(self) -> Collection[str]:
        """Keys of running rows."""
        return self._running.keys()

    @property
    def failed(self) -> str | None:
        """Digest of the failed vertex (explicitly set, else ``graph.failed``)."""
        return self._failed

    @property
    def failed_key(self) -> str | None:
        """Row key of the failed vertex."""
        return None if self._failed is None else self._key_of.get(self._failed)

    @property
    def chain(self) -> frozenset[str]:
        """Row keys of the failed chain (the failed vertex and its transitive inputs)."""
        return self._chain

    @property
    def focus(self) -> str | None:
        """Row key whose inputs and dependents are marked."""
        return self._focus

    @property
    def inputs(self) -> frozenset[str]:
        """Row keys of the focused row's inputs."""
        return self._inputs

    @property
    def dependents(self) -> frozenset[str]:
        """Row keys of the focused row's dependents."""
        return self._dependents

    def state_of(self, row: VertexRow) -> VertexState:
        """Display state (a group's is derived from its members)."""
        graph = self.graph
        if len(row.digests) == 1:
            return graph[row.digests[0]].state
        states = {graph[d].state for d in row.digests}
        for s in (VertexState.ERROR, VertexState.RUNNING):
            if s in states:
                return s
        if states == {VertexState.QUEUED}:
            return VertexState.QUEUED
        if VertexState.QUEUED in states:
            return VertexState.RUNNING
        if VertexState.CANCELED in states:
            return VertexState.CANCELED
        if states == {VertexState.CACHED}:
            return VertexState.CACHED
        return VertexState.DONE

    def duration_of(self, row: VertexRow, now_ns: int | None = None) -> float | None:
        """Run time in seconds (a group's merged over its members)."""
        graph = self.graph
        if len(row.digests) == 1:
            return graph[row.digests[0]].duration(now_ns)
        ivals = [iv for d in row.digests for iv in graph[d].merged_intervals]
        if not ivals:
            return None
        total = 0.0
        for start, stop in merge_intervals(ivals):
            if stop is None:
                stop = now_ns if now_ns is not None else time.time_ns()
            total += go_seconds(stop - start)
        return total

    def step_of(self, row: VertexRow) -> int | None:
        """BuildKit step number (``#N``)."""
        if row.group is not None:
            return self.graph.step_of(row.group)
        return self.graph[row.digest].step

    def warning_count(self, row: VertexRow) -> int:
        """Warnings reported for the row's vertices."""
        graph = self.graph
        return sum(len(graph[d].warnings) for d in row.digests)

    def digest_of(self, row: VertexRow) -> str:
        """The digest a row stands for: the failed (or first erroring) member, else the first."""
        if len(row.digests) > 1:
            if self._failed in row.digests:
                return self._failed
            for d in row.digests:
                if self.graph[d].error:
                    return d
        return row.digest

    # ------------------------------------------------------------------ updates
    def update(self, changes: Changes) -> RowsUpdate:
        """Apply a batch of changes; return the dirty keys and whether indices moved."""
        out = RowsUpdate()
        graph = self.graph
        new: list[Vertex] = []
        touched: list[str] = []
        errors = False
        for d in changes.vertices:
            key = self._key_of.get(d)
            v = graph.get(d)
            if v is None or not v.declared:
                continue
            errors = errors or bool(v.error) or d == self._failed
            if key is None:
                new.append(v)
            elif self._moved(self._rows_by_key[key], v):
                self._remove(key, d, out)
                new.append(v)
            else:
                touched.append(key)
        if new:
            new.sort(key=lambda v: v.seq)
            for v in new:
                touched.append(self._add(v))
            out.structure = True
        for d in changes.warnings:
            key = self._key_of.get(d)
            if key is not None:
                out.dirty.add(key)
        for k in changes.new_steps:
            key = self._key_of.get(k) or GROUP_PREFIX + k
            if key in self._rows_by_key:
                out.dirty.add(key)
        for key in touched:
            out.dirty.add(key)
            row = self._rows_by_key[key]
            if self._recount(row):
                out.dirty.add(row.stage.key)
        if errors and not self._failed_explicit:
            # graph.failed scans the errors so far: only ask when an error may have changed
            failed = graph.failed
            self._set_failed(failed.digest if failed else None, out.dirty)
        if out.structure:
            self._flatten()
            out.dirty |= self._recompute_edges()
            if self._failed is not None:
                out.dirty |= self._recompute_chain()
        return out

    def set_failed(self, digest: str | None) -> set[str]:
        """Set the failed vertex (``None``: follow ``graph.failed``); return dirty keys."""
        dirty: set[str] = set()
        self._failed_explicit = digest is not None
        if digest is None:
            failed = self.graph.failed
            digest = failed.digest if failed else None
        self._set_failed(digest, dirty)
        return dirty

    def set_focus(self, key: str | None) -> set[str]:
        """Mark the inputs and dependents of row ``key``; return keys whose marks changed."""
        self._focus = key if key in self._rows_by_key else None
        return self._recompute_edges()

    def set_collapsed(self, stage: str, collapsed: bool) -> bool:
        """Collapse or expand a stage; return whether anything changed."""
        st = self._stages.get(stage)
        if st is None or st.collapsed == collapsed:
            return False
        st.collapsed = collapsed
        self._flatten()
        return True

    # ------------------------------------------------------------------ internals
    def _set_failed(self, digest: str | None, dirty: set[str]) -> None:
        if digest == self._failed:
            return
        for d in (self._failed, digest):
            key = None if d is None else self._key_of.get(d)
            if key is not None:
                dirty.add(key)
        self._failed = digest
        dirty |= self._recompute_chain()

    def _refresh_failed_default(self) -> None:
        if not self._failed_explicit:
            failed = self.graph.failed
            self._failed = failed.digest if failed else None
        self._recompute_chain()

    def _recompute_chain(self) -> set[str]:
        key_of = self._key_of
        chain = frozenset(
            k for k in (key_of.get(d) for d in failed_chain(self.graph, self._failed)) if k
        )
        changed = set(chain ^ self._chain)
        self._chain = chain
        return changed

    def _recompute_edges(self) -> set[str]:
        row = None if self._focus is None else self._rows_by_key.get(self._focus)
        ins: set[str] = set()
        outs: set[str] = set()
        if row is not None:
            key_of = self._key_of
            for d in row.digests:
                ins.update(k for k in map(key_of.get, inputs_of(self.graph, d)) if k)
                outs.update(k for k in map(key_of.get, dependents_of(self.graph, d)) if k)
            ins.discard(row.key)
            outs.discard(row.key)
        new_in, new_out = frozenset(ins), frozenset(outs)
        changed = set((new_in ^ self._inputs) | (new_out ^ self._dependents))
        self._inputs, self._dependents = new_in, new_out
        return changed

    def _moved(self, row: VertexRow, v: Vertex) -> bool:
        """Whether a vertex update changes which row shows it, or where."""
        if row.group is None:
            return v.progress_group is not None or v.name != row.name
        return v.progress_group is None or GROUP_PREFIX + v.progress_group.id != row.key

    def _stage(self, name: str) -> StageRow:
        st = self._stages.get(name)
        if st is None:
            st = self._stages[name] = StageRow(name)
        return st

    def _add(self, v: Vertex) -> str:
        pg = v.progress_group
        if pg is not None:
            key = GROUP_PREFIX + pg.id
            row = self._rows_by_key.get(key)
            if row is not None:
                row.digests.append(v.digest)
                self._key_of[v.digest] = key
                return key
            group = self.graph.groups.get(pg.id)
            gname = group.name if group is not None else ""
            parsed = parse_name(gname if _PREFIX.match(gname) else v.name)
            label = parsed.label if _PREFIX.match(gname) or not gname else gname
        else:
            key = v.digest
            parsed = parse_name(v.name)
            label = parsed.label
        st = self._stage(parsed.stage)
        row = VertexRow(
            key=key,
            stage=st,
            name=v.name,
            label=label,
            position=parsed.position,
            seq=v.seq,
            digests=[v.digest],
            group=None if pg is None else pg.id,
        )
        sort_key = (parsed.position[0] if parsed.position else _NO_POSITION, v.seq)
        at = bisect_right(st.sort_keys, sort_key)
        st.sort_keys.insert(at, sort_key)
        st.rows.insert(at, row)
        st.counts[row.state] += 1
        self._rows_by_key[key] = row
        self._key_of[v.digest] = key
        return key

    def _remove(self, key: str, digest: str, out: RowsUpdate) -> None:
        """Take a vertex out of its row (dropping the row if it was the last member)."""
        row = self._rows_by_key[key]
        row.digests.remove(digest)
        del self._key_of[digest]
        out.structure = True
        if row.digests:
            out.dirty.add(key)
            return
        st = row.stage
        at = st.rows.index(row)
        del st.rows[at]
        del st.sort_keys[at]
        st.counts[row.state] -= 1
        out.dirty.add(st.key)
        del self._rows_by_key[key]
        self._running.pop(key, None)
        if not st.rows:
            del self._stages[st.name]

    def _recount(self, row: VertexRow) -> bool:
        """Re-derive the row's state; return whether the stage counts changed."""
        state = self.state_of(row)
        if state is VertexState.RUNNING:
            self._running[row.key] = None
        else:
            self._running.pop(row.key, None)
        if state is row.state:
            return False
        counts = row.stage.counts
        counts[row.state] -= 1
        counts[state] += 1
        row.state = state
        return True

    def _flatten(self) -> None:
        flat: list[Row] = []
        for st in self._stages.values():
            flat.append(st)
            if not st.collapsed:
                flat.extend(st.rows)
        self._flat = flat
        self._index = {r.key: i for i, r in enumerate(flat)}
