"""The file browser's preview: a text file, a hex dump, or a few lines about an entry.

A line-API ``ScrollView``: only the rows on screen are rendered. A text file is read a page
(:data:`PAGE` bytes) at a time, only when scrolled past the loaded text; a page is shown plain
at once, then highlighted once, in a thread (see :mod:`tui.ui.widgets.files.pages`). At most
:data:`MAX_PAGES` pages stay loaded; older ones are read again when scrolled back to.
"""

from __future__ import annotations

import asyncio
import posixpath
from bisect import bisect_right
from collections.abc import Callable
from enum import Enum
from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.text import Text
from textual import events
from textual.geometry import Size
from textual.strip import Strip

from tui.debug.model.fsmodel import Entry, Snapshot, StateFiles, is_text
from tui.debug.model.textfmt import format_bytes
from tui.ui.widgets.files.model import clean_name
from tui.ui.widgets.files.pages import (
    PAGE,
    Page,
    freeze_once_after_lexers,
    guess_lexer,
    hex_rows,
    lex,
    make_page,
)
from tui.ui.widgets.lineview import LineView
from tui.ui.widgets.textclean import one_line

__all__ = ["HEX_BYTES", "MAX_PAGES", "FilePreview"]

#: Pages of one text file kept loaded (older ones are read again when scrolled back to).
MAX_PAGES = 8
#: Bytes of a binary file shown as a hex dump.
HEX_BYTES = 512

_DASH = "\u2013"  # en dash of byte ranges
_LEXER_SAMPLE = 4096
_KIND_TEXT = {
    "char": "character device", "block": "block device", "fifo": "named pipe (fifo)",
    "socket": "socket", "other": "special file",
}


class _Shown(Enum):
    """What the preview shows."""

    NOTHING = "nothing"
    LINES = "lines"  # a few lines about an entry, or a hex dump
    TEXT = "text"  # a text file, paged


class FilePreview(LineView, can_focus=False):
    """A text file (paged, highlighted), a hex dump, or a few lines about an entry."""

    COMPONENT_PREFIX = "file-preview--"
    STRIP_CACHE_ROWS = 256  # a few screens

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "file-preview--gutter", "file-preview--notice", "file-preview--error",
        "file-preview--hex",
    }

    DEFAULT_CSS = """
    FilePreview {
        background: $surface;
        color: $foreground;
        overflow-x: auto;
        overflow-y: auto;
        & > .file-preview--gutter { color: $text-muted; }
        & > .file-preview--notice { color: $text-muted; text-style: italic; }
        & > .file-preview--error { color: $text-error; text-style: bold; }
        & > .file-preview--hex { color: $foreground; }
    }
    """

    def __init__(self, on_title: Callable[[str], None], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._on_title = on_title
        self._token = 0
        self._shown = _Shown.NOTHING
        self._lines: list[tuple[str, str]] = []  # (component, text) in "lines" mode
        self._source: tuple[StateFiles, Entry] | None = None
        self._lexer: str | None = None  # guessed from the file's name and first page
        self._sample = ""
        self._starts: list[tuple[int, int, bool]] = []  # page -> (offset, first line, cont.)
        self._last: int | None = None  # number of the file's last page, once known
        self._pages: list[Page] = []
        self._row_starts: list[int] = [0]
        self._gutter = 0
        self._busy = False
        self._header = ""
        self.title = ""

    @property
    def path(self) -> str | None:
        """Path of the entry shown (None when empty)."""
        return self._source[1].path if self._source is not None else None

    @property
    def loaded(self) -> tuple[int, int] | None:
        """Byte range of the text loaded (``None`` unless a text file is shown)."""
        if self._shown is not _Shown.TEXT or not self._pages:
            return None
        return self._pages[0].offset, self._pages[-1].end

    # ------------------------------------------------------------------ content
    def _reset(self, source: tuple[StateFiles, Entry] | None) -> None:
        self._token += 1
        self.workers.cancel_group(self, "fb-preview")
        self.workers.cancel_group(self, "fb-highlight")
        self._source = source
        self._lexer = None
        self._shown = _Shown.NOTHING
        self._lines = []
        self._pages = []
        self._row_starts = [0]
        self._starts = []
        self._last = None
        self._busy = False
        self.invalidate()
        self._gutter = 0

    def clear(self, hint: str = "") -> None:
        """Show nothing (or a dimmed hint)."""
        self._reset(None)
        self._header = ""
        self._set_lines([("notice", hint)] if hint else [])

    def show_entry(self, state: StateFiles, snapshot: Snapshot, e: Entry) -> None:
        """Preview ``e``: read a file, describe a link or special file."""
        self._reset((state, e))
        self._header = "/" + e.path
        if e.kind == "file":
            self._set_lines([("notice", f"reading /{e.path}…")])
            self._busy = True
            token = self._token
            self.run_worker(self._open(state, e, token), group="fb-preview", exclusive=True)
        elif e.kind == "link":
            self._set_lines(_link_lines(snapshot, e), "symbolic link")
        elif e.kind == "dir":
            self._set_lines([])
        else:
            self._set_lines([("notice", f"{_KIND_TEXT.get(e.kind, e.kind)}: nothing to show")],
                            _KIND_TEXT.get(e.kind, e.kind))

    def _set_lines(self, lines: list[tuple[str, str]], status: str = "") -> None:
        self._shown = _Shown.LINES
        self._lines = lines
        self.invalidate()
        width = max((cell_len(t) for _, t in lines), default=0)
        self.virtual_size = Size(width, len(lines))
        self.scroll_to(x=0, y=0, animate=False, force=True)
        self._set_title(status)
        self.refresh()

    def _set_title(self, status: str) -> None:
        parts = [p for p in (self._header, status) if p]
        self.title = " · ".join(parts)
        self._on_title(self.title)

    async def _open(self, state: StateFiles, e: Entry, token: int) -> None:
        try:
            data = await state.read(e.path, 0, PAGE)
            if token != self._token:
                return
            if not data:
                self._busy = False
                self._set_lines([("notice", "(empty file)")], "empty")
                return
            if not is_text(data):
                self._busy = False
                size = max(e.size, len(data))
                lines = [("notice", f"binary, {size:,} bytes"), ("", "")]
                lines += [("hex", row) for row in hex_rows(data[:HEX_BYTES])]
                self._set_lines(lines, f"binary, {size:,} bytes")
                return
            page = await asyncio.to_thread(make_page, data, 0, 0, 1, False, e.size)
        except Exception as exc:
            if token == self._token:
                self._busy = False
                self._set_lines([("error", f"error: {one_line(exc)}")], "error")
            return
        if token != self._token:
            return
        self._busy = False
        self._shown = _Shown.TEXT
        self._lexer = None
        self._sample = data[:_LEXER_SAMPLE].decode("utf-8", "replace")
        self._starts = [(0, 1, False)]
        self._install(page, "replace")
        self.scroll_to(x=0, y=0, animate=False, force=True)
        self._highlight(page)

    def _highlight(self, page: Page) -> None:
        """Highlight a page shown plain (in a thread), then show it highlighted."""
        self.run_worker(self._highlight_page(page, self._token), group="fb-highlight")

    async def _highlight_page(self, page: Page, token: int) -> None:
        if self._source is None:
            return
        try:
            if self._lexer is None:
                name = await asyncio.to_thread(guess_lexer, self._source[1].path, self._sample)
                if token != self._token:
                    return
                self._lexer = self._lexer or name
                freeze_once_after_lexers()
            if self._lexer != "text":
                page.lexed = await asyncio.to_thread(lex, page.lexed.text, self._lexer)
        except Exception:  # a lexer failing: the page stays plain
            self._lexer = self._lexer or "text"
        if token != self._token:
            return
        page.highlighted = True
        if any(p is page for p in self._pages):
            self.invalidate()
            self._relayout()

    def _relayout(self) -> None:
        pages = self._pages
        starts = [0]
        for p in pages:
            starts.append(starts[-1] + p.rows)
        self._row_starts = starts
        last_line = pages[-1].first_line + pages[-1].rows
        self._gutter = max(3, len(str(last_line))) + 1
        width = self._gutter + max(p.lexed.width for p in pages) + 1
        self.virtual_size = Size(width, starts[-1])
        self._text_title()
        self.refresh()

    def _install(self, page: Page, how: str) -> int:
        """Add a page to the window; the rows added (+) or dropped (-) above the old top."""
        pages = self._pages
        shift = 0
        if how == "replace":
            pages[:] = [page]
        elif how == "append":
            pages.append(page)
            while len(pages) > MAX_PAGES:
                shift -= pages.pop(0).rows
        else:
            pages.insert(0, page)
            shift = page.rows
            while len(pages) > MAX_PAGES:
                pages.pop()
        if page.number + 1 == len(self._starts) and not page.eof:
            self._starts.append((page.end, page.next_line, page.next_continued))
        if page.eof:
            self._last = page.number
        self._relayout()
        return shift

    def _text_title(self) -> None:
        if self._source is None or not self._pages:
            return
        e = self._source[1]
        a, b = self._pages[0].offset, self._pages[-1].end
        total = max(e.size, b)
        busy = " · reading…" if self._busy else ""
        lexer = self._lexer or "text"
        self._set_title(f"{lexer} · bytes {a:,}{_DASH}{b:,} of {total:,}{busy}")

    def _has_next(self) -> bool:
        return bool(self._pages) and (self._last is None or self._pages[-1].number < self._last)

    def _load(self, number: int, how: str, then: Callable[[int], int]) -> None:
        """Read page ``number`` into the window, then scroll to ``then(shift)``."""
        if self._source is None or self._busy or number >= len(self._starts):
            return
        self._busy = True
        self._text_title()
        self.run_worker(self._load_page(number, how, then, self._token), group="fb-preview",
                        exclusive=True)

    async def _load_page(self, number: int, how: str, then: Callable[[int], int],
                         token: int) -> None:
        assert self._source is not None
        state, e = self._source
        offset, first, cont = self._starts[number]
        try:
            data = await state.read(e.path, offset, PAGE)
            page = await asyncio.to_thread(make_page, data, number, offset, first, cont,
                                           e.size)
        except Exception as exc:
            if token == self._token:
                self._busy = False
                self._set_title(f"error: {one_line(exc)}")
            return
        if token != self._token:
            return
        self._busy = False
        if not page.rows:  # the previous page ended exactly at the end of the file
            self._last = number - 1
            self._text_title()
            return
        shift = self._install(page, how)
        self.scroll_to(y=max(0, min(then(shift), self.max_scroll_y)), animate=False, force=True)
        self._highlight(page)

    # ------------------------------------------------------------------ scrolling
    def page_height(self) -> int:
        """Rows scrolled by page up/down."""
        return max(1, self.scrollable_content_region.height)

    def scroll_rows(self, rows: int) -> None:
        """Scroll by ``rows``; past either end of the loaded text, load the next page."""
        y = self.scroll_offset.y
        target = y + rows
        if self._shown is _Shown.TEXT and not self._busy:
            if rows > 0 and target > self.max_scroll_y and self._has_next():
                self._load(self._pages[-1].number + 1, "append", lambda s: target + s)
                return
            if rows < 0 and target < 0 and self._pages and self._pages[0].number > 0:
                self._load(self._pages[0].number - 1, "prepend", lambda s: target + s)
                return
        self.scroll_to(y=max(0, min(target, self.max_scroll_y)), animate=False, force=True)

    def go_home(self) -> None:
        """Go to the first line of the file."""
        if self._shown is _Shown.TEXT and self._pages and self._pages[0].number > 0:
            self._load(0, "replace", lambda _s: 0)
        else:
            self.scroll_to(x=0, y=0, animate=False, force=True)

    def go_end(self) -> None:
        """Go to the end of the loaded text; from there, load the next page."""
        if (self._shown is _Shown.TEXT and self.scroll_offset.y >= self.max_scroll_y
                and self._has_next()):
            self._load(self._pages[-1].number + 1, "append", lambda _s: 1 << 30)
        else:
            self.scroll_to(y=self.max_scroll_y, animate=False, force=True)

    def scroll_columns(self, cols: int) -> None:
        """Scroll sideways."""
        self.scroll_to(x=max(0, self.scroll_offset.x + cols), animate=False, force=True)

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        """Wheel down; at the end of the loaded text, load the next page."""
        if event.ctrl or event.shift:
            return
        event.stop()
        event.prevent_default()
        self.scroll_rows(3)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        """Wheel up; at the top of the loaded text, load the previous page."""
        if event.ctrl or event.shift:
            return
        event.stop()
        event.prevent_default()
        self.scroll_rows(-3)

    # ------------------------------------------------------------------ rendering
    def render_visible_line(self, y: int, width: int) -> Strip:
        """Render row ``y`` of the viewport."""
        base = self.base_style()
        scroll_x, scroll_y = self.scroll_offset
        row = scroll_y + y
        if self._shown is _Shown.LINES and row < len(self._lines):
            strip = self._strips.get(("line", row))
            if strip is None:
                kind, plain = self._lines[row]
                style = self.component_style(kind) if kind else ""
                text = Text(plain, style=style, no_wrap=True, end="")
                text.stylize_before(base)
                strip = self._strips[("line", row)] = Strip(text.render(self.app.console))
            return strip.crop_extend(scroll_x, scroll_x + width, base)
        if self._shown is not _Shown.TEXT or row >= self._row_starts[-1]:
            return Strip.blank(width, base)
        k = bisect_right(self._row_starts, row) - 1
        page = self._pages[k]
        r = row - self._row_starts[k]
        content = self._strips.get((page.number, r))
        if content is None:
            content = Strip(page.lexed.segments(r)).apply_style(base)
            self._strips[(page.number, r)] = content
        gutter_w = min(self._gutter, width)
        if r == 0 and page.continued:
            number = " " * (self._gutter - 1)
        else:
            number = str(page.first_line + r).rjust(self._gutter - 1)
        gutter_style = base + self.component_style("gutter")
        gutter = Strip([Segment(number + " ", gutter_style)]).crop(0, gutter_w)
        view = width - gutter_w
        if view <= 0:
            return gutter
        return Strip.join([gutter, content.crop_extend(scroll_x, scroll_x + view, base)])


def _link_lines(snapshot: Snapshot, e: Entry) -> list[tuple[str, str]]:
    lines = [("notice", "symbolic link"), ("", f"-> {clean_name(e.link)}")]
    target = e.link
    if target.startswith("/"):
        resolved = posixpath.normpath(target).strip("/")
    else:
        resolved = posixpath.normpath(posixpath.join(e.parent, target)).strip("/")
    if resolved.startswith(".."):
        return lines
    found = snapshot.get("" if resolved == "." else resolved)
    if found is None:
        lines.append(("notice", f"/{clean_name(resolved)} is not in this state"))
    else:
        what = f"file, {format_bytes(found.size)}" if found.kind == "file" else found.kind
        lines.append(("notice", f"/{clean_name(resolved)}: {what}"))
    return lines
