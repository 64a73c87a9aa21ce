"""The panes' shared line view (caches, cursor) and text helpers."""

from __future__ import annotations

from typing import ClassVar

import pytest
from rich.segment import Segment
from textual.app import App, ComposeResult
from textual.geometry import Size
from textual.strip import Strip

from tui.ui.widgets.lineview import CursorLineView
from tui.ui.widgets.textclean import clean_controls, one_line

ROWS = 200


class Rows(CursorLineView):
    """ROWS numbered rows; counts how often each is rendered."""

    COMPONENT_PREFIX = "rows--"
    COMPONENT_CLASSES: ClassVar[set[str]] = {"rows--cursor"}
    DEFAULT_CSS = """
    Rows { height: 10; & > .rows--cursor { background: red; } }
    """

    def __init__(self) -> None:
        super().__init__()
        self.rendered: list[int] = []
        self.virtual_size = Size(0, ROWS)

    @property
    def line_count(self) -> int:
        return ROWS

    def render_visible_line(self, y: int, width: int) -> Strip:
        row = self.scroll_offset.y + y
        strip = self._strips.get(row)
        if strip is None:
            self.rendered.append(row)
            under = "cursor" if row == self.cursor_line else ""
            strip = Strip([Segment(f"row {row}".ljust(width), self.layered_style("", under))])
            self._strips[row] = strip
        return strip


def background(strip: Strip) -> object:
    """The background colour of the strip's first segment."""
    style = next(iter(strip)).style
    assert style is not None
    return style.bgcolor


class RowsApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Rows()


def test_clean_controls_keeps_what_is_asked_and_draws_pictures() -> None:
    raw = "a\tb\nc\x1b[1md\x00e\x7f"
    assert clean_controls(raw) == "a\ufffdb\ufffdc\ufffd[1md\ufffde\ufffd"
    assert clean_controls(raw, "\t\n\x1b") == "a\tb\nc\x1b[1md\ufffde\ufffd"
    assert clean_controls("x\ny\x7f", pictures=True) == "x\u240ay\u2421"


def test_one_line_joins_lines_or_names_the_type() -> None:
    assert one_line(OSError("no\n  such   file")) == "no such file"
    assert one_line(TimeoutError()) == "TimeoutError"


async def test_cursor_is_clamped_and_scrolled_into_view() -> None:
    async with RowsApp().run_test(size=(40, 12)) as pilot:
        view = pilot.app.query_one(Rows)
        view.cursor_line = 10_000
        await pilot.pause()
        assert view.cursor_line == ROWS - 1
        assert view.row_visible(ROWS - 1) and view.scroll_offset.y > 0
        view.cursor_line = -5
        await pilot.pause()
        assert (view.cursor_line, view.scroll_offset.y) == (0, 0)


async def test_strips_are_kept_until_width_theme_or_row_changes() -> None:
    async with RowsApp().run_test(size=(40, 12)) as pilot:
        view = pilot.app.query_one(Rows)
        await pilot.pause()
        view.rendered.clear()
        for y in range(3):
            view.render_line(y)
        assert view.rendered == []  # all cached
        view.forget(1)
        view.render_line(1)
        view.render_line(2)
        assert view.rendered == [1]  # only the forgotten row
        view.rendered.clear()
        width = view.scrollable_content_region.width
        await pilot.resize_terminal(30, 12)
        await pilot.pause()
        assert view.scrollable_content_region.width == width - 10
        assert 0 in view.rendered  # a new width: rendered again
        view.rendered.clear()
        pilot.app.theme = "textual-light" if pilot.app.theme != "textual-light" else "nord"
        await pilot.pause()
        view.render_line(0)
        assert view.rendered.count(0) >= 1  # a new theme: rendered again


async def test_cursor_move_redraws_only_the_rows_it_leaves_and_enters() -> None:
    async with RowsApp().run_test(size=(40, 12)) as pilot:
        view = pilot.app.query_one(Rows)
        await pilot.pause()
        cursor_bg = background(view.render_line(0))
        view.rendered.clear()
        view.cursor_line = 2
        for y in range(5):
            view.render_line(y)
        assert sorted(view.rendered) == [0, 2]
        assert background(view.render_line(2)) == cursor_bg
        assert background(view.render_line(0)) != cursor_bg


@pytest.mark.parametrize("row", [0, ROWS // 2, ROWS - 1])
async def test_move_cursor_scrolls_even_when_the_row_is_unchanged(row: int) -> None:
    async with RowsApp().run_test(size=(40, 12)) as pilot:
        view = pilot.app.query_one(Rows)
        view.cursor_line = row
        await pilot.pause()
        view.scroll_to(y=0 if row else ROWS, animate=False, immediate=True)
        await pilot.pause()
        view.move_cursor(row)
        await pilot.pause()
        assert view.row_visible(row)
