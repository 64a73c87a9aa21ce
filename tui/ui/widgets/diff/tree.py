"""The diff pane's tree: the changed paths as a collapsible tree, a line view with a cursor."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Hashable
from typing import ClassVar

from rich.segment import Segment
from textual import events
from textual.geometry import Size
from textual.message import Message
from textual.strip import Strip

from tui.debug.model.fsmodel import REMOVED
from tui.ui.widgets.diff.model import MARKS, TreeNode, change_details, printable
from tui.ui.widgets.lineview import CursorLineView

__all__ = ["DiffTreeView"]


class DiffTreeView(CursorLineView, can_focus=False):
    """The changed paths as a collapsible tree; a cursor selects one row.

    Rows: a status gutter (``A``/``D``/``M``), the indented name with ``▾``/``▸`` on
    directories holding changes, their counts (``+2 -1 ~1``) and what changed.
    """

    COMPONENT_PREFIX = "diff-tree--"
    DEFAULT_CSS = """
    DiffTreeView {
        background: $surface;
        color: $foreground;
        overflow-x: hidden;
        overflow-y: auto;
        height: 1fr;
        & > .diff-tree--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        & > .diff-tree--cursor-focus {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
        & > .diff-tree--added { color: $text-success; }
        & > .diff-tree--removed { color: $text-error; }
        & > .diff-tree--changed { color: $text-warning; }
        & > .diff-tree--mount { color: $text-primary; text-style: bold; }
        & > .diff-tree--dir { color: $text-primary; }
        & > .diff-tree--gone { color: $text-muted; text-style: strike; }
        & > .diff-tree--detail { color: $text-muted; }
        & > .diff-tree--arrow { color: $text-muted; }
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "diff-tree--cursor", "diff-tree--cursor-focus", "diff-tree--added",
        "diff-tree--removed", "diff-tree--changed", "diff-tree--mount", "diff-tree--dir",
        "diff-tree--gone", "diff-tree--detail", "diff-tree--arrow",
    }

    class Clicked(Message):
        """A click on the row that already had the cursor (the owner activates it)."""

    def __init__(self, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.nodes: list[TreeNode] = []
        self._visible: list[int] = []
        #: Whether the cursor is drawn as focused (set by the owning ``DiffView``).
        self.active = False

    # ------------------------------------------------------------------ public API
    def set_nodes(self, nodes: list[TreeNode]) -> None:
        """Show a tree from :func:`build_tree` (everything expanded, cursor on the first row)."""
        self.nodes = nodes
        self.set_cursor_quietly(0)
        self._relayout()
        self.scroll_to(0, 0, animate=False, immediate=True)

    @property
    def line_count(self) -> int:
        """Number of visible rows."""
        return len(self._visible)

    @property
    def row_count(self) -> int:
        """Number of visible rows."""
        return len(self._visible)

    @property
    def cursor_row(self) -> int:
        """Index of the cursor's row."""
        return self.cursor_line

    @property
    def cursor_node(self) -> TreeNode | None:
        """The node under the cursor."""
        return self.nodes[self._visible[self.cursor_line]] if self._visible else None

    def row_key(self, row: int) -> Hashable:
        """Rows' strips are cached by node."""
        return self._visible[row]

    def row_node(self, row: int) -> TreeNode:
        """The node shown on visible row ``row``."""
        return self.nodes[self._visible[row]]

    def row_text(self, row: int) -> str:
        """The plain text of visible row ``row``."""
        return "".join(text for text, _ in self._parts(self.row_node(row))).rstrip()

    def move_to(self, row: int) -> None:
        """Put the cursor on ``row`` (clamped) and scroll it into view."""
        if self._visible:
            self.move_cursor(row)

    def row_of(self, node: TreeNode) -> int:
        """The visible row of ``node``, or of the collapsed ancestor hiding it."""
        return max(0, bisect_right(self._visible, node.index) - 1)

    def set_collapsed(self, node: TreeNode, collapsed: bool) -> None:
        """Collapse or expand ``node``; the cursor stays on its node (or moves up to ``node``)."""
        if not node.has_children or node.collapsed == collapsed:
            return
        at = self._visible[self.cursor_line] if self._visible else 0
        node.collapsed = collapsed
        if collapsed and node.index < at < node.end:
            at = node.index
        self._relayout()
        self.set_cursor_quietly(bisect_left(self._visible, at))
        self.scroll_to_line(self.cursor_line)

    def refresh_cursor(self) -> None:
        """Redraw the cursor's row (after a focus change)."""
        if self._visible:
            self.forget(self.row_key(self.cursor_line))
            self.refresh_row(self.cursor_line)

    def scroll_to_cursor(self) -> None:
        """Scroll so the cursor's row is visible."""
        self.scroll_to_line(self.cursor_line)

    # ------------------------------------------------------------------ events
    def on_click(self, event: events.Click) -> None:
        """Move the cursor to the clicked row; a click on the cursor's row activates it."""
        offset = event.get_content_offset(self)
        if offset is None:
            return
        row = self.scroll_offset.y + offset.y
        if 0 <= row < len(self._visible):
            if row == self.cursor_line:
                self.post_message(self.Clicked())
            else:
                self.move_to(row)

    # ------------------------------------------------------------------ rendering
    def render_visible_line(self, y: int, width: int) -> Strip:
        """Render visible line ``y`` (a row of the tree)."""
        row = self.scroll_offset.y + y
        if not 0 <= row < len(self._visible):
            return Strip.blank(width, self.base_style())
        key = self._visible[row]
        strip = self._strips.get(key)
        if strip is None:
            under = ""
            if row == self.cursor_line:
                under = "cursor-focus" if self.active else "cursor"
            style = self.layered_style
            parts = self._parts(self.nodes[key])
            if under:  # the cursor's colours, but for the status mark
                parts = [(text, name if k == 0 else "") for k, (text, name) in enumerate(parts)]
            segments = [Segment(text, style(name, under)) for text, name in parts]
            strip = Strip(segments).crop_extend(0, width, style("", under))
            self._strips[key] = strip
        return strip

    def _parts(self, node: TreeNode) -> list[tuple[str, str]]:
        c = node.change
        if c is not None:
            mark, mark_style = MARKS.get(c.status, ("?", ""))
        else:
            mark, mark_style = " ", ""
        arrow = ("▸ " if node.collapsed else "▾ ") if node.has_children else "  "
        parts = [(mark + " ", mark_style), ("  " * node.depth, ""), (arrow, "arrow")]
        if node.parent < 0:
            parts.append((printable(node.label), "mount"))
        else:
            name = printable(node.name) + ("/" if node.is_dir else "")
            if c is not None and c.entry.kind == "link":
                name += " -> " + printable(c.entry.link)
            name_style = "dir" if node.is_dir else ""
            if c is not None and c.status == REMOVED:
                name_style = "gone"
            parts.append((name, name_style))
        if node.has_children:
            parts.append(("  ", ""))
            first = True
            for count, sign, style in ((node.added, "+", "added"), (node.removed, "-", "removed"),
                                       (node.changed, "~", "changed")):
                if count:
                    parts.append((("" if first else " ") + f"{sign}{count}", style))
                    first = False
        detail = change_details(c) if c is not None else ""
        if node.parent < 0 and not node.has_children:
            detail = "no changes"
        if detail:
            parts.append(("  " + printable(detail), "detail"))
        return parts

    # ------------------------------------------------------------------ internals
    def _relayout(self) -> None:
        visible: list[int] = []
        nodes = self.nodes
        i, n = 0, len(nodes)
        while i < n:
            visible.append(i)
            node = nodes[i]
            i = node.end if node.collapsed else i + 1
        self._visible = visible
        self.set_cursor_quietly(self.cursor_line)
        self.virtual_size = Size(0, len(visible))
        self.invalidate()
