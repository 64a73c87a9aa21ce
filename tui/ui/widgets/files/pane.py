"""The file browser: the filesystem of a build state, a directory listing and a file preview.

``FileBrowser.show`` takes the states that can be browsed (e.g. the failed step's initial and
final root); ``[`` and ``]`` switch between them. A state's snapshot is read in a worker and
indexed (children of every directory, in listing order) in a thread, then kept per state
object, so the event loop never waits for the daemon or for sorting 100,000 paths.

Layout: a header line (state, breadcrumbs, entry count and size of the directory's files), an
optional note line, then the listing (:mod:`~tui.ui.widgets.files.listing`) and the preview
(:mod:`~tui.ui.widgets.files.preview`) side by side when the widget is at least :data:`WIDE`
columns wide; narrower, the preview replaces the listing while it is open.

Once a snapshot is indexed, and once pygments has loaded its lexers, the heap is frozen
(:func:`tui.ui.heap.settle`, as the terminal pane does): those objects stay for the session,
and every full GC pass over them would otherwise stall a frame for 50-100 ms while scrolling.

The widget itself takes the focus; its children do not. Keys act on the listing or, once a
file is open, on the preview (escape goes back).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Sequence
from enum import StrEnum
from typing import ClassVar, Protocol

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Static

from tui.debug.model.fsmodel import Entry, StateFiles
from tui.debug.model.textfmt import format_bytes
from tui.ui.heap import settle
from tui.ui.widgets.files.listing import NOT_SENT, FileListing
from tui.ui.widgets.files.model import Tree, clean_name, index_snapshot
from tui.ui.widgets.files.pages import PAGE
from tui.ui.widgets.files.preview import HEX_BYTES, MAX_PAGES, FilePreview
from tui.ui.widgets.textclean import one_line

__all__ = [
    "HEX_BYTES", "MAX_PAGES", "NOT_SENT", "PAGE", "WIDE", "FileBrowser", "FileListing",
    "FilePreview", "FilesFocus",
]

#: Columns from which the listing and the preview are shown side by side.
WIDE = 100

_CRUMB = "\u203a"  # between breadcrumbs
_STATES_KEPT = 8


#: Help texts shared by several key bindings (the help screen groups keys by text).
_MOVE = "move the cursor / scroll the preview"
_OPEN = "enter a directory, preview a file"
_PARENT = "parent directory"
_STATE = "previous / next state"


class FilesFocus(StrEnum):
    """Which part of the browser the keys act on."""

    LISTING = "listing"
    PREVIEW = "preview"


class _Keys(Protocol):
    """What the browser's keys do on one part."""

    def move(self, rows: int) -> None:
        """Up/down by ``rows``."""

    def page(self, pages: int) -> None:
        """Up/down by ``pages`` screens."""

    def first(self) -> None:
        """To the top."""

    def last(self) -> None:
        """To the bottom."""

    def open(self) -> None:
        """Enter."""

    def left(self) -> None:
        """Left."""

    def right(self) -> None:
        """Right."""

    def back(self) -> None:
        """Backspace."""


class _ListingKeys:
    """Keys on the listing: move the cursor, enter directories, open files."""

    def __init__(self, browser: FileBrowser, listing: FileListing) -> None:
        self._browser = browser
        self._listing = listing

    def move(self, rows: int) -> None:
        self._listing.move_to(self._listing.cursor + rows)

    def page(self, pages: int) -> None:
        self.move(pages * self._listing.page_height())

    def first(self) -> None:
        self._listing.move_to(0)

    def last(self) -> None:
        self._listing.move_to(self._listing.row_count - 1)

    def open(self) -> None:
        self._browser.activate_row(self._listing.cursor)

    def right(self) -> None:
        self.open()

    def left(self) -> None:
        self._browser.go_up()

    def back(self) -> None:
        self._browser.go_up()


class _PreviewKeys:
    """Keys on the preview: scroll it; back to the listing."""

    def __init__(self, browser: FileBrowser, preview: FilePreview) -> None:
        self._browser = browser
        self._preview = preview

    def move(self, rows: int) -> None:
        self._preview.scroll_rows(rows)

    def page(self, pages: int) -> None:
        self._preview.scroll_rows(pages * self._preview.page_height())

    def first(self) -> None:
        self._preview.go_home()

    def last(self) -> None:
        self._preview.go_end()

    def open(self) -> None:
        pass

    def right(self) -> None:
        self._preview.scroll_columns(4)

    def left(self) -> None:
        self._preview.scroll_columns(-4)

    def back(self) -> None:
        self._browser.close_preview()


class FileBrowser(Widget, can_focus=True):
    """Browse the files of build states: a listing and a preview (see the module docstring)."""

    #: Keys that are not bindings, for the app's help screen (the bindings speak for
    #: themselves there: their tooltips are the help text).
    OTHER_KEYS: ClassVar[list[tuple[str, str]]] = [("double click", "open")]

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "move(-1)", "Up", show=False, tooltip=_MOVE),
        Binding("down", "move(1)", "Down", show=False, tooltip=_MOVE),
        Binding("pageup", "page(-1)", "Page up", show=False, tooltip=_MOVE),
        Binding("pagedown", "page(1)", "Page down", show=False, tooltip=_MOVE),
        Binding("home", "first", "Top", show=False, tooltip=_MOVE),
        Binding("end", "last", "End", show=False, tooltip=_MOVE),
        Binding("enter", "open", "Open", show=False, tooltip=_OPEN),
        Binding("right", "right", "Open", show=False, tooltip=_OPEN),
        Binding("left", "left", "Up", show=False, tooltip=_PARENT),
        Binding("backspace", "back", "Back", show=False, tooltip=_PARENT),
        Binding("escape", "close_preview", "Back", show=False,
                tooltip="from the preview back to the listing"),
        Binding("left_square_bracket", "switch(-1)", "Previous state", key_display="[",
                tooltip=_STATE),
        Binding("right_square_bracket", "switch(1)", "Next state", key_display="]", tooltip=_STATE),
        Binding("o", "copy_out", "Copy out",
                tooltip="copy the selected file or directory to the host (asks where)"),
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

    class CopyRequested(Message):
        """``o``: copy ``path`` (absolute in the state) of ``state`` to the host."""

        def __init__(self, state: StateFiles, path: str) -> None:
            super().__init__()
            self.state = state
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
        self._trees: OrderedDict[int, tuple[StateFiles, Tree]] = OrderedDict()
        self._errors: dict[int, str] = {}
        self._loading: set[int] = set()
        self._views: dict[int, tuple[str, str | None]] = {}  # state -> (cwd, cursor path)
        self._cwd = ""
        self._focus = FilesFocus.LISTING
        self._previewing = False
        self._listing = FileListing(self._click_row, id="fb-listing")
        self._preview = FilePreview(self._set_preview_title, id="fb-preview")
        self._keys: dict[FilesFocus, _Keys] = {
            FilesFocus.LISTING: _ListingKeys(self, self._listing),
            FilesFocus.PREVIEW: _PreviewKeys(self, self._preview),
        }

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
    def _tree(self) -> Tree | None:
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
        self.close_preview(clear=True)
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
            tree = await asyncio.to_thread(index_snapshot, snap, tuple(state.excluded))
        except Exception as exc:
            self._errors[key] = one_line(exc)
        else:
            settle()  # see the module docstring
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
        text = " ".join(self.state.note.split()) if self.state is not None else ""
        note.update(Text(text, no_wrap=True, overflow="ellipsis"))
        note.display = bool(text)

    def _update_header(self) -> None:
        state = self.state
        text = Text(no_wrap=True, overflow="ellipsis")
        if state is None:
            self.query_one("#fb-header", Static).update(text)
            return
        text.append(f"{self._index + 1}/{len(self._states)} ", "dim")
        text.append(clean_name(state.label), "bold")
        tree = self._tree()
        if tree is not None:
            text.append("  \u2502  ", "dim")
            parts = self._cwd.split("/") if self._cwd else []
            text.append("/", "" if parts else "bold")
            for k, part in enumerate(parts):
                text.append(f" {_CRUMB} ", "dim")
                text.append(clean_name(part), "bold" if k == len(parts) - 1 else "")
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

    def go_up(self) -> None:
        """Show the parent directory, the cursor on the one left."""
        if not self._cwd or self._tree() is None:
            return
        came = self._cwd
        self._show_dir(came.rpartition("/")[0], came)

    def activate_row(self, index: int) -> None:
        """Enter the directory on row ``index``, go up on ``..``, or preview the file."""
        tree = self._tree()
        row = self._listing.row(index)
        state = self.state
        if tree is None or state is None or row is None:
            return
        if row == "..":
            self.go_up()
        elif isinstance(row, Entry):
            if row.is_dir:
                self._show_dir(row.path, None)
            else:
                self._open_preview(state, tree, row)

    # ------------------------------------------------------------------ preview
    def _open_preview(self, state: StateFiles, tree: Tree, e: Entry) -> None:
        self._previewing = True
        self._preview.show_entry(state, tree.snapshot, e)
        self._set_focus(FilesFocus.PREVIEW)
        self.post_message(self.Opened(state.label, e.path))

    def close_preview(self, clear: bool = False) -> None:
        """Back from the preview to the listing (``clear``: empty the preview too)."""
        if clear:
            self._previewing = False
            self._preview.clear("enter: preview the selected file")
        elif not self.has_class("-wide"):
            self._previewing = False
        self._set_focus(FilesFocus.LISTING)

    def _set_preview_title(self, title: str) -> None:
        if self.is_mounted:
            self.query_one("#fb-preview-title", Static).update(
                Text(title, no_wrap=True, overflow="ellipsis"))

    def _set_focus(self, focus: FilesFocus) -> None:
        self._focus = focus
        self._sync_layout()

    def _sync_layout(self) -> None:
        if not self.is_mounted:
            return
        wide = self.size.width >= WIDE
        self.set_class(wide, "-wide")
        preview = self._focus is FilesFocus.PREVIEW
        if not wide and not preview:
            self._previewing = False
        self._listing.display = wide or not preview
        box = self.query_one("#fb-preview-box")
        box.display = wide or preview
        box.set_class(preview and self.has_focus, "-active")
        active = not preview and self.has_focus
        if active != self._listing.active:
            self._listing.active = active
            self._listing.refresh()

    def _click_row(self, index: int, chain: int) -> None:
        self._set_focus(FilesFocus.LISTING)
        if 0 <= index < self._listing.row_count:
            self._listing.move_to(index)
            if chain >= 2:
                self.activate_row(index)

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
            self._set_focus(FilesFocus.PREVIEW)

    # ------------------------------------------------------------------ actions
    @property
    def focus_part(self) -> FilesFocus:
        """The part the keys act on."""
        return self._focus

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Escape only acts while the preview has the keys (otherwise it goes to the app)."""
        if action == "close_preview":
            return self._focus is FilesFocus.PREVIEW
        return True

    def action_move(self, rows: int) -> None:
        """Move the cursor (or scroll the preview) by ``rows``."""
        self._keys[self._focus].move(rows)

    def action_page(self, pages: int) -> None:
        """Move by ``pages`` screens."""
        self._keys[self._focus].page(pages)

    def action_first(self) -> None:
        """First row / start of the file."""
        self._keys[self._focus].first()

    def action_last(self) -> None:
        """Last row / end of the loaded text (again: the next page)."""
        self._keys[self._focus].last()

    def action_open(self) -> None:
        """Enter the directory under the cursor, go up on ``..``, or preview the file."""
        self._keys[self._focus].open()

    def action_right(self) -> None:
        """Open (listing) or scroll right (preview)."""
        self._keys[self._focus].right()

    def action_left(self) -> None:
        """Parent directory (listing) or scroll left (preview)."""
        self._keys[self._focus].left()

    def action_back(self) -> None:
        """Parent directory, or back from the preview to the listing."""
        self._keys[self._focus].back()

    def action_close_preview(self) -> None:
        """Back from the preview to the listing."""
        self.close_preview()

    def action_switch(self, step: int) -> None:
        """Show the previous (-1) or next (1) state."""
        if len(self._states) < 2:
            return
        self._remember()
        self._index = (self._index + step) % len(self._states)
        self._display_state()

    def action_copy_out(self) -> None:
        """Ask the app to copy the previewed file, the selected entry, or this directory."""
        state = self.state
        if state is None or self._tree() is None:
            return
        path = self.preview_path if self._focus is FilesFocus.PREVIEW else None
        if path is None:
            entry = self.selected
            path = entry.path if entry is not None else self._cwd
        self.post_message(self.CopyRequested(state, "/" + path))
