"""The file browser: the filesystem of a build state, a directory listing and a file preview.

``FileBrowser.show`` takes the states that can be browsed (e.g. the failed step's initial and
final root); ``[`` and ``]`` switch between them. A state's snapshot is read in a worker and
indexed (children of every directory, in listing order) in a thread, then kept per state
object, so the event loop never waits for the daemon or for sorting 100,000 paths.

Layout: a header line (state, breadcrumbs, entry count and size of the directory's files), an
optional note line, then the listing and the preview side by side when the widget is at
least :data:`WIDE` columns wide; narrower, the preview replaces the listing while it is open.

Both panes are line-API ``ScrollView`` widgets that render only the rows on screen and cache
their strips: scrolling costs the same in a directory of 20 entries or 100,000. The preview
reads text files a page (:data:`PAGE` bytes, cut at the last newline) at a time, only when
scrolled past the loaded text; a page is shown plain at once, then highlighted once, in a
thread, into flat arrays of style runs (segments are built per row when it is first drawn).
At most :data:`MAX_PAGES` pages stay loaded.

Once a snapshot is indexed, and once pygments has loaded its lexers, the heap is frozen
(``gc.freeze``, as the terminal pane does): those objects stay for the session, and every full
GC pass over them would otherwise stall a frame for 50-100 ms while scrolling.

The widget itself takes the focus; its children do not. Keys act on the listing or, once a
file is open, on the preview (escape goes back).
"""

from __future__ import annotations

import asyncio
import gc
import posixpath
import re
from array import array
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.syntax import Syntax
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.containers import Horizontal, Vertical
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static

from tui.debug.fsmodel import Entry, Snapshot, StateFiles, is_text
from tui.debug.textfmt import format_bytes

__all__ = ["HEX_BYTES", "MAX_PAGES", "NOT_SENT", "PAGE", "WIDE", "FileBrowser"]

#: Bytes read per preview page.
PAGE = 65536
#: Pages of one text file kept loaded (older ones are read again when scrolled back to).
MAX_PAGES = 8
#: Bytes of a binary file shown as a hex dump.
HEX_BYTES = 512
#: Columns from which the listing and the preview are shown side by side.
WIDE = 100
#: Marker of a path the build context did not send (excluded by .dockerignore).
NOT_SENT = "(not sent: .dockerignore)"
#: Pygments theme of the preview (its backgrounds are dropped).
SYNTAX_THEME = "monokai"
TAB_SIZE = 4

_DASH = "\u2013"  # en dash of byte ranges
_CRUMB = "\u203a"  # between breadcrumbs
_SIZE_WIDTH = 8  # "999.99kB"
_MODE_WIDTH = 10  # "drwxr-xr-x"
_STATES_KEPT = 8
_CACHE_ROWS = 256  # strips kept per pane (a few screens)
_LEXER_SAMPLE = 4096
_CTRL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_NAME_CTRL = re.compile(r"[\x00-\x1f\x7f]")
_KIND_TEXT = {
    "char": "character device", "block": "block device", "fifo": "named pipe (fifo)",
    "socket": "socket", "other": "special file",
}


# ---------------------------------------------------------------------- data (no Textual)
@dataclass(slots=True)
class _Tree:
    """A loaded state: each directory's children in listing order and excluded names."""

    snapshot: Snapshot
    children: dict[str, list[Entry]]
    excluded: dict[str, list[str]]
    stats: dict[str, tuple[int, int, int]] = field(default_factory=dict)

    def dir_stats(self, path: str) -> tuple[int, int, int]:
        """Entries, bytes of regular files and the width of ``uid:gid`` in ``path``."""
        got = self.stats.get(path)
        if got is None:
            entries = self.children.get(path, [])
            total = sum(e.size for e in entries if e.kind == "file")
            uid = max((e.uid for e in entries), default=0)
            gid = max((e.gid for e in entries), default=0)
            got = self.stats[path] = (len(entries), total, len(f"{uid}:{gid}"))
        return got


def _order(e: Entry) -> tuple[bool, str]:
    return (e.kind != "dir", e.path)  # as Snapshot.children: directories first, then by name


def _build_tree(snap: Snapshot, excluded: Sequence[str]) -> _Tree:
    """Index ``snap`` by directory (run in a thread: sorting 100,000 paths takes a while)."""
    children: dict[str, list[Entry]] = {}
    for e in list(snap):
        if e.path:
            children.setdefault(e.parent, []).append(e)
    for entries in children.values():
        entries.sort(key=_order)
    names: dict[str, set[str]] = {}
    for raw in excluded:
        path = raw.strip()
        while path.startswith("./"):
            path = path[2:]
        path = path.strip("/")
        if not path or snap.get(path) is not None:
            continue
        parent, _, name = path.rpartition("/")
        names.setdefault(parent, set()).add(name + ("/" if raw.rstrip().endswith("/") else ""))
    return _Tree(snap, children, {k: sorted(v) for k, v in names.items()})


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _clean(name: str) -> str:
    return _NAME_CTRL.sub("\ufffd", name)


@dataclass(frozen=True, slots=True)
class _Lexed:
    """Text split into rows with style runs, kept in flat arrays (no per-token objects)."""

    text: str  # as the lexer saw it: tabs expanded, ends with a newline (unless empty)
    line_starts: array[int]  # row r is text[line_starts[r] : line_starts[r + 1] - 1]
    run_pos: array[int]  # where each style run starts
    run_style: array[int]  # index into _STYLE_TABLE
    width: int  # cells of the widest row

    @property
    def rows(self) -> int:
        """Number of rows."""
        return len(self.line_starts) - 1

    def segments(self, row: int) -> list[Segment]:
        """Row ``row`` as styled segments (built when the row is first drawn)."""
        start, end = self.line_starts[row], self.line_starts[row + 1] - 1
        pos, styles, text = self.run_pos, self.run_style, self.text
        k = max(0, bisect_right(pos, start) - 1)
        out: list[Segment] = []
        while k < len(pos) and pos[k] < end:
            a = max(pos[k], start)
            b = min(pos[k + 1] if k + 1 < len(pos) else end, end)
            if b > a:
                out.append(Segment(text[a:b], _STYLE_TABLE[styles[k]]))
            k += 1
        return out


@dataclass(slots=True)
class _Page:
    """One page of a text file: a byte range cut at a newline, its rows and styles."""

    number: int
    offset: int
    end: int  # byte after the last one consumed (a page ends at a newline unless at EOF)
    first_line: int  # line number of row 0
    continued: bool  # row 0 continues the previous page's last line
    lexed: _Lexed
    eof: bool
    next_line: int
    next_continued: bool
    highlighted: bool = False

    @property
    def rows(self) -> int:
        """Number of rows."""
        return self.lexed.rows


_STYLE_TABLE: list[Style | None] = [None]
_STYLE_IDS: dict[Any, int] = {}


def _style_id(token_type: Any) -> int:
    """Index of the theme's style of a token type, without background and default colour."""
    got = _STYLE_IDS.get(token_type)
    if got is not None:
        return got
    theme = Syntax.get_theme(SYNTAX_THEME)
    root = token_type
    while root.parent is not None:
        root = root.parent
    s = theme.get_style_for_token(token_type)
    base = theme.get_style_for_token(root)
    color = None if s.color == base.color else s.color
    style = Style(color=color, bold=s.bold, italic=s.italic, underline=s.underline) or None
    if style in _STYLE_TABLE:
        got = _STYLE_TABLE.index(style)
    else:
        got = len(_STYLE_TABLE)
        _STYLE_TABLE.append(style)
    _STYLE_IDS[token_type] = got
    return got


_lexers_frozen = False


def _freeze_once_after_lexers() -> None:
    """Freeze the heap once pygments has loaded its lexers (~40,000 objects for good)."""
    global _lexers_frozen
    if not _lexers_frozen:
        _lexers_frozen = True
        gc.freeze()


def _guess_lexer(path: str, sample: str) -> str:
    name = Syntax.guess_lexer(path, sample)
    return "text" if name == "default" else name


def _cut(data: bytes, eof: bool) -> int:
    """How much of a page to keep: up to its last newline (a whole UTF-8 text otherwise)."""
    if eof:
        return len(data)
    nl = data.rfind(b"\n")
    if nl >= 0:
        return nl + 1
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start > 0 and exc.start >= len(data) - 3:
            return exc.start
    return len(data)


def _lex(text: str, lexer_name: str) -> _Lexed:
    """Style runs and rows of ``text`` (run in a thread: pygments takes ~3 ms per KB)."""
    syntax = Syntax("", lexer_name, tab_size=TAB_SIZE)
    lexer = syntax.lexer or syntax.default_lexer
    parts: list[str] = []
    run_pos, run_style = array("I"), array("H")
    at, last = 0, -1
    for token_type, value in lexer.get_tokens(text):
        if not value:
            continue
        sid = _style_id(token_type)
        if sid != last:
            run_pos.append(at)
            run_style.append(sid)
            last = sid
        parts.append(value)
        at += len(value)
    seen = "".join(parts)
    starts = array("I", [0])
    width = 0
    for line in seen.split("\n")[:-1]:
        starts.append(starts[-1] + len(line) + 1)
        width = max(width, len(line) if line.isascii() else cell_len(line))
    return _Lexed(seen, starts, run_pos, run_style, width)


def _make_page(data: bytes, number: int, offset: int, first_line: int, continued: bool,
               size: int) -> _Page:
    """Cut and decode one page, unhighlighted (run in a thread).

    The page is the file's last when the read came back short at or past ``size`` (the
    snapshot's size of the file), or empty.
    """
    eof = not data or (len(data) < PAGE and offset + len(data) >= size)
    raw = data[: _cut(data, eof)]
    text = _CTRL.sub("\ufffd", raw.decode("utf-8", "replace").replace("\r\n", "\n"))
    lexed = _lex(text, "text") if text else _Lexed("", array("I", [0]), array("I"),
                                                   array("H"), 0)
    newlines = raw.count(b"\n")
    return _Page(number, offset, offset + len(raw), first_line, continued, lexed, eof,
                 first_line + newlines, bool(raw) and not raw.endswith(b"\n"))


def _hex_rows(data: bytes) -> list[str]:
    out = []
    for at in range(0, len(data), 16):
        chunk = data[at : at + 16]
        left = " ".join(f"{b:02x}" for b in chunk[:8])
        right = " ".join(f"{b:02x}" for b in chunk[8:])
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        out.append(f"{at:04x}  {left:<23}  {right:<23}  |{text}|")
    return out


# ---------------------------------------------------------------------- listing
class FileListing(ScrollView, can_focus=False):
    """Rows of one directory: ``..``, its entries, then the excluded names."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "file-listing--meta", "file-listing--dir", "file-listing--link",
        "file-listing--exec", "file-listing--special", "file-listing--excluded",
        "file-listing--cursor", "file-listing--cursor-blurred", "file-listing--notice",
        "file-listing--error",
    }

    DEFAULT_CSS = """
    FileListing {
        background: $surface;
        color: $foreground;
        overflow-x: hidden;
        overflow-y: auto;
        & > .file-listing--meta { color: $text-muted; }
        & > .file-listing--dir { color: $text-primary; text-style: bold; }
        & > .file-listing--link { color: $text-secondary; }
        & > .file-listing--exec { color: $text-success; }
        & > .file-listing--special { color: $text-warning; }
        & > .file-listing--excluded { color: $text-muted; text-style: dim italic; }
        & > .file-listing--cursor { background: $accent 45%; }
        & > .file-listing--cursor-blurred { background: $boost; text-style: underline; }
        & > .file-listing--notice { color: $text-muted; text-style: italic; }
        & > .file-listing--error { color: $text-error; text-style: bold; }
    }
    """

    def __init__(self, browser: FileBrowser, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._browser = browser
        self.up = False
        self.entries: list[Entry] = []
        self.excluded: list[str] = []
        self.cursor = 0
        self.owner_width = 3
        self.message: tuple[str, str] | None = None  # (component, text) instead of rows
        self.active = False
        self._strips: LRUCache[int, Strip] = LRUCache(_CACHE_ROWS)
        self._strip_width = -1
        self._styles: dict[str, Style] = {}

    @property
    def row_count(self) -> int:
        """Rows of the listing (the message counts as one)."""
        if self.message is not None:
            return 1
        return self.up + len(self.entries) + len(self.excluded)

    def row(self, index: int) -> Entry | str | None:
        """The entry at ``index``, ``".."``, an excluded name, or None."""
        if self.message is not None or index < 0:
            return None
        if self.up:
            if index == 0:
                return ".."
            index -= 1
        if index < len(self.entries):
            return self.entries[index]
        index -= len(self.entries)
        return self.excluded[index] if index < len(self.excluded) else None

    def set_rows(self, up: bool, entries: list[Entry], excluded: list[str], owner_width: int,
                 cursor: int) -> None:
        """Show a directory with the cursor on row ``cursor`` (centred if off the first page)."""
        self.message = None
        self.up, self.entries, self.excluded = up, entries, excluded
        self.owner_width = owner_width
        self._strips.clear()
        self.virtual_size = Size(self.scrollable_content_region.width, self.row_count)
        self.cursor = max(0, min(cursor, self.row_count - 1))
        height = self._height()
        y = 0 if self.cursor < height else self.cursor - height // 2
        self.scroll_to(y=y, animate=False, force=True)
        self.refresh()

    def set_message(self, component: str, text: str) -> None:
        """Show one line (loading, error) instead of rows."""
        self.message = (component, text)
        self.up, self.entries, self.excluded, self.cursor = False, [], [], 0
        self._strips.clear()
        self.virtual_size = Size(self.scrollable_content_region.width, 1)
        self.scroll_to(y=0, animate=False, force=True)
        self.refresh()

    def _height(self) -> int:
        return max(1, self.scrollable_content_region.height)

    def move_to(self, index: int) -> None:
        """Put the cursor on row ``index`` (clamped) and keep it visible."""
        index = max(0, min(index, self.row_count - 1))
        if index != self.cursor:
            self.cursor = index
            self.refresh()
        self.reveal()

    def reveal(self) -> None:
        """Scroll the least needed to show the cursor."""
        top, height = self.scroll_offset.y, self._height()
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, force=True)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False, force=True)

    def page_height(self) -> int:
        """Rows moved by page up/down."""
        return self._height()

    # ------------------------------------------------------------------ rendering
    def notify_style_update(self) -> None:
        """Drop strips rendered with the old styles."""
        super().notify_style_update()
        self._styles.clear()
        self._strips.clear()

    def _style(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            style = self._styles[name] = self.get_component_rich_style(f"file-listing--{name}")
        return style

    def _base(self) -> Style:
        """The widget's own style (``rich_style`` walks the ancestors on every call)."""
        style = self._styles.get("")
        if style is None:
            style = self._styles[""] = self.rich_style
        return style

    def render_line(self, y: int) -> Strip:
        """Render row ``y`` of the viewport."""
        width = self.scrollable_content_region.width
        if width != self._strip_width:
            self._strips.clear()
            self._strip_width = width
            self.virtual_size = Size(width, self.row_count)
        index = self.scroll_offset.y + y
        if not 0 <= index < self.row_count:
            return Strip.blank(width, self._base())
        if index == self.cursor and self.message is None:
            cursor = "cursor" if self.active else "cursor-blurred"
            return self._render_row(index, width, self._style(cursor))
        strip = self._strips.get(index)
        if strip is None:
            strip = self._strips[index] = self._render_row(index, width, None)
        return strip

    def _render_row(self, index: int, width: int, over: Style | None) -> Strip:
        base = self._base()
        text = Text(no_wrap=True, end="")
        if self.message is not None:
            kind, plain = self.message
            text.append(plain, self._style(kind))
        else:
            item = self.row(index)
            meta = _MODE_WIDTH + self.owner_width + _SIZE_WIDTH + 3
            if item == "..":
                text.append(" " * meta)
                text.append("../", self._style("dir"))
            elif isinstance(item, str):
                style = self._style("excluded")
                name = Text(_clean(item), style, no_wrap=True, end="")
                room = width - meta - len(NOT_SENT) - 2
                if name.cell_len > room:  # keep the marker in view
                    name.truncate(max(room, 4), overflow="ellipsis")
                text.append(" " * meta)
                text.append_text(name)
                text.append(f"  {NOT_SENT}", style)
            elif item is not None:
                self._entry_text(text, item)
        text.truncate(width, overflow="ellipsis", pad=True)
        if over is not None:
            text.stylize(over)
        text.stylize_before(base)
        return Strip(text.render(self.app.console), width)

    def _entry_text(self, text: Text, e: Entry) -> None:
        meta = self._style("meta")
        size = format_bytes(e.size) if e.kind == "file" else ""
        owner = f"{e.uid}:{e.gid}"
        text.append(f"{e.mode_string()} {owner:>{self.owner_width}} {size:>{_SIZE_WIDTH}} ",
                    meta)
        name = _clean(e.name)
        if e.kind == "dir":
            text.append(name + "/", self._style("dir"))
        elif e.kind == "link":
            text.append(name, self._style("link"))
            text.append(" -> ", meta)
            text.append(_clean(e.link))
        elif e.kind == "file":
            text.append(name, self._style("exec") if e.mode & 0o111 else None)
        else:
            text.append(name, self._style("special"))

    # ------------------------------------------------------------------ events
    def on_resize(self) -> None:
        """Keep the cursor in view at the new height."""
        self.reveal()

    def on_click(self, event: events.Click) -> None:
        """Select the clicked row; a double click opens it."""
        offset = event.get_content_offset(self)
        if offset is not None:
            self._browser._click_row(self.scroll_offset.y + offset.y, event.chain)


# ---------------------------------------------------------------------- preview
class FilePreview(ScrollView, can_focus=False):
    """A text file (paged, highlighted), a hex dump, or a few lines about an entry."""

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
        self._mode = "none"  # none | lines | text
        self._lines: list[tuple[str, str]] = []  # (component, text) in "lines" mode
        self._line_strips: dict[int, Strip] = {}
        self._source: tuple[StateFiles, Entry] | None = None
        self._lexer: str | None = None  # guessed from the file's name and first page
        self._sample = ""
        self._starts: list[tuple[int, int, bool]] = []  # page -> (offset, first line, cont.)
        self._last: int | None = None  # number of the file's last page, once known
        self._pages: list[_Page] = []
        self._row_starts: list[int] = [0]
        self._gutter = 0
        self._busy = False
        self._strips: LRUCache[tuple[int, int], Strip] = LRUCache(_CACHE_ROWS)
        self._styles: dict[str, Style] = {}
        self._header = ""
        self.title = ""

    @property
    def path(self) -> str | None:
        """Path of the entry shown (None when empty)."""
        return self._source[1].path if self._source is not None else None

    @property
    def loaded(self) -> tuple[int, int] | None:
        """Byte range of the text loaded (``None`` unless a text file is shown)."""
        if self._mode != "text" or not self._pages:
            return None
        return self._pages[0].offset, self._pages[-1].end

    # ------------------------------------------------------------------ content
    def _reset(self, source: tuple[StateFiles, Entry] | None) -> None:
        self._token += 1
        self.workers.cancel_group(self, "fb-preview")
        self.workers.cancel_group(self, "fb-highlight")
        self._source = source
        self._lexer = None
        self._mode = "none"
        self._lines = []
        self._line_strips.clear()
        self._pages = []
        self._row_starts = [0]
        self._starts = []
        self._last = None
        self._busy = False
        self._strips.clear()
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
        self._mode = "lines"
        self._lines = lines
        self._line_strips.clear()
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
                lines += [("hex", row) for row in _hex_rows(data[:HEX_BYTES])]
                self._set_lines(lines, f"binary, {size:,} bytes")
                return
            page = await asyncio.to_thread(_make_page, data, 0, 0, 1, False, e.size)
        except Exception as exc:
            if token == self._token:
                self._busy = False
                self._set_lines([("error", f"error: {_one_line(exc)}")], "error")
            return
        if token != self._token:
            return
        self._busy = False
        self._mode = "text"
        self._lexer = None
        self._sample = data[:_LEXER_SAMPLE].decode("utf-8", "replace")
        self._starts = [(0, 1, False)]
        self._install(page, "replace")
        self.scroll_to(x=0, y=0, animate=False, force=True)
        self._highlight(page)

    def _highlight(self, page: _Page) -> None:
        """Highlight a page shown plain (in a thread), then show it highlighted."""
        self.run_worker(self._highlight_page(page, self._token), group="fb-highlight")

    async def _highlight_page(self, page: _Page, token: int) -> None:
        if self._source is None:
            return
        try:
            if self._lexer is None:
                name = await asyncio.to_thread(_guess_lexer, self._source[1].path, self._sample)
                if token != self._token:
                    return
                self._lexer = self._lexer or name
                _freeze_once_after_lexers()
            if self._lexer != "text":
                page.lexed = await asyncio.to_thread(_lex, page.lexed.text, self._lexer)
        except Exception:  # a lexer failing: the page stays plain
            self._lexer = self._lexer or "text"
        if token != self._token:
            return
        page.highlighted = True
        if any(p is page for p in self._pages):
            self._strips.clear()
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

    def _install(self, page: _Page, how: str) -> int:
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
            page = await asyncio.to_thread(_make_page, data, number, offset, first, cont,
                                           e.size)
        except Exception as exc:
            if token == self._token:
                self._busy = False
                self._set_title(f"error: {_one_line(exc)}")
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
        if self._mode == "text" and not self._busy:
            if rows > 0 and target > self.max_scroll_y and self._has_next():
                self._load(self._pages[-1].number + 1, "append", lambda s: target + s)
                return
            if rows < 0 and target < 0 and self._pages and self._pages[0].number > 0:
                self._load(self._pages[0].number - 1, "prepend", lambda s: target + s)
                return
        self.scroll_to(y=max(0, min(target, self.max_scroll_y)), animate=False, force=True)

    def go_home(self) -> None:
        """Go to the first line of the file."""
        if self._mode == "text" and self._pages and self._pages[0].number > 0:
            self._load(0, "replace", lambda _s: 0)
        else:
            self.scroll_to(x=0, y=0, animate=False, force=True)

    def go_end(self) -> None:
        """Go to the end of the loaded text; from there, load the next page."""
        if (self._mode == "text" and self.scroll_offset.y >= self.max_scroll_y
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
    def notify_style_update(self) -> None:
        """Drop strips rendered with the old styles."""
        super().notify_style_update()
        self._styles.clear()
        self._strips.clear()
        self._line_strips.clear()

    def _style(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            style = self._styles[name] = self.get_component_rich_style(f"file-preview--{name}")
        return style

    def _base(self) -> Style:
        """The widget's own style (``rich_style`` walks the ancestors on every call)."""
        style = self._styles.get("")
        if style is None:
            style = self._styles[""] = self.rich_style
        return style

    def render_line(self, y: int) -> Strip:
        """Render row ``y`` of the viewport."""
        width = self.scrollable_content_region.width
        base = self._base()
        scroll_x, scroll_y = self.scroll_offset
        row = scroll_y + y
        if self._mode == "lines" and row < len(self._lines):
            strip = self._line_strips.get(row)
            if strip is None:
                kind, plain = self._lines[row]
                text = Text(plain, style=self._style(kind) if kind else "", no_wrap=True, end="")
                text.stylize_before(base)
                strip = self._line_strips[row] = Strip(text.render(self.app.console))
            return strip.crop_extend(scroll_x, scroll_x + width, base)
        if self._mode != "text" or row >= self._row_starts[-1]:
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
        gutter = Strip([Segment(number + " ", base + self._style("gutter"))]).crop(0, gutter_w)
        view = width - gutter_w
        if view <= 0:
            return gutter
        return Strip.join([gutter, content.crop_extend(scroll_x, scroll_x + view, base)])


def _link_lines(snapshot: Snapshot, e: Entry) -> list[tuple[str, str]]:
    lines = [("notice", "symbolic link"), ("", f"-> {_clean(e.link)}")]
    target = e.link
    if target.startswith("/"):
        resolved = posixpath.normpath(target).strip("/")
    else:
        resolved = posixpath.normpath(posixpath.join(e.parent, target)).strip("/")
    if resolved.startswith(".."):
        return lines
    found = snapshot.get("" if resolved == "." else resolved)
    if found is None:
        lines.append(("notice", f"/{_clean(resolved)} is not in this state"))
    else:
        what = f"file, {format_bytes(found.size)}" if found.kind == "file" else found.kind
        lines.append(("notice", f"/{_clean(resolved)}: {what}"))
    return lines


# ---------------------------------------------------------------------- the widget
class FileBrowser(Widget, can_focus=True):
    """Browse the files of build states: a listing and a preview (see the module docstring)."""

    #: Keys, for the app's help screen.
    KEYS: ClassVar[list[tuple[str, str]]] = [
        ("↑ ↓ pgup pgdn home end", "files: move the cursor / scroll the preview"),
        ("enter / →", "files: enter a directory, preview a file"),
        ("← / backspace", "files: parent directory"),
        ("escape", "files: from the preview back to the listing"),
        ("[  ]", "files: previous / next state"),
        ("double click", "files: open"),
    ]

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "move(-1)", "Up", show=False),
        Binding("down", "move(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "first", "Top", show=False),
        Binding("end", "last", "End", show=False),
        Binding("enter", "open", "Open", show=False),
        Binding("right", "right", "Open", show=False),
        Binding("left", "left", "Up", show=False),
        Binding("backspace", "back", "Back", show=False),
        Binding("escape", "close_preview", "Back", show=False),
        Binding("left_square_bracket", "switch(-1)", "Previous state", key_display="["),
        Binding("right_square_bracket", "switch(1)", "Next state", key_display="]"),
    ]

    DEFAULT_CSS = """
    FileBrowser {
        layout: vertical;
        width: 1fr;
        height: 1fr;
        & > #fb-header { height: 1; padding: 0 1; background: $panel; color: $foreground; }
        & > #fb-note {
            height: 1; padding: 0 1; background: $panel; color: $text-muted;
            text-style: italic;
        }
        & > #fb-body { height: 1fr; }
        & #fb-listing { width: 1fr; height: 1fr; }
        & #fb-preview-box { width: 1fr; height: 1fr; }
        & #fb-preview-title {
            height: 1; padding: 0 1; background: $panel; color: $text-muted;
        }
        & #fb-preview-box.-active > #fb-preview-title {
            background: $accent 45%; color: $foreground;
        }
        & #fb-preview { height: 1fr; }
        &.-wide #fb-preview-box { border-left: vkey $panel; }
    }
    """

    class Opened(Message):
        """A preview opened: ``path`` (relative to the root) of the state ``state_label``."""

        def __init__(self, state_label: str, path: str) -> None:
            super().__init__()
            self.state_label = state_label
            self.path = path

    def __init__(
        self,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self._states: list[StateFiles] = []
        self._index = 0
        self._trees: OrderedDict[int, tuple[StateFiles, _Tree]] = OrderedDict()
        self._errors: dict[int, str] = {}
        self._loading: set[int] = set()
        self._views: dict[int, tuple[str, str | None]] = {}  # state -> (cwd, cursor path)
        self._cwd = ""
        self._pane = "listing"  # which pane the keys act on
        self._previewing = False
        self._listing = FileListing(self, id="fb-listing")
        self._preview = FilePreview(self._set_preview_title, id="fb-preview")

    def compose(self) -> ComposeResult:
        """Header, note, then the listing and the preview."""
        yield Static("", id="fb-header", markup=False)
        yield Static("", id="fb-note", markup=False)
        with Horizontal(id="fb-body"):
            yield self._listing
            with Vertical(id="fb-preview-box"):
                yield Static("", id="fb-preview-title", markup=False)
                yield self._preview

    # ------------------------------------------------------------------ public API
    @property
    def state(self) -> StateFiles | None:
        """The state shown."""
        return self._states[self._index] if self._states else None

    @property
    def cwd(self) -> str:
        """The directory listed ("" is the root)."""
        return self._cwd

    @property
    def selected(self) -> Entry | None:
        """The entry under the cursor (None on ``..``, an excluded name, or while loading)."""
        row = self._listing.row(self._listing.cursor)
        return row if isinstance(row, Entry) else None

    @property
    def preview_path(self) -> str | None:
        """Path of the entry in the preview, if one is open."""
        return self._preview.path if self._previewing else None

    def show(self, states: Sequence[StateFiles], index: int = 0) -> None:
        """Browse ``states``, starting with ``states[index]`` (snapshots are read once each)."""
        self._remember()
        self._states = list(states)
        self._index = max(0, min(index, len(self._states) - 1))
        self._errors.clear()
        if self.is_mounted:
            self._display_state()

    # ------------------------------------------------------------------ states
    def _tree(self) -> _Tree | None:
        state = self.state
        got = self._trees.get(id(state)) if state is not None else None
        return got[1] if got is not None else None

    def _remember(self) -> None:
        state = self.state
        if state is not None and self._tree() is not None:
            sel = self._listing.row(self._listing.cursor)
            path = sel.path if isinstance(sel, Entry) else None
            self._views[id(state)] = (self._cwd, path)

    def _display_state(self) -> None:
        self._close_preview(clear=True)
        state = self.state
        self._update_note()
        if state is None:
            self._cwd = ""
            self._listing.set_message("notice", "no state to browse")
            self._update_header()
            return
        key = id(state)
        tree = self._tree()
        if tree is not None:
            self._trees.move_to_end(key)
            cwd, sel = self._views.get(key, ("", None))
            if cwd and cwd not in tree.children and tree.snapshot.get(cwd) is None:
                cwd, sel = "", None
            self._show_dir(cwd, sel)
            return
        self._cwd = ""
        if key in self._errors:
            self._listing.set_message("error", f"error: {self._errors[key]}")
        else:
            self._listing.set_message("notice", f"reading {state.label}…")
            if key not in self._loading:
                self._loading.add(key)
                self.run_worker(self._load(state), group="fb-snapshot")
        self._update_header()

    async def _load(self, state: StateFiles) -> None:
        key = id(state)
        try:
            snap = await state.snapshot()
            excluded = tuple(getattr(state, "excluded", ()) or ())
            tree = await asyncio.to_thread(_build_tree, snap, excluded)
        except Exception as exc:
            self._errors[key] = _one_line(exc)
        else:
            gc.freeze()  # see the module docstring
            self._trees[key] = (state, tree)
            while len(self._trees) > _STATES_KEPT:
                old, _ = self._trees.popitem(last=False)
                self._views.pop(old, None)
        finally:
            self._loading.discard(key)
        if self.state is state:
            self._display_state()

    def _update_note(self) -> None:
        note = self.query_one("#fb-note", Static)
        text = str(getattr(self.state, "note", "") or "") if self.state is not None else ""
        text = " ".join(text.split())
        note.update(Text(text, no_wrap=True, overflow="ellipsis"))
        note.display = bool(text)

    def _update_header(self) -> None:
        state = self.state
        text = Text(no_wrap=True, overflow="ellipsis")
        if state is None:
            self.query_one("#fb-header", Static).update(text)
            return
        text.append(f"{self._index + 1}/{len(self._states)} ", "dim")
        text.append(_clean(state.label), "bold")
        tree = self._tree()
        if tree is not None:
            text.append("  \u2502  ", "dim")
            parts = self._cwd.split("/") if self._cwd else []
            text.append("/", "" if parts else "bold")
            for k, part in enumerate(parts):
                text.append(f" {_CRUMB} ", "dim")
                text.append(_clean(part), "bold" if k == len(parts) - 1 else "")
            count, total, _ = tree.dir_stats(self._cwd)
            text.append(f"  \u2502  {count:,} entries · {format_bytes(total)}", "dim")
            excluded = len(tree.excluded.get(self._cwd, ()))
            if excluded:
                text.append(f" · {excluded} not sent", "dim")
        self.query_one("#fb-header", Static).update(text)

    # ------------------------------------------------------------------ directories
    def _show_dir(self, path: str, select: str | None) -> None:
        tree = self._tree()
        if tree is None:
            return
        self._cwd = path
        entries = tree.children.get(path, [])
        up = bool(path)
        cursor = 1 if up and entries else 0
        if select is not None:
            for k, e in enumerate(entries):
                if e.path == select:
                    cursor = k + up
                    break
        _, _, owner = tree.dir_stats(path)
        self._listing.set_rows(up, entries, tree.excluded.get(path, []), owner, cursor)
        self._update_header()

    def _go_up(self) -> None:
        if not self._cwd or self._tree() is None:
            return
        came = self._cwd
        self._show_dir(came.rpartition("/")[0], came)

    def _activate(self, index: int) -> None:
        tree = self._tree()
        row = self._listing.row(index)
        state = self.state
        if tree is None or state is None or row is None:
            return
        if row == "..":
            self._go_up()
        elif isinstance(row, Entry):
            if row.is_dir:
                self._show_dir(row.path, None)
            else:
                self._open_preview(state, tree, row)

    # ------------------------------------------------------------------ preview
    def _open_preview(self, state: StateFiles, tree: _Tree, e: Entry) -> None:
        self._previewing = True
        self._preview.show_entry(state, tree.snapshot, e)
        self._set_pane("preview")
        self.post_message(self.Opened(state.label, e.path))

    def _close_preview(self, clear: bool = False) -> None:
        if clear:
            self._previewing = False
            self._preview.clear("enter: preview the selected file")
        elif not self.has_class("-wide"):
            self._previewing = False
        self._set_pane("listing")

    def _set_preview_title(self, title: str) -> None:
        if self.is_mounted:
            self.query_one("#fb-preview-title", Static).update(
                Text(title, no_wrap=True, overflow="ellipsis"))

    def _set_pane(self, pane: str) -> None:
        self._pane = pane
        self._sync_layout()

    def _sync_layout(self) -> None:
        if not self.is_mounted:
            return
        wide = self.size.width >= WIDE
        self.set_class(wide, "-wide")
        if not wide and self._pane == "listing":
            self._previewing = False
        preview = self._pane == "preview"
        self._listing.display = wide or not preview
        box = self.query_one("#fb-preview-box")
        box.display = wide or preview
        box.set_class(preview and self.has_focus, "-active")
        active = self._pane == "listing" and self.has_focus
        if active != self._listing.active:
            self._listing.active = active
            self._listing.refresh()

    def _click_row(self, index: int, chain: int) -> None:
        self._set_pane("listing")
        if 0 <= index < self._listing.row_count:
            self._listing.move_to(index)
            if chain >= 2:
                self._activate(index)

    # ------------------------------------------------------------------ events
    def on_mount(self) -> None:
        """Show what ``show`` was given before mounting."""
        self._preview.clear("enter: preview the selected file")
        self._display_state()

    def on_resize(self) -> None:
        """Side by side or one pane at a time."""
        self._sync_layout()

    def on_focus(self) -> None:
        """Restyle the cursor."""
        self._sync_layout()

    def on_blur(self) -> None:
        """Restyle the cursor."""
        self._sync_layout()

    def on_click(self, event: events.Click) -> None:
        """A click on the preview makes it the pane keys act on."""
        if self._preview.path is not None and self._preview.region.contains(
                event.screen_x, event.screen_y):
            self._set_pane("preview")

    # ------------------------------------------------------------------ actions
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Escape only acts while the preview has the keys (otherwise it goes to the app)."""
        if action == "close_preview":
            return self._pane == "preview"
        return True

    def action_move(self, rows: int) -> None:
        """Move the cursor (or scroll the preview) by ``rows``."""
        if self._pane == "preview":
            self._preview.scroll_rows(rows)
        else:
            self._listing.move_to(self._listing.cursor + rows)

    def action_page(self, pages: int) -> None:
        """Move by ``pages`` screens."""
        if self._pane == "preview":
            self._preview.scroll_rows(pages * self._preview.page_height())
        else:
            self._listing.move_to(self._listing.cursor + pages * self._listing.page_height())

    def action_first(self) -> None:
        """First row / start of the file."""
        if self._pane == "preview":
            self._preview.go_home()
        else:
            self._listing.move_to(0)

    def action_last(self) -> None:
        """Last row / end of the loaded text (again: the next page)."""
        if self._pane == "preview":
            self._preview.go_end()
        else:
            self._listing.move_to(self._listing.row_count - 1)

    def action_open(self) -> None:
        """Enter the directory under the cursor, go up on ``..``, or preview the file."""
        if self._pane == "listing":
            self._activate(self._listing.cursor)

    def action_right(self) -> None:
        """Open (listing) or scroll right (preview)."""
        if self._pane == "preview":
            self._preview.scroll_columns(4)
        else:
            self._activate(self._listing.cursor)

    def action_left(self) -> None:
        """Parent directory (listing) or scroll left (preview)."""
        if self._pane == "preview":
            self._preview.scroll_columns(-4)
        else:
            self._go_up()

    def action_back(self) -> None:
        """Parent directory, or back from the preview to the listing."""
        if self._pane == "preview":
            self._close_preview()
        else:
            self._go_up()

    def action_close_preview(self) -> None:
        """Back from the preview to the listing."""
        self._close_preview()

    def action_switch(self, step: int) -> None:
        """Show the previous (-1) or next (1) state."""
        if len(self._states) < 2:
            return
        self._remember()
        self._index = (self._index + step) % len(self._states)
        self._display_state()
