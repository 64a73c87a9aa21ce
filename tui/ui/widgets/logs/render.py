"""How the logs pane draws a row, no Textual widget: a log line, a header/footer row, the prompt.

A log line is decoded from the index only when drawn, at most :data:`MAX_LINE_BYTES` of it
(longer lines end in an ellipsis); control characters other than tab and ESC are replaced,
tabs are expanded and ANSI SGR sequences become styles. The view keeps the results as strips
in its cache.
"""

from __future__ import annotations

from rich.console import Console
from rich.style import Style
from rich.text import Text
from textual.strip import Strip

from tui.ui.widgets.logs.index import LogIndex
from tui.ui.widgets.textclean import clean_controls

__all__ = ["GUTTER", "MAX_LINE_BYTES", "decor_text", "log_line_text", "prompt_strip", "to_strip"]

#: Cells left of a log line (``▌`` marks stderr).
GUTTER = 2
#: Bytes of one line rendered at most (longer lines end in an ellipsis).
MAX_LINE_BYTES = 8192
_KEPT_CONTROLS = "\t\n\x1b"  # tabs are expanded, ESC starts SGR


def log_line_text(idx: LogIndex, i: int, base: Style, ellipsis: Style) -> Text:
    """Line ``i`` of ``idx`` styled on ``base`` (its SGR colours on top), clipped with ``…``."""
    raw = idx.line_text(i, MAX_LINE_BYTES + 1)
    clipped = len(raw) > MAX_LINE_BYTES
    if clipped:
        raw = raw[:MAX_LINE_BYTES]
    raw = clean_controls(raw, _KEPT_CONTROLS)
    if "\x1b" in raw:
        text = Text.from_ansi(raw, style=base, no_wrap=True, end="")
        text.expand_tabs(8)
    else:
        text = Text(raw.expandtabs(8), style=base, no_wrap=True, end="")
    text.stylize_before(base)  # rich drops the base style of a Text without spans
    if clipped:
        text.append("…", ellipsis)
    return text


def decor_text(plain: str, base: Style, style: Style) -> Text:
    """A header/footer row: ``plain`` in ``style`` over ``base``."""
    text = Text(plain, style=base, no_wrap=True, end="")
    text.stylize(style)
    text.stylize_before(base)
    return text


def to_strip(text: Text, console: Console) -> Strip:
    """``text`` rendered as one strip."""
    return Strip(text.render(console), text.cell_len)


def prompt_strip(prompt: str, width: int, style: Style, console: Console) -> Strip:
    """The search prompt ``/prompt`` and its cursor, ``width`` cells, scrolled to the cursor."""
    text = Text(f"/{prompt}", style=style, no_wrap=True, end="")
    text.append(" ", style + Style(reverse=True))
    cells = text.cell_len
    text.append(" " * max(0, width - cells))
    strip = to_strip(text, console)
    start = max(0, cells - width)
    return strip.crop(start, start + width)
