"""The diff pane: what the failed step changed, as a tree of paths and per-file unified diffs.

``DiffView`` holds a one-line-per-mount summary header and two line-API ``ScrollView`` widgets that
render only the rows on screen (each row's strip cached): ``DiffTreeView``, the changed paths
as a collapsible tree (intermediate directories derived from the paths, with the number of
changes below them), and ``UnifiedDiffView``, one file's ``diff -u``.  The view itself takes
the keys, so the app focuses just ``DiffView``.
"""

from __future__ import annotations

import asyncio
import posixpath
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static

from tui.debug.model.fsmodel import (
    ADDED,
    CHANGED,
    REMOVED,
    Change,
    DiffSource,
    FsDiff,
    describe_change,
)

__all__ = ["DiffTreeView", "DiffView", "UnifiedDiffView", "build_tree", "change_details"]

LOADING = "comparing the initial and final state…"
_CACHE_ROWS = 1024
#: Characters of one diff line rendered at most (longer lines end in an ellipsis).
MAX_LINE_CHARS = 4000
_MARKS = {ADDED: ("A", "added"), REMOVED: ("D", "removed"), CHANGED: ("M", "changed")}
# C0 controls and DEL shown as their Unicode "control pictures" (names may hold newlines)
_CONTROL = {c: 0x2400 + c for c in range(0x20)} | {0x7F: 0x2421}


def _printable(text: str) -> str:
    return text.expandtabs(8).translate(_CONTROL)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def change_details(c: Change) -> str:
    """What a change did: ``content 10 -> 24 bytes, mode -rw-r--r-- -> -rwxr-xr-x``, ...

    An added file gives its size, another added non-directory its kind; removals say nothing.
    """
    if c.status == ADDED:
        e = c.entry
        if e.kind == "file":
            return f"{e.size} bytes"
        return "" if e.kind in ("dir", "link") else e.kind
    return describe_change(c)


def _summary(d: FsDiff) -> str:
    if not d.changes:
        return f"the step changed no files in {d.label}"
    n = d.counts()
    return f"{d.label} : {n[ADDED]} added, {n[REMOVED]} removed, {n[CHANGED]} changed"


# ---------------------------------------------------------------------- tree model
@dataclass(slots=True)
class TreeNode:
    """One row of the tree: a mount, a directory on the way to changes, or a changed path."""

    index: int
    label: str
    path: str
    name: str
    depth: int
    parent: int
    change: Change | None
    is_dir: bool
    #: Index after this node's subtree (nodes are in depth-first order).
    end: int = 0
    added: int = 0
    removed: int = 0
    changed: int = 0
    collapsed: bool = False

    @property
    def has_children(self) -> bool:
        """Whether changes lie below this node."""
        return self.added + self.removed + self.changed > 0

    @property
    def is_text_candidate(self) -> bool:
        """Whether this is a regular file (on every side that exists): one to diff."""
        c = self.change
        return c is not None and all(e is None or e.kind == "file" for e in (c.before, c.after))


@dataclass(slots=True)
class _Build:
    name: str
    path: str
    is_dir: bool = True
    change: Change | None = None
    children: dict[str, _Build] = field(default_factory=dict)


def build_tree(diffs: list[FsDiff]) -> list[TreeNode]:
    """The rows of every mount's tree in depth-first order (directories first, then by name).

    Each mount is a root; directories that hold changes but did not change themselves are
    derived from the paths; every node counts the changes below it.
    """
    nodes: list[TreeNode] = []
    for d in diffs:
        root = _Build(d.label, "")
        index = {"": root}
        for c in d.changes:
            path = c.path.strip("/")
            if not path:
                continue
            node = index.get(path)
            if node is None:
                missing = [path]
                parent = posixpath.dirname(path)
                while parent not in index:
                    missing.append(parent)
                    parent = posixpath.dirname(parent)
                above = index[parent]
                for p in reversed(missing):
                    node = _Build(posixpath.basename(p), p)
                    above.children[node.name] = node
                    index[p] = above = node
                node = above
            node.change = c
            node.is_dir = c.entry.is_dir
        stack: list[tuple[_Build, int, int]] = [(root, -1, 0)]
        while stack:
            b, parent_index, depth = stack.pop()
            me = len(nodes)
            nodes.append(TreeNode(me, d.label, b.path, b.name, depth, parent_index, b.change,
                                  b.is_dir or bool(b.children)))
            kids = sorted(b.children.values(), key=lambda k: (not k.is_dir, k.name))
            stack.extend((k, me, depth + 1) for k in reversed(kids))
    for tn in nodes:
        tn.end = tn.index + 1
    for tn in reversed(nodes):
        if tn.parent < 0:
            continue
        up = nodes[tn.parent]
        up.end = max(up.end, tn.end)
        up.added += tn.added
        up.removed += tn.removed
        up.changed += tn.changed
        if tn.change is not None:
            status = tn.change.status
            if status == ADDED:
                up.added += 1
            elif status == REMOVED:
                up.removed += 1
            else:
                up.changed += 1
    return nodes


# ---------------------------------------------------------------------- shared styling
class _Styled(ScrollView, can_focus=False):
    """Line styles from component classes (``<prefix>name``), cached per (name, cursor)."""

    PREFIX: ClassVar[str] = ""

    def __init__(self, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._styles: dict[tuple[str, str], Style] = {}
        self._pending_row: int | None = None

    def on_resize(self) -> None:
        """Scroll to a row asked for before the view had a size."""
        if self._pending_row is not None:
            self._scroll_to_row(self._pending_row)

    def notify_style_update(self) -> None:
        """Drop cached styles and strips when CSS or the theme changes."""
        super().notify_style_update()
        self._styles.clear()
        self._drop_strips()

    def _drop_strips(self) -> None:
        """Forget every rendered strip."""

    def _base_style(self) -> Style:
        style = self._styles.get(("", ""))
        if style is None:
            style = self._styles["", ""] = self.rich_style
        return style

    def _style(self, name: str, under: str = "") -> Style:
        """Base style, plus an ``under`` component's background (the cursor), plus ``name``."""
        key = (name, under)
        style = self._styles.get(key)
        if style is None:
            style = self._base_style()
            if under:
                style = style + self._component(under)
            if name:
                style = style + self._component(name, background=False)
            self._styles[key] = style
        return style

    def _component(self, name: str, *, background: bool = True) -> Style:
        full = self.get_component_rich_style(self.PREFIX + name)
        partial = self.get_component_rich_style(self.PREFIX + name, partial=True)
        return Style(
            color=full.color if partial.color else None,
            bgcolor=full.bgcolor if background and partial.bgcolor else None,
            bold=partial.bold, dim=partial.dim, italic=partial.italic,
            underline=partial.underline, reverse=partial.reverse, strike=partial.strike,
        )

    def _scroll_to_row(self, index: int) -> None:
        if not self.scrollable_content_region.height:
            self._pending_row = index
            return
        self._pending_row = None
        self.scroll_to_region(Region(self.scroll_offset.x, index, 1, 1), animate=False,
                              force=True, immediate=True)


# ---------------------------------------------------------------------- tree view
class DiffTreeView(_Styled):
    """The changed paths as a collapsible tree; a cursor selects one row.

    Rows: a status gutter (``A``/``D``/``M``), the indented name with ``▾``/``▸`` on
    directories holding changes, their counts (``+2 -1 ~1``) and what changed.
    """

    PREFIX = "diff-tree--"
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
        self._cursor = 0
        self._strips: LRUCache[int, Strip] = LRUCache(_CACHE_ROWS)
        self._strip_width = -1
        #: Whether the cursor is drawn as focused (set by the owning ``DiffView``).
        self.active = False

    # ------------------------------------------------------------------ public API
    def set_nodes(self, nodes: list[TreeNode]) -> None:
        """Show a tree from :func:`build_tree` (everything expanded, cursor on the first row)."""
        self.nodes = nodes
        self._cursor = 0
        self._relayout()
        self.scroll_to(0, 0, animate=False, immediate=True)

    @property
    def row_count(self) -> int:
        """Number of visible rows."""
        return len(self._visible)

    @property
    def cursor_row(self) -> int:
        """Index of the cursor's row."""
        return self._cursor

    @property
    def cursor_node(self) -> TreeNode | None:
        """The node under the cursor."""
        return self.nodes[self._visible[self._cursor]] if self._visible else None

    def row_node(self, row: int) -> TreeNode:
        """The node shown on visible row ``row``."""
        return self.nodes[self._visible[row]]

    def row_text(self, row: int) -> str:
        """The plain text of visible row ``row``."""
        return "".join(text for text, _ in self._parts(self.row_node(row))).rstrip()

    def move_to(self, row: int) -> None:
        """Put the cursor on ``row`` (clamped) and scroll it into view."""
        if not self._visible:
            return
        row = max(0, min(row, len(self._visible) - 1))
        if row != self._cursor:
            self._invalidate_row(self._cursor)
            self._cursor = row
            self._invalidate_row(row)
        self._scroll_to_row(row)

    def row_of(self, node: TreeNode) -> int:
        """The visible row of ``node``, or of the collapsed ancestor hiding it."""
        return max(0, bisect_right(self._visible, node.index) - 1)

    def set_collapsed(self, node: TreeNode, collapsed: bool) -> None:
        """Collapse or expand ``node``; the cursor stays on its node (or moves up to ``node``)."""
        if not node.has_children or node.collapsed == collapsed:
            return
        at = self._visible[self._cursor] if self._visible else 0
        node.collapsed = collapsed
        if collapsed and node.index < at < node.end:
            at = node.index
        self._relayout()
        self._cursor = bisect_left(self._visible, at)
        self._scroll_to_row(self._cursor)

    def refresh_cursor(self) -> None:
        """Redraw the cursor's row (after a focus change)."""
        self._invalidate_row(self._cursor)

    def scroll_to_cursor(self) -> None:
        """Scroll so the cursor's row is visible."""
        self._scroll_to_row(self._cursor)

    # ------------------------------------------------------------------ events
    def on_click(self, event: events.Click) -> None:
        """Move the cursor to the clicked row; a click on the cursor's row activates it."""
        offset = event.get_content_offset(self)
        if offset is None:
            return
        row = self.scroll_offset.y + offset.y
        if 0 <= row < len(self._visible):
            if row == self._cursor:
                self.post_message(self.Clicked())
            else:
                self.move_to(row)

    # ------------------------------------------------------------------ rendering
    def render_line(self, y: int) -> Strip:
        """Render visible line ``y`` (a row of the tree)."""
        width = self.scrollable_content_region.width
        if width != self._strip_width:
            self._strips.clear()
            self._strip_width = width
        row = self.scroll_offset.y + y
        if not 0 <= row < len(self._visible):
            return Strip.blank(width, self._base_style())
        key = self._visible[row]
        strip = self._strips.get(key)
        if strip is None:
            under = ""
            if row == self._cursor:
                under = "cursor-focus" if self.active else "cursor"
            style = self._style
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
            mark, mark_style = _MARKS.get(c.status, ("?", ""))
        else:
            mark, mark_style = " ", ""
        arrow = ("▸ " if node.collapsed else "▾ ") if node.has_children else "  "
        parts = [(mark + " ", mark_style), ("  " * node.depth, ""), (arrow, "arrow")]
        if node.parent < 0:
            parts.append((_printable(node.label), "mount"))
        else:
            name = _printable(node.name) + ("/" if node.is_dir else "")
            if c is not None and c.entry.kind == "link":
                name += " -> " + _printable(c.entry.link)
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
            parts.append(("  " + _printable(detail), "detail"))
        return parts

    # ------------------------------------------------------------------ internals
    def _drop_strips(self) -> None:
        self._strips.clear()

    def _relayout(self) -> None:
        visible: list[int] = []
        nodes = self.nodes
        i, n = 0, len(nodes)
        while i < n:
            visible.append(i)
            node = nodes[i]
            i = node.end if node.collapsed else i + 1
        self._visible = visible
        self._cursor = max(0, min(self._cursor, len(visible) - 1))
        self._strips.clear()
        self.virtual_size = Size(0, len(visible))
        self.refresh()

    def _invalidate_row(self, row: int) -> None:
        if 0 <= row < len(self._visible):
            self._strips.discard(self._visible[row])
            top = self.scroll_offset.y
            if top <= row < top + self.scrollable_content_region.height:
                self.refresh_line(row - top)


# ---------------------------------------------------------------------- unified view
_LineKind = Literal["", "header", "hunk", "added", "removed", "note", "message", "error"]


def classify(lines: list[str]) -> list[_LineKind]:
    """The kind of each ``diff -u`` line (``---``/``+++`` are headers only before a hunk)."""
    kinds: list[_LineKind] = []
    in_hunk = False
    for line in lines:
        kind: _LineKind = ""
        if line.startswith("@@"):
            kind, in_hunk = "hunk", True
        elif not in_hunk and line.startswith(("--- ", "+++ ", "diff ", "index ")):
            kind = "header"
        elif line.startswith("+"):
            kind = "added"
        elif line.startswith("-"):
            kind = "removed"
        elif line.startswith("\\"):
            kind = "note"
        kinds.append(kind)
    return kinds


class UnifiedDiffView(_Styled):
    """One file's unified diff (or a message), scrollable both ways."""

    PREFIX = "diff-file--"
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
        self.kinds: list[_LineKind] = []
        self._strips: LRUCache[int, Strip] = LRUCache(_CACHE_ROWS)

    def set_lines(self, lines: list[str], kinds: list[_LineKind] | None = None) -> None:
        """Show ``lines`` (kinds from :func:`classify` unless given), scrolled to the top."""
        shown = []
        for line in lines:
            text = _printable(line)
            shown.append(text if len(text) <= MAX_LINE_CHARS else text[:MAX_LINE_CHARS] + "…")
        self.lines = shown
        self.kinds = kinds if kinds is not None else classify(lines)
        self._strips.clear()
        width = max((cell_len(t) for t in shown), default=0)
        self.virtual_size = Size(width, len(shown))
        self.scroll_to(0, 0, animate=False, immediate=True)
        self.refresh()

    def set_message(self, text: str, kind: _LineKind = "message") -> None:
        """Show one line of text instead of a diff."""
        self.set_lines([text], [kind])

    def render_line(self, y: int) -> Strip:
        """Render visible line ``y``."""
        width = self.scrollable_content_region.width
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        base = self._base_style()
        if not 0 <= index < len(self.lines):
            return Strip.blank(width, base)
        strip = self._strips.get(index)
        if strip is None:
            strip = Strip([Segment(self.lines[index], self._style(self.kinds[index]))])
            self._strips[index] = strip
        return strip.crop_extend(scroll_x, scroll_x + width, base)

    def _drop_strips(self) -> None:
        self._strips.clear()


# ---------------------------------------------------------------------- the pane
Mode = Literal["tree", "file"]


#: Help texts shared by several key bindings (the help screen groups keys by text).
_MOVE = "move in the tree / scroll a file's diff"
_JUMP = "a page up / down, the first / last line"
_FOLD = "collapse (or go to the parent) / expand"


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
        Binding("up,k", "cursor_up", "Up", show=False, tooltip=_MOVE),
        Binding("down,j", "cursor_down", "Down", show=False, tooltip=_MOVE),
        Binding("pageup", "page_prev", "Page up", show=False, tooltip=_JUMP),
        Binding("pagedown", "page_next", "Page down", show=False, tooltip=_JUMP),
        Binding("home,g", "first", "First", show=False, tooltip=_JUMP),
        Binding("end,G", "last", "Last", show=False, tooltip=_JUMP),
        Binding("enter", "activate", "Open", show=False,
                tooltip="open a file's unified diff, or fold a directory"),
        Binding("space", "space", "Toggle", show=False, tooltip="fold or unfold a directory"),
        Binding("left,h", "left", "Collapse", show=False, tooltip=_FOLD),
        Binding("right,l", "right", "Expand", show=False, tooltip=_FOLD),
        Binding("escape,backspace", "back", "Back", show=False,
                tooltip="back from a file to the tree"),
    ]

    def __init__(self, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        #: The tree of changes.
        self.tree_view = DiffTreeView()
        #: One file's unified diff.
        self.file_view = UnifiedDiffView()
        self._header = Static("", id="diff-header", markup=False)
        self._header_text = ""
        self._source: DiffSource | None = None
        self._summary: tuple[Text, str] = (Text(), "")
        self._diffs: list[FsDiff] = []
        self._generation = 0
        self._file_generation = 0
        self._mode: Mode = "tree"

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
        self._set_mode("tree")
        self._set_summary(Text(LOADING, style="italic"), LOADING)
        if self.is_mounted:
            self._start()

    @property
    def mode(self) -> Mode:
        """``"tree"`` or ``"file"`` (a file's diff is shown)."""
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
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Escape/backspace are only taken while a file's diff is open."""
        if action == "back":
            return self._mode == "file"
        return True

    def action_cursor_up(self) -> None:
        """Move the cursor (or scroll) up one row."""
        self._by(-1)

    def action_cursor_down(self) -> None:
        """Move the cursor (or scroll) down one row."""
        self._by(1)

    def action_page_prev(self) -> None:
        """Up one page."""
        self._by(-self._page())

    def action_page_next(self) -> None:
        """Down one page."""
        self._by(self._page())

    def action_first(self) -> None:
        """To the first row."""
        if self._mode == "file":
            self.file_view.scroll_to(y=0, animate=False, immediate=True)
        else:
            self.tree_view.move_to(0)

    def action_last(self) -> None:
        """To the last row."""
        if self._mode == "file":
            self.file_view.scroll_to(y=self.file_view.max_scroll_y, animate=False, immediate=True)
        else:
            self.tree_view.move_to(self.tree_view.row_count - 1)

    def action_activate(self) -> None:
        """Fold/unfold the cursor's directory, or open the cursor's file diff."""
        if self._mode != "tree":
            return
        node = self.tree_view.cursor_node
        if node is None:
            return
        if node.has_children:
            self.tree_view.set_collapsed(node, not node.collapsed)
        elif node.is_text_candidate:
            self._open(node)

    def action_space(self) -> None:
        """Tree: as Enter; file: page down."""
        if self._mode == "file":
            self.action_page_next()
        else:
            self.action_activate()

    def action_left(self) -> None:
        """Collapse the cursor's directory, else go to its parent (file: scroll left)."""
        if self._mode == "file":
            self.file_view.scroll_to(x=self.file_view.scroll_x - 4, animate=False, immediate=True)
            return
        node = self.tree_view.cursor_node
        if node is None:
            return
        if node.has_children and not node.collapsed:
            self.tree_view.set_collapsed(node, True)
        elif node.parent >= 0:
            self.tree_view.move_to(self.tree_view.row_of(self.tree_view.nodes[node.parent]))

    def action_right(self) -> None:
        """Expand the cursor's directory, or step into it (file: scroll right)."""
        if self._mode == "file":
            self.file_view.scroll_to(x=self.file_view.scroll_x + 4, animate=False, immediate=True)
            return
        node = self.tree_view.cursor_node
        if node is None or not node.has_children:
            return
        if node.collapsed:
            self.tree_view.set_collapsed(node, False)
        else:
            self.tree_view.move_to(self.tree_view.cursor_row + 1)

    def action_back(self) -> None:
        """Close the file's diff: back to the tree, the cursor where it was."""
        self._file_generation += 1
        self.workers.cancel_group(self, "diff-file")
        self._set_mode("tree")
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
                text = _one_line(exc)
                self._set_summary(Text(text, style="bold red"), text)
            return
        if generation != self._generation:
            return
        self._diffs = diffs
        self.tree_view.set_nodes(nodes)
        lines = [_summary(d) for d in diffs] or ["the step changed no files"]
        summary = Text()
        for k, line in enumerate(lines):
            if k:
                summary.append("\n")
            summary.append(_printable(line), style="" if "changed no files" in line else "bold")
        self._set_summary(summary, "\n".join(lines))

    def _set_summary(self, text: Text, plain: str) -> None:
        self._summary = (text, plain)
        if self._mode == "tree":
            self._set_header(text, plain)

    def _open(self, node: TreeNode) -> None:
        source, c = self._source, node.change
        if source is None or c is None:
            return
        self._file_generation += 1
        where = posixpath.join(node.label, node.path)
        mark = _MARKS.get(c.status, ("?", ""))[0]
        title = f"{mark} {where}"
        head = Text(_printable(title), style="bold")
        head.append("   esc: back to the tree", style="dim")
        self._set_header(head, title)
        self.file_view.set_message("loading…")
        self._set_mode("file")
        self.run_worker(self._load_file(source, node.label, c, self._file_generation),
                        group="diff-file", exclusive=True, exit_on_error=False)

    async def _load_file(self, source: DiffSource, label: str, c: Change,
                         generation: int) -> None:
        kind: _LineKind = "message"
        try:
            lines = await source.unified(label, c.path)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            lines, kind = [_one_line(exc)], "error"
        else:
            if lines is None:
                before = c.before.size if c.before is not None else 0
                after = c.after.size if c.after is not None else 0
                lines = [f"binary file: {before} -> {after} bytes"]
            elif not lines:
                lines = ["no differences in the content"]
            else:
                kind = ""
        if generation != self._file_generation or self._mode != "file":
            return
        if kind:
            self.file_view.set_message(lines[0], kind)
        else:
            self.file_view.set_lines(lines)

    def _set_mode(self, mode: Mode) -> None:
        self._mode = mode
        self.set_class(mode == "file", "-file")

    def _set_header(self, text: Text, plain: str) -> None:
        self._header_text = plain
        self._header.update(text)

    def _page(self) -> int:
        view: ScrollView = self.file_view if self._mode == "file" else self.tree_view
        return max(1, view.scrollable_content_region.height - 1)

    def _by(self, delta: int) -> None:
        if self._mode == "file":
            self.file_view.scroll_to(y=self.file_view.scroll_y + delta, animate=False,
                                   immediate=True)
        else:
            self.tree_view.move_to(self.tree_view.cursor_row + delta)
