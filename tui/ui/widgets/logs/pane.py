"""The logs pane: one vertex's output, with status/warning header, error footer and search.

``LogView`` is a line-API ``ScrollView``: it renders only the rows on screen, from a
``LogIndex`` over the vertex's ``LogBuffer`` (text is decoded per visible line) and keeps an
LRU cache of rendered log-line strips keyed by stable line numbers. Scrolling therefore
costs the same with 80 lines or 800,000.

Rows, top to bottom: a "dropped" notice if the buffer lost its head to its cap, the
vertex's status items (plain-mode wording: ``transferring context: 1.08GB 14.6s done``) and
warnings, the log lines (stderr marked with a coloured ``▌`` gutter), then the vertex's
error. Output arriving in one frame is indexed within a byte budget; a backlog (showing a
vertex with a huge buffer) is indexed over the next frames.

The search prompt is drawn by the widget itself on its last row (a ``ScrollView`` is not a
container, so it cannot hold an ``Input``); it takes printable keys, backspace, ctrl+u,
enter and escape while open.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections import OrderedDict
from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.strip import Strip
from textual.timer import Timer

from tui.debug.model.graph import StatusItem, Vertex, VertexState
from tui.debug.model.textfmt import format_bytes
from tui.debug.model.timing import go_seconds
from tui.ui.widgets.lineview import LineView
from tui.ui.widgets.logs.index import DEFAULT_BUDGET, LogIndex, is_smart_case_sensitive
from tui.ui.widgets.textclean import clean_controls

__all__ = ["LogView", "format_status"]

GUTTER = 2
#: Bytes of one line rendered at most (longer lines end in an ellipsis).
MAX_LINE_BYTES = 8192
#: Matching lines counted at most for "match i/N".
COUNT_LIMIT = 100_000
_COUNT_BYTES = 4 << 20  # bytes scanned per frame by the match counter
_STEP_SECONDS = 1 / 60
_REMEMBERED = 8  # per-vertex index/scroll states kept
_KEPT_CONTROLS = "\t\n\x1b"  # tabs are expanded, ESC starts SGR


def format_status(s: StatusItem) -> str:
    """A status item as buildx's plain mode prints it (``id current / total 1.2s done``)."""
    if s.total:
        size = f" {format_bytes(s.current)} / {format_bytes(s.total)}"
    elif s.current:
        size = f" {format_bytes(s.current)}"
    else:
        size = ""
    tm = ""
    end = s.completed_ns if s.completed_ns is not None else s.timestamp_ns
    if s.started_ns is not None and end is not None:
        diff = go_seconds(end - s.started_ns)
        if diff > 0.01:
            tm = f" {diff:.1f}s"
    if s.done:
        tm += " done"
    return f"{s.id}{size}{tm}"


def _title(v: Vertex) -> str:
    step = f"#{v.step} " if v.step is not None else ""
    return f"{step}{v.name or v.digest[:19]} · {v.state.value}"


class _Saved:
    """What a vertex's view looked like when another vertex was shown."""

    __slots__ = ("follow", "index", "scroll_y")

    def __init__(self, index: LogIndex, follow: bool, scroll_y: float) -> None:
        self.index = index
        self.follow = follow
        self.scroll_y = scroll_y


#: Help texts shared by several key bindings (the help screen groups keys by text).
_SCROLL = "scroll a line"
_PAGE = "scroll a page"
_SIDEWAYS = "scroll sideways"
_MATCH = "next / previous match"



class LogView(LineView, can_focus=True):
    """Log output of one vertex (see the module docstring)."""

    COMPONENT_PREFIX = "logview--"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "line(-1)", "Up", show=False, tooltip=_SCROLL),
        Binding("down,j", "line(1)", "Down", show=False, tooltip=_SCROLL),
        Binding("pageup,ctrl+b", "page(-1)", "Page up", show=False, tooltip=_PAGE),
        Binding("pagedown,ctrl+f,space", "page(1)", "Page down", show=False, tooltip=_PAGE),
        Binding("home,g", "top", "Top", show=False, tooltip="jump to the start"),
        Binding("end,G", "bottom", "End/follow", show=False, tooltip="jump to the end and follow"),
        Binding("left,h", "column(-4)", "Left", show=False, tooltip=_SIDEWAYS),
        Binding("right,l", "column(4)", "Right", show=False, tooltip=_SIDEWAYS),
        Binding("slash", "search", "Search", key_display="/", tooltip="search"),
        Binding("n", "match(1)", "Next match", show=False, tooltip=_MATCH),
        Binding("N", "match(-1)", "Previous match", show=False, tooltip=_MATCH),
        Binding("escape", "clear_search", "Clear search", show=False, tooltip="clear the search"),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "logview--stderr",
        "logview--stderr-gutter",
        "logview--status",
        "logview--status-done",
        "logview--warning",
        "logview--error",
        "logview--notice",
        "logview--match",
        "logview--match-current",
        "logview--prompt",
    }

    DEFAULT_CSS = """
    LogView {
        background: $surface;
        color: $foreground;
        overflow-x: auto;
        overflow-y: auto;
        & > .logview--stderr { color: $text-muted; }
        & > .logview--stderr-gutter { color: $warning; }
        & > .logview--status { color: $text-muted; }
        & > .logview--status-done { color: $text-muted; text-style: dim; }
        & > .logview--warning { color: $warning; }
        & > .logview--error { color: $error; text-style: bold; }
        & > .logview--notice { color: $text-muted; text-style: italic; }
        & > .logview--match { background: $accent 40%; }
        & > .logview--match-current { background: $accent; color: $background; }
        & > .logview--prompt { background: $panel; color: $foreground; }
    }
    """

    def __init__(
        self,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self._vertex: Vertex | None = None
        self._index: LogIndex | None = None
        self._saved: OrderedDict[str, _Saved] = OrderedDict()
        self._header: list[tuple[str, str]] = []  # (component name, text)
        self._footer: list[tuple[str, str]] = []
        self._decor_updates = 0  # part of the header/footer strips' cache keys
        self._step_timer: Timer | None = None
        self._count_timer: Timer | None = None
        #: Keep the newest output in view (``end``/``G`` turns it on, scrolling up off).
        self.follow = True
        self._prompt: str | None = None
        self._pattern = ""
        self._fold = True
        self._current: int | None = None  # absolute line number of the current match
        self._hits = array("q")  # absolute numbers of matching lines counted so far
        self._count_next = 0  # absolute line the counter continues from
        self._count_done = True
        self._no_match = False

    # ------------------------------------------------------------------ public API
    @property
    def vertex(self) -> Vertex | None:
        """The vertex shown."""
        return self._vertex

    @property
    def index(self) -> LogIndex | None:
        """The line index of the shown vertex's output."""
        return self._index

    @property
    def header_lines(self) -> int:
        """Rows above the log lines (notice, statuses, warnings)."""
        return len(self._header)

    @property
    def search_pattern(self) -> str:
        """The active search pattern ("" when none)."""
        return self._pattern

    @property
    def searching(self) -> bool:
        """Whether the search prompt is open."""
        return self._prompt is not None

    @property
    def current_match(self) -> int | None:
        """Line (index into ``index``) of the current match, if any."""
        if self._current is None or self._index is None:
            return None
        rel = self._current - self._index.dropped
        return rel if 0 <= rel < len(self._index) else None

    def show_vertex(self, vertex: Vertex | None) -> None:
        """Show ``vertex``'s output (``None``: nothing)."""
        if vertex is self._vertex and vertex is not None:
            self.logs_changed()
            return
        self._remember()
        self._vertex = vertex
        self.invalidate()
        self._current = None
        self._no_match = False
        if vertex is None:
            self._index = None
            self.follow = True
        else:
            saved = self._saved.pop(vertex.digest, None)
            if saved is not None and saved.index.buf is vertex.logs:
                self._index, self.follow = saved.index, saved.follow
                scroll_y = saved.scroll_y
            else:
                self._index, self.follow, scroll_y = LogIndex(vertex.logs), True, 0.0
        self._restart_count()
        self._rebuild_decor()
        self._index_step()
        if not self.follow:
            self.scroll_to(y=scroll_y, animate=False, force=True)
        self.refresh()

    def logs_changed(self) -> None:
        """New output, statuses, warnings or state for the shown vertex: catch up."""
        if self._vertex is None:
            return
        self._rebuild_decor()
        self._index_step()

    # ------------------------------------------------------------------ indexing
    def _remember(self) -> None:
        if self._vertex is None or self._index is None:
            return
        saved = self._saved
        saved[self._vertex.digest] = _Saved(self._index, self.follow, self.scroll_y)
        saved.move_to_end(self._vertex.digest)
        while len(saved) > _REMEMBERED:
            saved.popitem(last=False)

    def _index_step(self) -> None:
        """Index (part of) the new output and bring the view up to date."""
        self._step_timer = None
        idx = self._index
        if idx is None:
            self._update_size()
            return
        delta = idx.update(DEFAULT_BUDGET)
        if delta.head_changed:
            self.forget(idx.dropped)
        if delta.first_changed is not None:
            self.forget(delta.first_changed)
        if delta.dropped:
            hits = self._hits
            del hits[: bisect_left(hits, idx.dropped)]
            if not self.follow:
                shift = min(delta.dropped, max(0, round(self.scroll_y) - len(self._header)))
                self.scroll_to(y=self.scroll_y - shift, animate=False, force=True)
        self._update_size()
        if self.follow:
            self.scroll_end(animate=False, immediate=True, x_axis=False, force=True)
        if delta.added or delta.head_changed or delta.first_changed is not None:
            self.refresh()
        if idx.pending and self._step_timer is None and self.is_mounted:
            self._step_timer = self.set_timer(_STEP_SECONDS, self._index_step)
        if (
            self._pattern
            and self._count_done
            and self._count_next < idx.dropped + idx.complete_lines
        ):
            self._count_done = False
            self._schedule_count()

    def _update_size(self) -> None:
        idx = self._index
        lines = len(idx) if idx is not None else 0
        width = GUTTER + min(idx.max_line_bytes, MAX_LINE_BYTES) + 1 if idx is not None else 0
        for _, t in (*self._header, *self._footer):
            width = max(width, cell_len(t))
        height = len(self._header) + lines + len(self._footer)
        if self._prompt is not None:
            height += 1
        self.virtual_size = Size(width, height)

    # ------------------------------------------------------------------ header/footer
    def _rebuild_decor(self) -> None:
        v = self._vertex
        header: list[tuple[str, str]] = []
        footer: list[tuple[str, str]] = []
        if v is not None:
            buf = v.logs
            if buf.truncated:
                header.append(
                    (
                        "notice",
                        f"… {format_bytes(buf.dropped_bytes)} of earlier output dropped "
                        f"(last {format_bytes(buf.cap)} kept)",
                    )
                )
            for s in v.statuses.values():
                header.append(("status-done" if s.done else "status", format_status(s)))
            for w in v.warnings:
                level = "" if w.level <= 1 else f" (level {w.level})"
                header.append(("warning", f"WARN{level}: {w.short}"))
            if v.error:
                kind = "notice" if v.state is VertexState.CANCELED else "error"
                for k, line in enumerate(v.error.splitlines() or [v.error]):
                    footer.append((kind, ("ERROR: " if k == 0 else "       ") + line))
            self.border_title = _title(v)
        else:
            self.border_title = "Logs"
        if header != self._header or footer != self._footer:
            old = len(self._header)
            self._header, self._footer = header, footer
            self._decor_updates += 1
            if not self.follow and old != len(header) and self.scroll_y >= old:
                self.scroll_to(y=self.scroll_y + len(header) - old, animate=False, force=True)
            self._update_size()
            self.refresh()
        self._update_subtitle()

    def _update_subtitle(self) -> None:
        parts = ["follow" if self.follow else "paused"]
        v = self._vertex
        if v is not None and v.source is not None:
            parts.insert(0, v.source.describe())
        if self._prompt is not None:
            parts.append("search: enter/esc")
        elif self._pattern:
            parts.append(f"/{self._pattern}: {self.match_status}")
        self.border_subtitle = " · ".join(parts)

    @property
    def match_status(self) -> str:
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

    # ------------------------------------------------------------------ rendering
    def render_visible_line(self, y: int, width: int) -> Strip:
        """Render row ``y`` of the viewport."""
        base = self.base_style()
        if self._prompt is not None and y == self.scrollable_content_region.height - 1:
            return self._prompt_strip(width)
        scroll_x, scroll_y = self.scroll_offset
        row = scroll_y + y
        n_header = len(self._header)
        if row < n_header:
            return self._decor_strip(True, row).crop_extend(scroll_x, scroll_x + width, base)
        row -= n_header
        idx = self._index
        lines = len(idx) if idx is not None else 0
        if idx is not None and row < lines:
            content = self._log_strip(idx, row).crop_extend(
                scroll_x, scroll_x + width - GUTTER, base
            )
            if idx.is_stderr(row):
                gutter = Segment("▌ ", self.component_style("stderr-gutter"))
            else:
                gutter = Segment(" " * GUTTER, base)
            return Strip.join([Strip([gutter], GUTTER), content])
        row -= lines
        if row < len(self._footer):
            return self._decor_strip(False, row).crop_extend(scroll_x, scroll_x + width, base)
        return Strip.blank(width, base)

    def _decor_strip(self, header: bool, row: int) -> Strip:
        key = ("decor", self._decor_updates, header, row)
        strip = self._strips.get(key)
        if strip is None:
            kind, plain = (self._header if header else self._footer)[row]
            base = self.base_style()
            text = Text(plain, style=base, no_wrap=True, end="")
            text.stylize(self.component_style(kind))
            text.stylize_before(base)
            strip = Strip(text.render(self.app.console), text.cell_len)
            self._strips[key] = strip
        return strip

    def _log_strip(self, idx: LogIndex, i: int) -> Strip:
        key = idx.dropped + i
        strip = self._strips.get(key)
        if strip is not None:
            return strip
        raw = idx.line_text(i, MAX_LINE_BYTES + 1)
        clipped = len(raw) > MAX_LINE_BYTES
        if clipped:
            raw = raw[:MAX_LINE_BYTES]
        raw = clean_controls(raw, _KEPT_CONTROLS)
        base = self.base_style()
        if idx.is_stderr(i):
            base = base + self.component_style("stderr")
        if "\x1b" in raw:
            text = Text.from_ansi(raw, style=base, no_wrap=True, end="")
            text.expand_tabs(8)
        else:
            text = Text(raw.expandtabs(8), style=base, no_wrap=True, end="")
        text.stylize_before(base)  # rich drops the base style of a Text without spans
        if clipped:
            text.append("…", self.component_style("notice"))
        if self._pattern:
            self._highlight(text, key == self._current)
        strip = Strip(text.render(self.app.console), text.cell_len)
        self._strips[key] = strip
        return strip

    def _highlight(self, text: Text, current: bool) -> None:
        plain = text.plain.lower() if self._fold else text.plain
        pat = self._pattern.lower() if self._fold else self._pattern
        style = self.component_style("match-current" if current else "match")
        size = len(pat)
        at = plain.find(pat)
        while at >= 0:
            text.stylize(style, at, at + size)
            at = plain.find(pat, at + size)

    def _prompt_strip(self, width: int) -> Strip:
        style = self.component_style("prompt")
        text = Text(f"/{self._prompt}", style=style, no_wrap=True, end="")
        text.append(" ", style + Style(reverse=True))
        cells = text.cell_len
        text.append(" " * max(0, width - cells))
        strip = Strip(text.render(self.app.console), text.cell_len)
        start = max(0, cells - width)
        return strip.crop(start, start + width)

    # ------------------------------------------------------------------ scrolling
    def _page_height(self) -> int:
        return max(1, self.scrollable_content_region.height - (self._prompt is not None))

    def _scroll_rows(self, rows: float) -> None:
        target = min(max(0.0, self.scroll_target_y + rows), self.max_scroll_y)
        self.scroll_to(y=target, animate=False, force=True)
        if rows > 0:
            self._set_follow(target >= self.max_scroll_y)
        elif self.max_scroll_y > 0:
            self._set_follow(False)

    def _set_follow(self, follow: bool) -> None:
        if follow != self.follow:
            self.follow = follow
            self._update_subtitle()
        if follow:
            self.scroll_end(animate=False, immediate=True, x_axis=False, force=True)

    def action_line(self, rows: int) -> None:
        """Scroll by ``rows`` lines (up disables follow; reaching the end enables it)."""
        self._scroll_rows(rows)

    def action_page(self, pages: int) -> None:
        """Scroll by ``pages`` screens."""
        self._scroll_rows(pages * self._page_height())

    def action_column(self, cols: int) -> None:
        """Scroll sideways by ``cols`` cells."""
        self.scroll_to(x=max(0.0, self.scroll_target_x + cols), animate=False, force=True)

    def action_top(self) -> None:
        """Jump to the first row (follow off)."""
        self._set_follow(False)
        self.scroll_to(y=0, animate=False, force=True)

    def action_bottom(self) -> None:
        """Jump to the end and follow new output."""
        self._set_follow(True)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        """Wheel up: scroll and stop following."""
        if event.ctrl or event.shift:
            return
        event.stop()
        event.prevent_default()
        self._scroll_rows(-3)

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        """Wheel down: scroll; following resumes at the end."""
        if event.ctrl or event.shift:
            return
        event.stop()
        event.prevent_default()
        self._scroll_rows(3)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        """Dragging the scrollbar up stops following."""
        super().watch_scroll_y(old_value, new_value)
        if new_value < old_value and self.is_vertical_scrollbar_grabbed and self.follow:
            self.follow = False
            self._update_subtitle()

    # ------------------------------------------------------------------ search
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Escape only clears an active search (otherwise it goes to the app)."""
        if action == "clear_search":
            return bool(self._pattern)
        return True

    def action_search(self) -> None:
        """Open the search prompt on the last row."""
        self._prompt = ""
        self._update_size()
        if self.follow:
            self.scroll_end(animate=False, immediate=True, x_axis=False, force=True)
        self._update_subtitle()
        self.refresh()

    def action_clear_search(self) -> None:
        """Forget the search and its highlights."""
        self._set_pattern("")
        self._update_subtitle()

    def action_match(self, direction: int) -> None:
        """Go to the next (1) or previous (-1) matching line, wrapping around."""
        idx = self._index
        if not self._pattern or idx is None or not len(idx):
            return
        cur = self.current_match
        if direction > 0:
            start = self._first_visible_line() if cur is None else cur + 1
            found = idx.find(self._pattern, start)
            if found is None:
                found = idx.find(self._pattern, 0)
        else:
            start = self._first_visible_line() if cur is None else cur - 1
            found = idx.find(self._pattern, start, backwards=True)
            if found is None:
                found = idx.find(self._pattern, len(idx) - 1, backwards=True)
        self._goto_match(found)

    def _first_visible_line(self) -> int:
        idx = self._index
        top = round(self.scroll_y) - len(self._header)
        return max(0, min(top, len(idx) - 1 if idx is not None else 0))

    def _set_pattern(self, pattern: str) -> None:
        if pattern != self._pattern:
            self._pattern = pattern
            self._fold = not is_smart_case_sensitive(pattern)
            self.invalidate()
            self._restart_count()
        self._current = None
        self._no_match = False
        self.refresh()

    def _run_search(self, pattern: str) -> None:
        pattern = pattern or self._pattern
        if "\n" in pattern:
            pattern = pattern.split("\n", 1)[0]
        self._set_pattern(pattern)
        if not pattern or self._index is None:
            self._update_subtitle()
            return
        found = self._index.find(pattern, self._first_visible_line())
        if found is None:
            found = self._index.find(pattern, 0)
        self._goto_match(found)

    def _goto_match(self, line: int | None) -> None:
        idx = self._index
        if idx is None:
            return
        old = self._current
        if line is None:
            self._no_match = True
            self._current = None
        else:
            self._no_match = False
            self._current = idx.dropped + line
            row = len(self._header) + line
            height = self._page_height()
            if not self.scroll_y <= row < self.scroll_y + height:
                self._set_follow(False)
                self.scroll_to(y=max(0, row - height // 3), animate=False, force=True)
        for key in (old, self._current):
            if key is not None:
                self.forget(key)
        self._update_subtitle()
        self.refresh()

    def _restart_count(self) -> None:
        self._hits = array("q")
        idx = self._index
        self._count_next = idx.dropped if idx is not None else 0
        self._count_done = not self._pattern or idx is None
        if not self._count_done:
            self._schedule_count()

    def _schedule_count(self) -> None:
        if self._count_timer is None and self.is_mounted:
            self._count_timer = self.set_timer(_STEP_SECONDS, self._count_step)

    def _count_step(self) -> None:
        """Count matching lines over the next few MB (bounded work per frame)."""
        self._count_timer = None
        idx = self._index
        if idx is None or not self._pattern or self._count_done:
            return
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
            self._schedule_count()
        self._update_subtitle()

    def _close_prompt(self) -> None:
        self._prompt = None
        self._update_size()
        self.refresh()

    def on_key(self, event: events.Key) -> None:
        """While the search prompt is open, keys edit it instead of acting as bindings."""
        if self._prompt is None:
            return
        key = event.key
        if key == "escape":
            self._close_prompt()
        elif key == "enter":
            pattern = self._prompt
            self._close_prompt()
            self._run_search(pattern)
        elif key == "backspace":
            self._prompt = self._prompt[:-1]
        elif key == "ctrl+u":
            self._prompt = ""
        elif event.is_printable and event.character is not None:
            self._prompt += event.character
        else:
            return
        event.stop()
        event.prevent_default()
        self._update_subtitle()
        self.refresh()

    def on_paste(self, event: events.Paste) -> None:
        """Paste into the search prompt (first line only)."""
        if self._prompt is not None and event.text:
            self._prompt += event.text.splitlines()[0]
            event.stop()
            self.refresh()

    def on_blur(self, event: events.Blur) -> None:
        """Losing focus closes the search prompt."""
        if self._prompt is not None:
            self._close_prompt()
            self._update_subtitle()
