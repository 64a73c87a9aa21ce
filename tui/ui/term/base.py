"""The emulator interface the terminal pane draws from, independent of the backend.

Threading contract: ``feed`` runs on one worker thread (it may take long: a single write
is not bounded by its size). Everything else runs on the event loop and never waits for
``feed``. ``resize`` and the ``scroll_*`` calls are requests, applied under the backend's
lock before the next write or capture. ``capture`` takes a snapshot of the screen when the
terminal is free, or asks the feeding thread to take it after its current write; the row,
cursor and mode reads below describe the last snapshot.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple, Protocol

if TYPE_CHECKING:
    from textual.strip import Strip


class Cursor(NamedTuple):
    """Cursor position in the viewport (cells) and whether it should be drawn."""

    x: int
    y: int
    visible: bool


class Modes(NamedTuple):
    """Terminal modes the key encoder and the pane need, as of the last snapshot."""

    app_cursor: bool = False
    """DECCKM (``ESC[?1h``): arrows and Home/End send SS3 instead of CSI."""
    bracketed_paste: bool = False
    """Mode 2004: wrap pasted text in ``ESC[200~`` / ``ESC[201~``."""
    alt_screen: bool = False
    """The alternate screen is shown (full-screen programs)."""


class Emulator(Protocol):
    """A VT emulator fed with a process's output and read back as styled rows."""

    @property
    def size(self) -> tuple[int, int]:
        """``(cols, rows)`` of the last snapshot."""
        ...

    def feed(self, data: bytes) -> None:
        """Parse process output (worker thread). UTF-8 may be split across calls."""
        ...

    def resize(self, cols: int, rows: int) -> None:
        """Ask for a new size; the next snapshot has it."""
        ...

    def scroll_by(self, rows: int) -> None:
        """Move the viewport through the scrollback, negative = up (older output)."""
        ...

    def scroll_to_bottom(self) -> None:
        """Show the live screen again."""
        ...

    def capture(self) -> bool:
        """Snapshot the screen for drawing; False while a write holds the terminal.

        After False the snapshot is taken when the current write ends: call again then.
        """
        ...

    def dirty_rows(self) -> set[int]:
        """Viewport rows that changed since ``clear_dirty`` (as of the last snapshot)."""
        ...

    def clear_dirty(self) -> None:
        """Forget the dirty rows (the caller has drawn them)."""
        ...

    def row(self, y: int) -> Strip:
        """Viewport row ``y`` of the last snapshot, one segment run per style."""
        ...

    @property
    def cursor(self) -> Cursor:
        """Cursor of the last snapshot."""
        ...

    @property
    def modes(self) -> Modes:
        """Modes of the last snapshot."""
        ...

    @property
    def scrolled_back(self) -> int:
        """Rows between the viewport and the live screen (0 at the bottom)."""
        ...

    def take_replies(self) -> bytes:
        """Answers the program asked for (cursor report, DA, DECRQM...), oldest first."""
        ...

    def close(self) -> None:
        """Free the backend; no call is valid afterwards."""
        ...
