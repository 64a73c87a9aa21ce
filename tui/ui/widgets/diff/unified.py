"""The diff pane's file view: one file's unified diff, a line view scrollable both ways."""

from __future__ import annotations

from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from textual.geometry import Size
from textual.strip import Strip

from tui.ui.widgets.diff.model import LineKind, classify, printable
from tui.ui.widgets.lineview import LineView

__all__ = ["MAX_LINE_CHARS", "UnifiedDiffView"]

#: Characters of one diff line rendered at most (longer lines end in an ellipsis).
MAX_LINE_CHARS = 4000


class UnifiedDiffView(LineView, can_focus=False):
    """One file's unified diff (or a message), scrollable both ways."""

    COMPONENT_PREFIX = "diff-file--"
    DEFAULT_CSS = """
    UnifiedDiffView {
        background: $surface;
        color: $foreground;
        overflow: auto auto;
        height: 1fr;
        & > .diff-file--header { text-style: bold; }
        & > .diff-file--hunk { color: #4fc1e9; }
        & > .diff-file--added { color: $text-success; }
        & > .diff-file--removed { color: $text-error; }
        & > .diff-file--note { color: $text-muted; text-style: italic; }
        & > .diff-file--message { color: $text-muted; text-style: italic; }
        & > .diff-file--error { color: $text-error; }
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "diff-file--header", "diff-file--hunk", "diff-file--added", "diff-file--removed",
        "diff-file--note", "diff-file--message", "diff-file--error",
    }

    def __init__(self, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.lines: list[str] = []
        self.kinds: list[LineKind] = []

    def set_lines(self, lines: list[str], kinds: list[LineKind] | None = None) -> None:
        """Show ``lines`` (kinds from :func:`classify` unless given), scrolled to the top."""
        shown = []
        for line in lines:
            text = printable(line)
            shown.append(text if len(text) <= MAX_LINE_CHARS else text[:MAX_LINE_CHARS] + "…")
        self.lines = shown
        self.kinds = kinds if kinds is not None else classify(lines)
        width = max((cell_len(t) for t in shown), default=0)
        self.virtual_size = Size(width, len(shown))
        self.scroll_to(0, 0, animate=False, immediate=True)
        self.invalidate()

    def set_message(self, text: str, kind: LineKind = "message") -> None:
        """Show one line of text instead of a diff."""
        self.set_lines([text], [kind])

    def render_visible_line(self, y: int, width: int) -> Strip:
        """Render visible line ``y``."""
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        base = self.base_style()
        if not 0 <= index < len(self.lines):
            return Strip.blank(width, base)
        strip = self._strips.get(index)
        if strip is None:
            strip = Strip([Segment(self.lines[index], self.layered_style(self.kinds[index]))])
            self._strips[index] = strip
        return strip.crop_extend(scroll_x, scroll_x + width, base)
