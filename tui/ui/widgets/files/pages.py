"""Text of a previewed file, no Textual: pages cut at newlines, highlighted into style runs.

A page (:data:`PAGE` bytes, cut at its last newline) is decoded and shown plain, then lexed once
by pygments into flat arrays of style runs (:class:`Lexed`); segments are built per row only
when the row is drawn. Also the rows of a hex dump of a binary file.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from dataclasses import dataclass
from typing import Any

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.syntax import Syntax

from tui.ui.heap import settle
from tui.ui.widgets.textclean import clean_controls

__all__ = [
    "PAGE", "SYNTAX_THEME", "TAB_SIZE", "Lexed", "Page", "freeze_once_after_lexers",
    "guess_lexer", "hex_rows", "lex", "make_page",
]

#: Bytes read per preview page.
PAGE = 65536
#: Pygments theme of the preview (its backgrounds are dropped).
SYNTAX_THEME = "monokai"
TAB_SIZE = 4


@dataclass(frozen=True, slots=True)
class Lexed:
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
class Page:
    """One page of a text file: a byte range cut at a newline, its rows and styles."""

    number: int
    offset: int
    end: int  # byte after the last one consumed (a page ends at a newline unless at EOF)
    first_line: int  # line number of row 0
    continued: bool  # row 0 continues the previous page's last line
    lexed: Lexed
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


def freeze_once_after_lexers() -> None:
    """Freeze the heap once pygments has loaded its lexers (~40,000 objects for good)."""
    settle("lexers")


def guess_lexer(path: str, sample: str) -> str:
    """Name of the lexer for ``path`` and its first bytes (``"text"`` when none fits)."""
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


def lex(text: str, lexer_name: str) -> Lexed:
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
    return Lexed(seen, starts, run_pos, run_style, width)


def make_page(data: bytes, number: int, offset: int, first_line: int, continued: bool,
               size: int) -> Page:
    """Cut and decode one page, unhighlighted (run in a thread).

    The page is the file's last when the read came back short at or past ``size`` (the
    snapshot's size of the file), or empty.
    """
    eof = not data or (len(data) < PAGE and offset + len(data) >= size)
    raw = data[: _cut(data, eof)]
    text = clean_controls(raw.decode("utf-8", "replace").replace("\r\n", "\n"), "\t\n")
    lexed = lex(text, "text") if text else Lexed("", array("I", [0]), array("I"),
                                                   array("H"), 0)
    newlines = raw.count(b"\n")
    return Page(number, offset, offset + len(raw), first_line, continued, lexed, eof,
                 first_line + newlines, bool(raw) and not raw.endswith(b"\n"))


def hex_rows(data: bytes) -> list[str]:
    """``data`` as hex dump rows (16 bytes each: offset, hex, printable characters)."""
    out = []
    for at in range(0, len(data), 16):
        chunk = data[at : at + 16]
        left = " ".join(f"{b:02x}" for b in chunk[:8])
        right = " ".join(f"{b:02x}" for b in chunk[8:])
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        out.append(f"{at:04x}  {left:<23}  {right:<23}  |{text}|")
    return out
