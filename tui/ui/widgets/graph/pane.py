"""The build-graph pane: every vertex grouped by stage, with states, timings and edges.

A line-API widget: only visible rows are rendered, each into a ``Strip`` cached by row key
until the row changes. ``apply_changes`` (once per frame, with a merged ``Changes``) re-renders
just the rows it names; a 5 Hz timer, running only while some vertex runs, refreshes the
visible running rows so their elapsed times count up.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import var
from textual.strip import Strip
from textual.timer import Timer

from tui.debug.model.graph import BuildGraph, Changes, VertexState
from tui.debug.model.reload import StepChange
from tui.ui.widgets.graph.rows import GraphRows, Row, StageRow, VertexRow, format_duration
from tui.ui.widgets.lineview import LineView

__all__ = ["GraphView"]

_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
_GLYPHS = {
    VertexState.QUEUED: "·",
    VertexState.CACHED: "✓",
    VertexState.DONE: "✓",
    VertexState.ERROR: "✗",
    VertexState.CANCELED: "⊘",
}
_STEP_WIDTH = 5  # "#123 "
_MARK_WIDTH = 5  # "↑in  " / "↓out "
#: After a reload: the mark of a step that ran again or is new (cached ones say CACHED).
_CHANGE_STYLE = {StepChange.CACHED: "cached", StepChange.RERAN: "position",
                 StepChange.NEW: "input"}
_MUTED = frozenset({VertexState.QUEUED, VertexState.CANCELED})


#: Help texts shared by several key bindings (the help screen groups keys by text).
_MOVE = "move the cursor"
_JUMP = "a page up / down, the first / last step"



class GraphView(LineView, can_focus=True):
    """Build vertices grouped by stage; a cursor selects one.

    The cursor's inputs are marked ``↑in`` and its dependents ``↓out``; a red bar marks the
    failed vertex and everything it was built from. Enter (or a click) on a stage header
    collapses or expands the stage.
    """

    COMPONENT_PREFIX = "graph-view--"

    #: Row key of the cursor: a shown row's (a hidden vertex's moves it to its stage).
    cursor_key: var[str | None] = var(None, init=False)

    DEFAULT_CSS = """
    GraphView {
        background: $surface;
        color: $foreground;
        overflow-x: hidden;
        overflow-y: auto;
        & > .graph-view--header { color: $text-primary; text-style: bold; }
        & > .graph-view--counts { color: $text-muted; }
        & > .graph-view--cursor { background: $boost; text-style: reverse; }
        &:focus > .graph-view--cursor { background: $boost; text-style: reverse bold; }
        & > .graph-view--queued { color: $text-muted; }
        & > .graph-view--running { color: $warning; }
        & > .graph-view--cached { color: $success; }
        & > .graph-view--done { color: $success; }
        & > .graph-view--error { color: $error; text-style: bold; }
        & > .graph-view--canceled { color: $text-muted; }
        & > .graph-view--step { color: $text-muted; }
        & > .graph-view--position { color: $text-muted; }
        & > .graph-view--muted { color: $text-muted; }
        & > .graph-view--chain { color: $error; }
        & > .graph-view--failed { color: $error; text-style: bold; }
        & > .graph-view--input { color: $accent; text-style: bold; }
        & > .graph-view--dependent { color: $text-accent; text-style: bold; }
        & > .graph-view--warning { color: $warning; }
    }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "graph-view--header",
        "graph-view--counts",
        "graph-view--cursor",
        "graph-view--queued",
        "graph-view--running",
        "graph-view--cached",
        "graph-view--done",
        "graph-view--error",
        "graph-view--canceled",
        "graph-view--step",
        "graph-view--position",
        "graph-view--muted",
        "graph-view--chain",
        "graph-view--failed",
        "graph-view--input",
        "graph-view--dependent",
        "graph-view--warning",
    }

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "Up", show=False, tooltip=_MOVE),
        Binding("down,j", "cursor_down", "Down", show=False, tooltip=_MOVE),
        Binding("pageup", "page_up", "Page up", show=False, tooltip=_JUMP),
        Binding("pagedown", "page_down", "Page down", show=False, tooltip=_JUMP),
        Binding("home,g", "first", "First", show=False, tooltip=_JUMP),
        Binding("end,G", "last", "Last", show=False, tooltip=_JUMP),
        Binding("enter", "select_cursor", "Select", show=False,
                tooltip="show the selected step's logs"),
    ]

    #: Refresh rate of running rows' elapsed times.
    TICK_HZ: ClassVar[float] = 5.0

    class _VertexMessage(Message):
        """A message about one vertex of the view."""

        def __init__(self, graph_view: GraphView, digest: str) -> None:
            super().__init__()
            self.graph_view = graph_view
            self.digest = digest

        @property
        def control(self) -> GraphView:
            """The view that sent the message."""
            return self.graph_view

    class Selected(_VertexMessage):
        """A vertex was chosen (Enter, click, or ``select``)."""

    class Highlighted(_VertexMessage):
        """The cursor moved onto a vertex."""

    def __init__(
        self,
        graph: BuildGraph,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.graph = graph
        #: The row model (read-only for callers).
        self.rows = GraphRows(graph)
        #: Gutter marks by digest: breakpoints (●) and the step the build is paused at (▶).
        self._marks: dict[str, tuple[str, str]] = {}
        #: Wall clock in Unix ns, for running vertices' elapsed time (replaceable in tests).
        self.clock: Callable[[], int] = time.time_ns
        self._ticker: Timer | None = None
        self._ticking = False
        self._pending_select: str | None = None
        #: After a reload: what a step did compared with the previous build (set by the app).
        self.change_of: Callable[[str], StepChange | None] | None = None
        self.virtual_size = Size(0, len(self.rows))
        self._ensure_cursor()

    # ------------------------------------------------------------------ public API
    @property
    def selected_digest(self) -> str | None:
        """Digest of the vertex under the cursor: what Enter selects (``None`` on a header).

        For a progress-group row: its failed (or first erroring) member, else its first.
        """
        row = self.rows.row(self.cursor_key) if self.cursor_key is not None else None
        return None if row is None else self.rows.digest_of(row)

    @property
    def cursor_row(self) -> int | None:
        """Index of the cursor's row."""
        return None if self.cursor_key is None else self.rows.index_of(self.cursor_key)

    @property
    def ticking(self) -> bool:
        """Whether the elapsed-time timer runs (only while some vertex runs)."""
        return self._ticking

    def apply_changes(self, changes: Changes) -> None:
        """Show a batch of graph changes (call at most once per frame, with merged changes)."""
        before = self.cursor_row
        anchored = before is not None and self.row_visible(before)
        upd = self.rows.update(changes)
        if upd.structure:
            for key in upd.dirty:
                self.forget(key)
            self._sync_size()
            self._ensure_cursor()
            after = self.cursor_row
            if anchored and before is not None and after is not None and after != before:
                # rows appeared above the cursor: keep its row where the user is looking
                self.scroll_to(y=self.scroll_offset.y + after - before, animate=False)
            self.refresh()
        else:
            self._invalidate(upd.dirty)
        self._sync_ticker()
        if self._pending_select is not None and self.rows.key_of(self._pending_select):
            self.select(self._pending_select)

    def replace_graph(self, graph: BuildGraph) -> None:
        """Show another build's graph (after a reload): rows and cursor start afresh."""
        self.graph = graph
        self.rows = GraphRows(graph)
        self._pending_select = None
        self.cursor_key = None
        self._sync_size()
        self._ensure_cursor()
        self._sync_ticker()
        self.scroll_home(animate=False)
        self.invalidate()

    def select(self, digest: str) -> None:
        """Move the cursor to ``digest``'s row, scroll it into view and post ``Selected``.

        A digest the graph has not declared yet is selected when it appears.
        """
        key = self.rows.key_of(digest)
        if key is None:
            self._pending_select = digest
            return
        self._pending_select = None
        row = self.rows.row(key)
        if row is not None and row.stage.collapsed:
            self._set_collapsed(row.stage, False)
        index = self.rows.index_of(key)
        if index is not None:
            self._move_to(index, center=True)
        self.post_message(self.Selected(self, digest))

    def set_failed(self, digest: str | None) -> None:
        """Mark ``digest`` as the failed vertex (``None``: follow ``graph.failed``)."""
        self._invalidate(self.rows.set_failed(digest))

    def set_marks(self, breakpoints: Iterable[str], paused: str | None) -> None:
        """Mark the breakpoints (●) and the paused step (▶) beside their rows."""
        marks = {d: ("●", "error") for d in breakpoints}
        if paused is not None:
            marks[paused] = ("▶", "running")
        changed = set(marks) ^ set(self._marks) | {d for d in marks
                                                   if self._marks.get(d) != marks[d]}
        self._marks = marks
        self._invalidate(k for d in changed if (k := self.rows.key_of(d)) is not None)

    # ------------------------------------------------------------------ actions
    def action_cursor_up(self) -> None:
        """Move the cursor up one row."""
        self._move_by(-1)

    def action_cursor_down(self) -> None:
        """Move the cursor down one row."""
        self._move_by(1)

    def action_page_up(self) -> None:
        """Move the cursor up one page."""
        self._move_by(-max(1, self.scrollable_content_region.height - 1))

    def action_page_down(self) -> None:
        """Move the cursor down one page."""
        self._move_by(max(1, self.scrollable_content_region.height - 1))

    def action_first(self) -> None:
        """Move the cursor to the first row."""
        self._move_to(0)

    def action_last(self) -> None:
        """Move the cursor to the last row."""
        self._move_to(len(self.rows) - 1)

    def action_select_cursor(self) -> None:
        """Select the cursor's vertex, or collapse/expand the cursor's stage."""
        index = self.cursor_row
        if index is not None:
            self._activate(index)

    # ------------------------------------------------------------------ events
    def on_mount(self) -> None:
        """Start the (paused) elapsed-time ticker."""
        self._ticker = self.set_interval(1 / self.TICK_HZ, self._tick, pause=True)
        self._sync_size()
        self._sync_ticker()

    def on_click(self, event: events.Click) -> None:
        """Select the clicked row."""
        offset = event.get_content_offset(self)
        if offset is None:
            return
        index = self.scroll_offset.y + offset.y
        if 0 <= index < len(self.rows):
            self._move_to(index)
            self._activate(index)

    def on_focus(self) -> None:
        """Restyle the cursor row."""
        self._invalidate_cursor()

    def on_blur(self) -> None:
        """Restyle the cursor row."""
        self._invalidate_cursor()

    def on_resize(self) -> None:
        """Re-render at the new width."""
        self._sync_size()

    # ------------------------------------------------------------------ rendering
    def render_visible_line(self, y: int, width: int) -> Strip:
        """Render visible line ``y`` (a row of the list)."""
        index = self.scroll_offset.y + y
        rows = self.rows.rows
        if not 0 <= index < len(rows):
            return Strip.blank(width, self.base_style())
        row = rows[index]
        strip = self._strips.get(row.key)
        if strip is None:
            strip = self._render_row(row, width)
            self._strips[row.key] = strip
        return strip

    def _render_row(self, row: Row, width: int) -> Strip:
        under = "cursor" if row.key == self.cursor_key else ""
        if isinstance(row, StageRow):
            parts = self._header_parts(row)
        else:
            parts = self._vertex_parts(row, width)
        style = self.layered_style
        segments = [Segment(text, style(name, under)) for text, name in parts]
        used = sum(cell_len(text) for text, _ in parts)
        if used < width:
            segments.append(Segment(" " * (width - used), style("", under)))
        elif used > width:
            return Strip(segments, used).crop(0, width)
        return Strip(segments, width)

    def _header_parts(self, st: StageRow) -> list[tuple[str, str]]:
        arrow = "▸" if st.collapsed else "▾"
        parts = [(f"{arrow} {st.name}", "header"), (f"  ({st.done}/{st.total} done)", "counts")]
        if st.running:
            parts.append((f"  ▶{st.running}", "running"))
        if st.failed:
            parts.append((f"  ✗{st.failed}", "error"))
        return parts

    def _vertex_parts(self, row: VertexRow, width: int) -> list[tuple[str, str]]:
        rows = self.rows
        state = row.state
        key = row.key
        failed = key == rows.failed_key
        marked = self._marks.get(rows.digest_of(row)) if self._marks else None
        if marked is not None:
            gutter = marked
        elif failed:
            gutter = ("▌", "failed")
        elif key in rows.chain:
            gutter = ("▌", "chain")
        else:
            gutter = (" ", "")
        if key in rows.inputs:
            mark = ("↑in  ", "input")
        elif key in rows.dependents:
            mark = ("↓out ", "dependent")
        else:
            mark = (" " * _MARK_WIDTH, "")
        now = self.clock()
        if state is VertexState.RUNNING:
            glyph = _SPINNER[now // 100_000_000 % len(_SPINNER)]
        else:
            glyph = _GLYPHS[state]
        state_style = state.value
        step = rows.step_of(row)
        step_text = (f"#{step}" if step is not None else "").rjust(_STEP_WIDTH - 1) + " "
        pos = f"{row.position[0]}/{row.position[1]} " if row.position else ""
        right = self._right_parts(row, state, now)
        right_width = sum(cell_len(t) for t, _ in right)
        fixed = 1 + _MARK_WIDTH + 2 + _STEP_WIDTH + cell_len(pos) + right_width + 1
        room = max(0, width - fixed)
        label = row.label
        if cell_len(label) > room:
            label = set_cell_size(label, room - 1) + "…" if room > 1 else set_cell_size(label, room)
        else:
            label = set_cell_size(label, room)
        label_style = "failed" if failed else ("muted" if state in _MUTED else "")
        return [
            gutter,
            mark,
            (glyph + " ", state_style),
            (step_text, "step"),
            (pos, "position"),
            (label, label_style),
            (" ", ""),
            *right,
        ]

    def _right_parts(self, row: VertexRow, state: VertexState, now: int) -> list[tuple[str, str]]:
        parts: list[tuple[str, str]] = []
        warnings = self.rows.warning_count(row)
        if warnings:
            parts.append((f"⚠{warnings} ", "warning"))
        if state is VertexState.QUEUED:
            return parts
        change = self.change_of(row.digest) if self.change_of is not None else None
        if change is not None and change is not StepChange.CACHED:
            parts.append((f"{change.value.upper()} ", _CHANGE_STYLE[change]))
        if state is VertexState.CACHED:
            parts.append(("CACHED", "cached"))
            return parts
        duration = self.rows.duration_of(row, now)
        text = format_duration(duration) if duration is not None else ""
        if state is VertexState.ERROR:
            text = f"ERROR {text}".rstrip()
        elif state is VertexState.CANCELED:
            text = f"CANCELED {text}".rstrip()
        parts.append((text, state.value))
        return parts

    # ------------------------------------------------------------------ internals
    def _sync_size(self) -> None:
        size = Size(0, len(self.rows))
        if self.virtual_size != size:
            self.virtual_size = size

    def _sync_ticker(self) -> None:
        if self._ticker is None:
            return
        ticking = bool(self.rows.running)
        if ticking != self._ticking:
            self._ticking = ticking
            if ticking:
                self._ticker.resume()
            else:
                self._ticker.pause()

    def _tick(self) -> None:
        running = self.rows.running
        if not running:
            self._sync_ticker()
            return
        rows = self.rows.rows
        top = self.scroll_offset.y
        bottom = min(len(rows), top + self.scrollable_content_region.height)
        for index in range(top, bottom):
            key = rows[index].key
            if key in running:
                self.forget(key)
                self.refresh_line(index)

    def _invalidate(self, keys: Iterable[str]) -> None:
        index_of = self.rows.index_of
        for key in keys:
            self.forget(key)
            index = index_of(key)
            if index is not None:
                self.refresh_row(index)

    def _invalidate_cursor(self) -> None:
        if self.cursor_key is not None:
            self._invalidate((self.cursor_key,))

    def _ensure_cursor(self) -> None:
        self.cursor_key = self.cursor_key  # validated against the rows

    def validate_cursor_key(self, key: str | None) -> str | None:
        """A shown row's key: the first row's if none, a hidden vertex's stage's."""
        if key is None:
            return self.rows.rows[0].key if len(self.rows) else None
        if self.rows.index_of(key) is None:
            row = self.rows.row(key)
            return row.stage.key if row is not None else None
        return key

    def watch_cursor_key(self, old: str | None, key: str | None) -> None:
        """Mark the cursor's inputs and dependents, redraw, post ``Highlighted``."""
        focus = key if self.rows.row(key or "") is not None else None
        dirty = self.rows.set_focus(focus)
        dirty.update(k for k in (old, key) if k is not None)
        self._invalidate(dirty)
        if focus is not None:
            row = self.rows.row(focus)
            assert row is not None
            self.post_message(self.Highlighted(self, self.rows.digest_of(row)))

    def _move_by(self, delta: int) -> None:
        index = self.cursor_row
        self._move_to(0 if index is None else index + delta)

    def _move_to(self, index: int, *, center: bool = False) -> None:
        rows = self.rows.rows
        if not rows:
            return
        index = max(0, min(index, len(rows) - 1))
        self.cursor_key = rows[index].key
        self.scroll_to_line(index, center=center)

    def pending_line(self, row: int) -> int:
        """The cursor's row now (rows may have appeared since the scroll was asked for)."""
        index = self.cursor_row
        return row if index is None else index

    def _set_collapsed(self, st: StageRow, collapsed: bool) -> None:
        if self.rows.set_collapsed(st.name, collapsed):
            self.forget(st.key)
            self._sync_size()
            self._ensure_cursor()
            self.refresh()

    def _activate(self, index: int) -> None:
        row = self.rows.rows[index]
        if isinstance(row, StageRow):
            self._set_collapsed(row, not row.collapsed)
        else:
            self.post_message(self.Selected(self, self.rows.digest_of(row)))
