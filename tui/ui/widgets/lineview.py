"""The line-API scroll view the panes share: cached styles and strips, and a row cursor.

``LineView`` renders only the rows on screen. Its component styles and rendered strips are
cached under one key (the content width, the theme and an update counter): when any of them
changes both caches start afresh, so nothing is invalidated by hand. CSS or theme changes bump
the counter (``notify_style_update``), as does :meth:`LineView.invalidate`; a single changed
row is dropped with :meth:`LineView.forget`.

``CursorLineView`` adds ``cursor_line``: a reactive clamped to the rows (validate) that redraws
the rows it leaves and enters and scrolls into view (watch).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import ClassVar

from rich.style import Style
from textual import events
from textual.cache import LRUCache
from textual.geometry import Region
from textual.reactive import var
from textual.scroll_view import ScrollView
from textual.strip import Strip

__all__ = ["CursorLineView", "LineView"]


class LineView(ScrollView):
    """A line-API ``ScrollView`` with cached component styles and strips."""

    #: Prefix of the component classes (``PREFIX + name``).
    COMPONENT_PREFIX: ClassVar[str] = ""
    #: Rendered strips kept.
    STRIP_CACHE_ROWS: ClassVar[int] = 1024

    _updates = 0
    _pending_row: int | None = None
    _pending_center = False

    def __init__(
        self,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self._cache_key: tuple[int, str, int] | None = None
        self._styles: dict[Hashable, Style] = {}
        self._strips: LRUCache[Hashable, Strip] = LRUCache(self.STRIP_CACHE_ROWS)

    # ------------------------------------------------------------------ caches
    def invalidate(self) -> None:
        """Every row changed: render all of them again."""
        self._updates += 1
        self.refresh()

    def forget(self, key: Hashable) -> None:
        """Drop the strip cached under ``key`` (its row changed)."""
        self._strips.discard(key)

    def notify_style_update(self) -> None:
        """CSS or the theme changed: the cached styles and strips are stale."""
        super().notify_style_update()
        self._updates += 1

    def _sync_caches(self, width: int) -> None:
        key = (width, self.app.theme, self._updates)
        if key != self._cache_key:
            self._cache_key = key
            self._styles.clear()
            self._strips.clear()

    def render_line(self, y: int) -> Strip:
        """Render row ``y`` of the viewport (see :meth:`render_visible_line`)."""
        width = self.scrollable_content_region.width
        self._sync_caches(width)
        return self.render_visible_line(y, width)

    def render_visible_line(self, y: int, width: int) -> Strip:
        """Render row ``y`` of the viewport, ``width`` cells wide (the caches are current)."""
        return Strip.blank(width, self.base_style())

    # ------------------------------------------------------------------ styles
    def base_style(self) -> Style:
        """The widget's own style (``rich_style`` walks the ancestors on every call)."""
        style = self._styles.get("")
        if style is None:
            style = self._styles[""] = self.rich_style
        return style

    def component_style(self, name: str) -> Style:
        """The rich style of the ``PREFIX + name`` component class."""
        key = ("component", name)
        style = self._styles.get(key)
        if style is None:
            style = self._styles[key] = self.get_component_rich_style(
                self.COMPONENT_PREFIX + name)
        return style

    def layered_style(self, name: str, under: str = "") -> Style:
        """Base style, plus the ``under`` component (a cursor), plus ``name``'s colours.

        ``name``'s colours are taken alpha-blended and without its background.
        """
        key = (name, under)
        style = self._styles.get(key)
        if style is None:
            style = self.base_style()
            if under:
                style = style + self._blended(under, background=True)
            if name:
                style = style + self._blended(name, background=False)
            self._styles[key] = style
        return style

    def _blended(self, name: str, *, background: bool) -> Style:
        full = self.get_component_rich_style(self.COMPONENT_PREFIX + name)
        partial = self.get_component_rich_style(self.COMPONENT_PREFIX + name, partial=True)
        return Style(
            color=full.color if partial.color else None,
            bgcolor=full.bgcolor if background and partial.bgcolor else None,
            bold=partial.bold, dim=partial.dim, italic=partial.italic,
            underline=partial.underline, reverse=partial.reverse, strike=partial.strike,
        )

    # ------------------------------------------------------------------ rows
    def row_visible(self, row: int) -> bool:
        """Whether content row ``row`` is on screen."""
        top = self.scroll_offset.y
        return top <= row < top + self.scrollable_content_region.height

    def refresh_row(self, row: int) -> None:
        """Repaint content row ``row`` if it is on screen."""
        if self.row_visible(row):
            self.refresh_line(row)

    def scroll_to_line(self, row: int, *, center: bool = False) -> None:
        """Scroll the least (or to the middle) to show ``row``; later if not laid out yet."""
        region = self.scrollable_content_region
        if not region.height:
            self._pending_row, self._pending_center = row, center
            return
        self._pending_row = None
        self.scroll_to_region(
            Region(self.scroll_offset.x, row, max(1, region.width), 1),
            animate=False, force=True, immediate=True, center=center,
        )

    def pending_line(self, row: int) -> int:
        """The row to show once laid out, asked for as ``row`` before (a cursor may re-key it)."""
        return row

    def _on_resize(self, event: events.Resize) -> None:
        if self._pending_row is not None:
            self.scroll_to_line(self.pending_line(self._pending_row), center=self._pending_center)


class CursorLineView(LineView):
    """A ``LineView`` whose rows a cursor moves over."""

    #: Row of the cursor, clamped to the rows (0 when there are none).
    cursor_line: var[int] = var(0, init=False)

    @property
    def line_count(self) -> int:
        """Number of rows the cursor moves over."""
        return 0

    def row_key(self, row: int) -> Hashable:
        """The strip-cache key of row ``row`` (the row itself unless overridden)."""
        return row

    def validate_cursor_line(self, row: int) -> int:
        """Clamp to the rows."""
        return max(0, min(row, self.line_count - 1))

    def watch_cursor_line(self, old: int, new: int) -> None:
        """Redraw the rows left and entered; scroll the cursor into view."""
        for row in (old, new):
            if 0 <= row < self.line_count:
                self.forget(self.row_key(row))
                self.refresh_row(row)
        self.scroll_to_line(new)

    def move_cursor(self, row: int) -> None:
        """Put the cursor on ``row`` (clamped) and scroll it into view, even if it was there."""
        before = self.cursor_line
        self.cursor_line = row
        if self.cursor_line == before:
            self.scroll_to_line(before)

    def set_cursor_quietly(self, row: int) -> None:
        """Put the cursor on ``row`` (clamped) without redrawing or scrolling."""
        self.set_reactive(CursorLineView.cursor_line, self.validate_cursor_line(row))
