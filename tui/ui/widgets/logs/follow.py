"""The logs pane's follow mode: the newest output stays in view until the view is scrolled up.

Scrolling up (keys, wheel, dragging the scrollbar) or jumping to the top stops following;
scrolling down onto the last row, or ``end``/``G``, resumes it. Rows added or removed above the
shown ones while paused shift the scroll position so that the same lines stay on screen.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.scroll_view import ScrollView

__all__ = ["Follow"]


class Follow:
    """Whether ``view`` keeps its last row in view, and the scrolling that turns it on and off.

    ``changed`` is called whenever following turns on or off by scrolling (the view shows the
    mode in its subtitle); setting :attr:`on` directly calls nothing.
    """

    __slots__ = ("_changed", "_view", "on")

    def __init__(self, view: ScrollView, changed: Callable[[], None]) -> None:
        self._view = view
        self._changed = changed
        #: Keep the newest output in view.
        self.on = True

    def set(self, on: bool) -> None:
        """Follow (and go to the end) or stop following."""
        if on != self.on:
            self.on = on
            self._changed()
        if on:
            self.to_end()

    def to_end(self) -> None:
        """Scroll to the last row at once (the horizontal position stays)."""
        self._view.scroll_end(animate=False, immediate=True, x_axis=False, force=True)

    def catch_up(self) -> None:
        """Rows were added: scroll to the end if following."""
        if self.on:
            self.to_end()

    def scroll_to(self, y: float) -> None:
        """Scroll to row ``y`` (following is left as it is)."""
        self._view.scroll_to(y=y, animate=False, force=True)

    def header_resized(self, old: int, new: int) -> None:
        """The rows above the log lines went from ``old`` to ``new``: keep the lines shown."""
        view = self._view
        if not self.on and old != new and view.scroll_y >= old:
            self.scroll_to(view.scroll_y + new - old)

    def lines_dropped(self, lines: int, header: int) -> None:
        """The first ``lines`` log lines (below ``header`` rows) are gone: keep the rest shown."""
        if not self.on:
            view = self._view
            shift = min(lines, max(0, round(view.scroll_y) - header))
            self.scroll_to(view.scroll_y - shift)

    def reveal(self, row: int, height: int) -> None:
        """Show ``row`` (a third down a ``height``-row page) if it is not shown: stop following."""
        view = self._view
        if not view.scroll_y <= row < view.scroll_y + height:
            self.set(False)
            self.scroll_to(max(0, row - height // 3))

    def scroll_rows(self, rows: float) -> None:
        """Scroll by ``rows``: up stops following, reaching the end resumes it."""
        view = self._view
        target = min(max(0.0, view.scroll_target_y + rows), view.max_scroll_y)
        self.scroll_to(target)
        if rows > 0:
            self.set(target >= view.max_scroll_y)
        elif view.max_scroll_y > 0:
            self.set(False)

    def top(self) -> None:
        """Stop following and go to the first row."""
        self.set(False)
        self.scroll_to(0)

    def dragged(self, old_y: float, new_y: float) -> None:
        """The view scrolled from ``old_y`` to ``new_y``: dragging the scrollbar up stops."""
        if new_y < old_y and self._view.is_vertical_scrollbar_grabbed and self.on:
            self.on = False
            self._changed()
