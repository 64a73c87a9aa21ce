"""The file browser's listing: the rows of one directory, a line-API ``ScrollView``.

Only the rows on screen are rendered, and their strips are cached: scrolling costs the same
in a directory of 20 entries or 100,000.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import events
from textual.geometry import Size
from textual.strip import Strip

from tui.debug.model.fsmodel import Entry
from tui.debug.model.textfmt import format_bytes
from tui.ui.widgets.files.model import clean_name
from tui.ui.widgets.lineview import CursorLineView

__all__ = ["NOT_SENT", "FileListing"]

#: Marker of a path the build context did not send (excluded by .dockerignore).
NOT_SENT = "(not sent: .dockerignore)"

_SIZE_WIDTH = 8  # "999.99kB"
_MODE_WIDTH = 10  # "drwxr-xr-x"


class FileListing(CursorLineView, can_focus=False):
    """Rows of one directory: ``..``, its entries, then the excluded names."""

    COMPONENT_PREFIX = "file-listing--"
    STRIP_CACHE_ROWS = 256  # a few screens

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

    def __init__(self, on_row_click: Callable[[int, int], None], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._on_row_click = on_row_click  # (row, click chain)
        self.up = False
        self.entries: list[Entry] = []
        self.excluded: list[str] = []
        self.owner_width = 3
        self.message: tuple[str, str] | None = None  # (component, text) instead of rows
        self.active = False

    @property
    def row_count(self) -> int:
        """Rows of the listing (the message counts as one)."""
        if self.message is not None:
            return 1
        return self.up + len(self.entries) + len(self.excluded)

    @property
    def line_count(self) -> int:
        """Rows the cursor moves over."""
        return self.row_count

    @property
    def cursor(self) -> int:
        """Row of the cursor."""
        return self.cursor_line

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
        self.virtual_size = Size(self.scrollable_content_region.width, self.row_count)
        self.set_cursor_quietly(cursor)
        height = self._height()
        y = 0 if self.cursor < height else self.cursor - height // 2
        self.scroll_to(y=y, animate=False, force=True)
        self.invalidate()

    def set_message(self, component: str, text: str) -> None:
        """Show one line (loading, error) instead of rows."""
        self.message = (component, text)
        self.up, self.entries, self.excluded = False, [], []
        self.set_cursor_quietly(0)
        self.virtual_size = Size(self.scrollable_content_region.width, 1)
        self.scroll_to(y=0, animate=False, force=True)
        self.invalidate()

    def _height(self) -> int:
        return max(1, self.scrollable_content_region.height)

    def move_to(self, index: int) -> None:
        """Put the cursor on row ``index`` (clamped) and keep it visible."""
        self.move_cursor(index)

    def page_height(self) -> int:
        """Rows moved by page up/down."""
        return self._height()

    # ------------------------------------------------------------------ rendering
    def render_visible_line(self, y: int, width: int) -> Strip:
        """Render row ``y`` of the viewport."""
        if self.virtual_size.width != width:
            self.virtual_size = Size(width, self.row_count)
        index = self.scroll_offset.y + y
        if not 0 <= index < self.row_count:
            return Strip.blank(width, self.base_style())
        if index == self.cursor and self.message is None:
            cursor = "cursor" if self.active else "cursor-blurred"
            return self._render_row(index, width, self.component_style(cursor))
        strip = self._strips.get(index)
        if strip is None:
            strip = self._strips[index] = self._render_row(index, width, None)
        return strip

    def _render_row(self, index: int, width: int, over: Style | None) -> Strip:
        base = self.base_style()
        text = Text(no_wrap=True, end="")
        if self.message is not None:
            kind, plain = self.message
            text.append(plain, self.component_style(kind))
        else:
            item = self.row(index)
            meta = _MODE_WIDTH + self.owner_width + _SIZE_WIDTH + 3
            if item == "..":
                text.append(" " * meta)
                text.append("../", self.component_style("dir"))
            elif isinstance(item, str):
                style = self.component_style("excluded")
                name = Text(clean_name(item), style, no_wrap=True, end="")
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
        meta = self.component_style("meta")
        size = format_bytes(e.size) if e.kind == "file" else ""
        owner = f"{e.uid}:{e.gid}"
        text.append(f"{e.mode_string()} {owner:>{self.owner_width}} {size:>{_SIZE_WIDTH}} ",
                    meta)
        name = clean_name(e.name)
        if e.kind == "dir":
            text.append(name + "/", self.component_style("dir"))
        elif e.kind == "link":
            text.append(name, self.component_style("link"))
            text.append(" -> ", meta)
            text.append(clean_name(e.link))
        elif e.kind == "file":
            text.append(name, self.component_style("exec") if e.mode & 0o111 else None)
        else:
            text.append(name, self.component_style("special"))

    # ------------------------------------------------------------------ events
    def on_resize(self) -> None:
        """Keep the cursor in view at the new height."""
        self.scroll_to_line(self.cursor_line)

    def on_click(self, event: events.Click) -> None:
        """Select the clicked row; a double click opens it."""
        offset = event.get_content_offset(self)
        if offset is not None:
            self._on_row_click(self.scroll_offset.y + offset.y, event.chain)
