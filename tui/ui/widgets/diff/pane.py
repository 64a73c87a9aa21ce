"""The diff pane: what the failed step changed, as a tree of paths and per-file unified diffs.

``DiffView`` holds a one-line-per-mount summary header and two line views (see
:mod:`~tui.ui.widgets.lineview`): ``DiffTreeView``, the changed paths as a collapsible tree
(intermediate directories derived from the paths, with the number of changes below them), and
``UnifiedDiffView``, one file's ``diff -u``. The data is in :mod:`~tui.ui.widgets.diff.model`.
The view itself takes the keys, so the app focuses just ``DiffView``; which of its two views
they act on is its :class:`DiffMode`.
"""

from __future__ import annotations

import asyncio
import posixpath
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Hashable
from enum import StrEnum
from typing import ClassVar, Protocol

from rich.cells import cell_len
from rich.segment import Segment
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static

from tui.debug.model.fsmodel import REMOVED, Change, DiffSource, FsDiff
from tui.ui.widgets.diff.model import (
    MARKS,
    LineKind,
    TreeNode,
    build_tree,
    change_details,
    classify,
    printable,
    summary,
)
from tui.ui.widgets.lineview import CursorLineView, LineView
from tui.ui.widgets.textclean import one_line

__all__ = [
    "DiffMode", "DiffTreeView", "DiffView", "UnifiedDiffView", "build_tree", "change_details",
]

LOADING = "comparing the initial and final state…"
#: Characters of one diff line rendered at most (longer lines end in an ellipsis).
MAX_LINE_CHARS = 4000


# ---------------------------------------------------------------------- tree view
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


# ---------------------------------------------------------------------- unified view
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


# ---------------------------------------------------------------------- the pane
class DiffMode(StrEnum):
    """Which view of the pane is shown and takes the keys."""

    TREE = "tree"
    FILE = "file"


class _Keys(Protocol):
    """What the pane's keys do in one mode."""

    @property
    def view(self) -> ScrollView:
        """The view the keys act on."""

    def move(self, rows: int) -> None:
        """Up/down by ``rows``."""

    def first(self) -> None:
        """To the top."""

    def last(self) -> None:
        """To the bottom."""

    def left(self) -> None:
        """Left (or up the tree)."""

    def right(self) -> None:
        """Right (or down the tree)."""

    def space(self) -> None:
        """The space bar."""

    def activate(self) -> None:
        """Enter."""


class _TreeKeys:
    """Keys on the tree: move the cursor, fold directories, open a file."""

    def __init__(self, view: DiffTreeView, open_file: Callable[[TreeNode], None]) -> None:
        self.view: DiffTreeView = view
        self._open = open_file

    def move(self, rows: int) -> None:
        self.view.move_to(self.view.cursor_row + rows)

    def first(self) -> None:
        self.view.move_to(0)

    def last(self) -> None:
        self.view.move_to(self.view.row_count - 1)

    def activate(self) -> None:
        tree = self.view
        node = tree.cursor_node
        if node is None:
            return
        if node.has_children:
            tree.set_collapsed(node, not node.collapsed)
        elif node.is_text_candidate:
            self._open(node)

    def space(self) -> None:
        self.activate()

    def left(self) -> None:
        tree = self.view
        node = tree.cursor_node
        if node is None:
            return
        if node.has_children and not node.collapsed:
            tree.set_collapsed(node, True)
        elif node.parent >= 0:
            tree.move_to(tree.row_of(tree.nodes[node.parent]))

    def right(self) -> None:
        tree = self.view
        node = tree.cursor_node
        if node is None or not node.has_children:
            return
        if node.collapsed:
            tree.set_collapsed(node, False)
        else:
            tree.move_to(tree.cursor_row + 1)


class _FileKeys:
    """Keys on a file's diff: scroll it."""

    def __init__(self, view: UnifiedDiffView) -> None:
        self.view: UnifiedDiffView = view

    def move(self, rows: int) -> None:
        self.view.scroll_to(y=self.view.scroll_y + rows, animate=False, immediate=True)

    def first(self) -> None:
        self.view.scroll_to(y=0, animate=False, immediate=True)

    def last(self) -> None:
        self.view.scroll_to(y=self.view.max_scroll_y, animate=False, immediate=True)

    def activate(self) -> None:
        pass

    def space(self) -> None:
        self.move(max(1, self.view.scrollable_content_region.height - 1))

    def left(self) -> None:
        self.view.scroll_to(x=self.view.scroll_x - 4, animate=False, immediate=True)

    def right(self) -> None:
        self.view.scroll_to(x=self.view.scroll_x + 4, animate=False, immediate=True)


class DiffView(Widget, can_focus=True):
    """What the failed step changed: a summary per mount, the tree of changes, file diffs.

    Call :meth:`show` with a ``DiffSource``; Enter on a regular file opens its unified diff,
    Escape goes back to the tree.
    """

    DEFAULT_CSS = """
    DiffView {
        layout: vertical;
        height: 1fr;
        width: 1fr;
        background: $surface;
        & > #diff-header { height: auto; max-height: 6; padding: 0 1; }
        & > UnifiedDiffView { display: none; }
        &.-file > UnifiedDiffView { display: block; }
        &.-file > DiffTreeView { display: none; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("pageup", "page_prev", "Page up", show=False),
        Binding("pagedown", "page_next", "Page down", show=False),
        Binding("home,g", "first", "First", show=False),
        Binding("end,G", "last", "Last", show=False),
        Binding("enter", "activate", "Open", show=False),
        Binding("space", "space", "Toggle", show=False),
        Binding("left,h", "left", "Collapse", show=False),
        Binding("right,l", "right", "Expand", show=False),
        Binding("escape,backspace", "back", "Back", show=False),
    ]

    #: Keys for the help screen.
    KEYS: ClassVar[list[tuple[str, str]]] = [
        ("↑ ↓ pgup pgdn home end", "diff: move in the tree / scroll a file's diff"),
        ("enter", "diff: open a file's unified diff, or fold a directory"),
        ("space", "diff: fold or unfold a directory"),
        ("← / →", "diff: collapse (or go to the parent) / expand"),
        ("esc / backspace", "diff: back from a file to the tree"),
    ]

    def __init__(self, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        #: The tree of changes.
        self.tree_view = DiffTreeView()
        #: One file's unified diff.
        self.file_view = UnifiedDiffView()
        self._keys: dict[DiffMode, _Keys] = {
            DiffMode.TREE: _TreeKeys(self.tree_view, self._open),
            DiffMode.FILE: _FileKeys(self.file_view),
        }
        self._header = Static("", id="diff-header", markup=False)
        self._header_text = ""
        self._source: DiffSource | None = None
        self._summary: tuple[Text, str] = (Text(), "")
        self._diffs: list[FsDiff] = []
        self._generation = 0
        self._file_generation = 0
        self._mode = DiffMode.TREE

    def compose(self) -> ComposeResult:
        """The header, the tree and the (hidden) file view."""
        yield self._header
        yield self.tree_view
        yield self.file_view

    # ------------------------------------------------------------------ public API
    def show(self, source: DiffSource) -> None:
        """Load and show ``source``'s differences (in the background; the tree meanwhile)."""
        self._generation += 1
        self._file_generation += 1
        self._source = source
        self._diffs = []
        self._set_mode(DiffMode.TREE)
        self._set_summary(Text(LOADING, style="italic"), LOADING)
        if self.is_mounted:
            self._start()

    @property
    def mode(self) -> DiffMode:
        """The tree, or a file's diff."""
        return self._mode

    @property
    def header_text(self) -> str:
        """The header's plain text (summary lines, the loading notice or the error)."""
        return self._header_text

    @property
    def diffs(self) -> list[FsDiff]:
        """The loaded differences (empty until loaded)."""
        return self._diffs

    # ------------------------------------------------------------------ actions
    @property
    def _active(self) -> _Keys:
        return self._keys[self._mode]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Escape/backspace are only taken while a file's diff is open."""
        if action == "back":
            return self._mode is DiffMode.FILE
        return True

    def action_cursor_up(self) -> None:
        """Move the cursor (or scroll) up one row."""
        self._active.move(-1)

    def action_cursor_down(self) -> None:
        """Move the cursor (or scroll) down one row."""
        self._active.move(1)

    def action_page_prev(self) -> None:
        """Up one page."""
        self._active.move(-self._page())

    def action_page_next(self) -> None:
        """Down one page."""
        self._active.move(self._page())

    def action_first(self) -> None:
        """To the first row."""
        self._active.first()

    def action_last(self) -> None:
        """To the last row."""
        self._active.last()

    def action_activate(self) -> None:
        """Fold/unfold the cursor's directory, or open the cursor's file diff."""
        self._active.activate()

    def action_space(self) -> None:
        """Tree: as Enter; file: page down."""
        self._active.space()

    def action_left(self) -> None:
        """Collapse the cursor's directory, else go to its parent (file: scroll left)."""
        self._active.left()

    def action_right(self) -> None:
        """Expand the cursor's directory, or step into it (file: scroll right)."""
        self._active.right()

    def action_back(self) -> None:
        """Close the file's diff: back to the tree, the cursor where it was."""
        self._file_generation += 1
        self.workers.cancel_group(self, "diff-file")
        self._set_mode(DiffMode.TREE)
        self._set_header(*self._summary)
        self.tree_view.scroll_to_cursor()

    # ------------------------------------------------------------------ events
    def on_mount(self) -> None:
        """Start a load requested before mounting."""
        if self._source is not None:
            self._start()

    def on_focus(self) -> None:
        """Draw the cursor as focused."""
        self.tree_view.active = True
        self.tree_view.refresh_cursor()

    def on_blur(self) -> None:
        """Draw the cursor as unfocused."""
        self.tree_view.active = False
        self.tree_view.refresh_cursor()

    def on_diff_tree_view_clicked(self, event: DiffTreeView.Clicked) -> None:
        """A click on the cursor's row: as Enter."""
        event.stop()
        self.action_activate()

    # ------------------------------------------------------------------ internals
    def _start(self) -> None:
        assert self._source is not None
        self.tree_view.set_nodes([])
        self.run_worker(self._load(self._source, self._generation), group="diff-load",
                        exclusive=True, exit_on_error=False)

    async def _load(self, source: DiffSource, generation: int) -> None:
        try:
            diffs = await source.diffs()
            nodes = await asyncio.to_thread(build_tree, diffs)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if generation == self._generation:
                text = one_line(exc)
                self._set_summary(Text(text, style="bold red"), text)
            return
        if generation != self._generation:
            return
        self._diffs = diffs
        self.tree_view.set_nodes(nodes)
        lines = [summary(d) for d in diffs] or ["the step changed no files"]
        header = Text()
        for k, line in enumerate(lines):
            if k:
                header.append("\n")
            header.append(printable(line), style="" if "changed no files" in line else "bold")
        self._set_summary(header, "\n".join(lines))

    def _set_summary(self, text: Text, plain: str) -> None:
        self._summary = (text, plain)
        if self._mode is DiffMode.TREE:
            self._set_header(text, plain)

    def _open(self, node: TreeNode) -> None:
        source, c = self._source, node.change
        if source is None or c is None:
            return
        self._file_generation += 1
        where = posixpath.join(node.label, node.path)
        mark = MARKS.get(c.status, ("?", ""))[0]
        title = f"{mark} {where}"
        head = Text(printable(title), style="bold")
        head.append("   esc: back to the tree", style="dim")
        self._set_header(head, title)
        self.file_view.set_message("loading…")
        self._set_mode(DiffMode.FILE)
        self.run_worker(self._load_file(source, node.label, c, self._file_generation),
                        group="diff-file", exclusive=True, exit_on_error=False)

    async def _load_file(self, source: DiffSource, label: str, c: Change,
                         generation: int) -> None:
        kind: LineKind = "message"
        try:
            lines = await source.unified(label, c.path)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            lines, kind = [one_line(exc)], "error"
        else:
            if lines is None:
                before = c.before.size if c.before is not None else 0
                after = c.after.size if c.after is not None else 0
                lines = [f"binary file: {before} -> {after} bytes"]
            elif not lines:
                lines = ["no differences in the content"]
            else:
                kind = ""
        if generation != self._file_generation or self._mode is not DiffMode.FILE:
            return
        if kind:
            self.file_view.set_message(lines[0], kind)
        else:
            self.file_view.set_lines(lines)

    def _set_mode(self, mode: DiffMode) -> None:
        self._mode = mode
        self.set_class(mode is DiffMode.FILE, "-file")

    def _set_header(self, text: Text, plain: str) -> None:
        self._header_text = plain
        self._header.update(text)

    def _page(self) -> int:
        return max(1, self._active.view.scrollable_content_region.height - 1)
