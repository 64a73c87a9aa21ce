"""The logs pane: one vertex's output, with status/warning header, error footer and search.

``LogView`` is a line-API ``ScrollView``: it renders only the rows on screen, from a
``LogIndex`` over the vertex's ``LogBuffer`` (text is decoded per visible line) and keeps an
LRU cache of rendered log-line strips keyed by stable line numbers. Scrolling therefore
costs the same with 80 lines or 800,000.

Rows, top to bottom: the header (a "dropped" notice, the vertex's status items and warnings),
the log lines (stderr marked with a coloured ``▌`` gutter), then the footer (the vertex's
error); the rows' data is in :mod:`~tui.ui.widgets.logs.model`, their drawing in
:mod:`~tui.ui.widgets.logs.render`. Output arriving in one frame is indexed within a byte
budget; a backlog (showing a vertex with a huge buffer) is indexed over the next frames.

The view follows the newest output until scrolled up (:mod:`~tui.ui.widgets.logs.follow`);
the last vertices' index and scroll position are kept (``SavedViews``). ``/`` opens the search
prompt on the last row, which takes the keys while open: the search's keys, prompt and match
counter are a :class:`~tui.ui.widgets.logs.find.Finder` on the view (it implements
:class:`~tui.ui.widgets.logs.find.SearchTarget`), the pattern and its matches a
:class:`~tui.ui.widgets.logs.search.LogSearch`.
"""

from __future__ import annotations

from typing import ClassVar

from rich.segment import Segment
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.strip import Strip
from textual.timer import Timer

from tui.debug.model.graph import Vertex
from tui.ui.widgets.lineview import LineView
from tui.ui.widgets.logs.find import Finder
from tui.ui.widgets.logs.follow import Follow
from tui.ui.widgets.logs.index import DEFAULT_BUDGET, LogIndex
from tui.ui.widgets.logs.model import (
    STEP_SECONDS,
    Decor,
    SavedView,
    SavedViews,
    format_status,
    title,
)
from tui.ui.widgets.logs.render import (
    GUTTER,
    MAX_LINE_BYTES,
    decor_text,
    log_line_text,
    prompt_strip,
    to_strip,
)

__all__ = ["LogView", "format_status"]

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
        "logview--stderr", "logview--stderr-gutter", "logview--status", "logview--status-done",
        "logview--warning", "logview--error", "logview--notice", "logview--match",
        "logview--match-current", "logview--prompt",
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
        self._saved = SavedViews()
        self._decor = Decor()
        self._step_timer: Timer | None = None
        self._follow = Follow(self, self._update_subtitle)
        self._finder = Finder(self)
        self._search = self._finder.search
        self._prompt = self._finder.prompt

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
    def follow(self) -> bool:
        """Keep the newest output in view (``end``/``G`` turns it on, scrolling up off)."""
        return self._follow.on

    @follow.setter
    def follow(self, on: bool) -> None:
        self._follow.on = on

    @property
    def header_lines(self) -> int:
        """Rows above the log lines (notice, statuses, warnings)."""
        return len(self._decor.header)

    @property
    def search_pattern(self) -> str:
        """The active search pattern ("" when none)."""
        return self._search.pattern

    @property
    def searching(self) -> bool:
        """Whether the search prompt is open."""
        return self._prompt.is_open

    @property
    def current_match(self) -> int | None:
        """Line (index into ``index``) of the current match, if any."""
        return self._search.current_line(self._index)

    @property
    def match_status(self) -> str:
        """``match 3/17`` (``?`` / ``+`` while counting or above the limit) or ``no match``."""
        return self._search.status

    def show_vertex(self, vertex: Vertex | None) -> None:
        """Show ``vertex``'s output (``None``: nothing)."""
        if vertex is self._vertex and vertex is not None:
            self.logs_changed()
            return
        self._remember()
        self._vertex = vertex
        self.invalidate()
        self._search.forget_match()
        if vertex is None:
            self._index = None
            self.follow = True
        else:
            saved = self._saved.take(vertex.digest, vertex.logs)
            if saved is not None:
                self._index, self.follow = saved.index, saved.follow
                scroll_y = saved.scroll_y
            else:
                self._index, self.follow, scroll_y = LogIndex(vertex.logs), True, 0.0
        self._finder.restart_count()
        self._rebuild_decor()
        self._index_step()
        if not self.follow:
            self._follow.scroll_to(scroll_y)
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
        self._saved.remember(
            self._vertex.digest, SavedView(self._index, self.follow, self.scroll_y))

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
            self._search.forget_dropped(idx)
            self._follow.lines_dropped(delta.dropped, len(self._decor.header))
        self._update_size()
        self._follow.catch_up()
        if delta.added or delta.head_changed or delta.first_changed is not None:
            self.refresh()
        if idx.pending and self._step_timer is None and self.is_mounted:
            self._step_timer = self.set_timer(STEP_SECONDS, self._index_step)
        self._finder.resume_count(idx)

    def _update_size(self) -> None:
        idx = self._index
        lines = len(idx) if idx is not None else 0
        width = GUTTER + min(idx.max_line_bytes, MAX_LINE_BYTES) + 1 if idx is not None else 0
        width = max(width, self._decor.width)
        height = len(self._decor.header) + lines + len(self._decor.footer)
        if self._prompt.is_open:
            height += 1
        self.virtual_size = Size(width, height)

    # ------------------------------------------------------------------ header/footer
    def _rebuild_decor(self) -> None:
        v = self._vertex
        self.border_title = title(v) if v is not None else "Logs"
        old = self._decor.update(v)
        if old is not None:
            self._follow.header_resized(old, len(self._decor.header))
            self._update_size()
            self.refresh()
        self._update_subtitle()

    def _update_subtitle(self) -> None:
        parts = ["follow" if self.follow else "paused"]
        v = self._vertex
        if v is not None and v.source is not None:
            parts.insert(0, v.source.describe())
        if self._prompt.is_open:
            parts.append("search: enter/esc")
        elif self._search.pattern:
            parts.append(f"/{self._search.pattern}: {self._search.status}")
        self.border_subtitle = " · ".join(parts)

    # ------------------------------------------------------------------ rendering
    def render_visible_line(self, y: int, width: int) -> Strip:
        """Render row ``y`` of the viewport."""
        base = self.base_style()
        prompt = self._prompt.text
        if prompt is not None and y == self.scrollable_content_region.height - 1:
            return prompt_strip(prompt, width, self.component_style("prompt"), self.app.console)
        scroll_x, scroll_y = self.scroll_offset
        row = scroll_y + y
        n_header = len(self._decor.header)
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
        if row < len(self._decor.footer):
            return self._decor_strip(False, row).crop_extend(scroll_x, scroll_x + width, base)
        return Strip.blank(width, base)

    def _decor_strip(self, header: bool, row: int) -> Strip:
        decor = self._decor
        key = ("decor", decor.updates, header, row)
        strip = self._strips.get(key)
        if strip is None:
            kind, plain = (decor.header if header else decor.footer)[row]
            text = decor_text(plain, self.base_style(), self.component_style(kind))
            strip = self._strips[key] = to_strip(text, self.app.console)
        return strip

    def _log_strip(self, idx: LogIndex, i: int) -> Strip:
        key = idx.dropped + i
        strip = self._strips.get(key)
        if strip is not None:
            return strip
        base = self.base_style()
        if idx.is_stderr(i):
            base = base + self.component_style("stderr")
        text = log_line_text(idx, i, base, self.component_style("notice"))
        search = self._search
        if search.pattern:
            current = key == search.current
            search.highlight(text, self.component_style("match-current" if current else "match"))
        strip = self._strips[key] = to_strip(text, self.app.console)
        return strip

    # ------------------------------------------------------------------ scrolling
    def _page_height(self) -> int:
        return max(1, self.scrollable_content_region.height - self._prompt.is_open)

    def action_line(self, rows: int) -> None:
        """Scroll by ``rows`` lines (up disables follow; reaching the end enables it)."""
        self._follow.scroll_rows(rows)

    def action_page(self, pages: int) -> None:
        """Scroll by ``pages`` screens."""
        self._follow.scroll_rows(pages * self._page_height())

    def action_column(self, cols: int) -> None:
        """Scroll sideways by ``cols`` cells."""
        self.scroll_to(x=max(0.0, self.scroll_target_x + cols), animate=False, force=True)

    def action_top(self) -> None:
        """Jump to the first row (follow off)."""
        self._follow.top()

    def action_bottom(self) -> None:
        """Jump to the end and follow new output."""
        self._follow.set(True)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        """Wheel up: scroll and stop following."""
        self._wheel(event, -3)

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        """Wheel down: scroll; following resumes at the end."""
        self._wheel(event, 3)

    def _wheel(self, event: events.MouseEvent, rows: int) -> None:
        if event.ctrl or event.shift:
            return
        event.stop()
        event.prevent_default()
        self._follow.scroll_rows(rows)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        """Dragging the scrollbar up stops following."""
        super().watch_scroll_y(old_value, new_value)
        self._follow.dragged(old_value, new_value)

    # ------------------------------------------------------------------ search
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Escape only clears an active search (otherwise it goes to the app)."""
        if action == "clear_search":
            return bool(self._search.pattern)
        return True

    def action_search(self) -> None:
        """Open the search prompt on the last row."""
        self._finder.open_prompt()

    def action_clear_search(self) -> None:
        """Forget the search and its highlights."""
        self._finder.clear()

    def action_match(self, direction: int) -> None:
        """Go to the next (1) or previous (-1) matching line, wrapping around."""
        self._finder.step(direction)

    def on_key(self, event: events.Key) -> None:
        """While the search prompt is open, keys edit it instead of acting as bindings."""
        if self._finder.key(event.key, event.character if event.is_printable else None):
            event.stop()
            event.prevent_default()

    def on_paste(self, event: events.Paste) -> None:
        """Paste into the search prompt (first line only)."""
        if self._finder.paste(event.text):
            event.stop()

    def on_blur(self, event: events.Blur) -> None:
        """Losing focus closes the search prompt."""
        self._finder.blur()

    # ------------------------------------------------------------------ what the search needs
    def first_visible_line(self) -> int:
        """The log line at the top of the view."""
        idx = self._index
        top = round(self.scroll_y) - len(self._decor.header)
        return max(0, min(top, len(idx) - 1 if idx is not None else 0))

    def reveal_line(self, line: int) -> None:
        """Scroll log line ``line`` into view if it is not shown (following stops)."""
        self._follow.reveal(len(self._decor.header) + line, self._page_height())

    def prompt_toggled(self) -> None:
        """The search prompt opened or closed: a row more or less."""
        self._update_size()
        if self._prompt.is_open:
            self._follow.catch_up()
        self.refresh()

    def search_changed(self) -> None:
        """The prompt, the pattern or the match counts changed."""
        self._update_subtitle()
