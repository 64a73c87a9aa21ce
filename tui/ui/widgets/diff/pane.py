"""The diff pane: what the failed step changed, as a tree of paths and per-file unified diffs.

``DiffView`` holds a one-line-per-mount summary header and two line views:
:class:`~tui.ui.widgets.diff.tree.DiffTreeView`, the changed paths as a collapsible tree
(intermediate directories derived from the paths, with the number of changes below them), and
:class:`~tui.ui.widgets.diff.unified.UnifiedDiffView`, one file's ``diff -u``. The data is in
:mod:`~tui.ui.widgets.diff.model`. The view itself takes the keys, so the app focuses just
``DiffView``; which of its two views they act on is its :class:`DiffMode`.
"""

from __future__ import annotations

import asyncio
import posixpath
from collections.abc import Callable
from enum import StrEnum
from typing import ClassVar, Protocol

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.widget import Widget
from textual.widgets import Static

from tui.debug.model.fsmodel import Change, DiffSource, FsDiff
from tui.debug.model.state import StateKind
from tui.ui.widgets.diff.model import (
    MARKS,
    LineKind,
    TreeNode,
    build_tree,
    change_details,
    printable,
    summary,
)
from tui.ui.widgets.diff.tree import DiffTreeView
from tui.ui.widgets.diff.unified import UnifiedDiffView
from tui.ui.widgets.textclean import one_line

__all__ = [
    "LOADING", "DiffMode", "DiffTreeView", "DiffView", "UnifiedDiffView", "build_tree",
    "change_details",
]

LOADING = "comparing the initial and final state…"


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
        Binding("o", "copy_out", "Copy out", show=False,
                tooltip="copy the selected path to the host (final state; initial if removed)"),
        Binding("escape,backspace", "back", "Back", show=False,
                tooltip="back from a file to the tree"),
    ]

    class CopyRequested(Message):
        """``o``: copy ``path`` (absolute in the mount) of the mount ``mount``'s ``state``."""

        def __init__(self, mount: str, path: str, state: StateKind) -> None:
            super().__init__()
            self.mount = mount
            self.path = path
            self.state = state

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

    def action_copy_out(self) -> None:
        """Ask the app to copy the path under the cursor (a removed one from the initial state)."""
        node = self.tree_view.cursor_node
        if node is None:
            return
        removed = node.change is not None and node.change.after is None
        state = StateKind.INITIAL if removed else StateKind.FINAL
        self.post_message(self.CopyRequested(node.label, "/" + node.path, state))

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
