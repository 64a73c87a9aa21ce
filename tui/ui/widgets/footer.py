"""The key footer, redrawn once per burst of binding changes.

Textual's :class:`~textual.widgets.Footer` rebuilds all its keys (a recompose: ~13 ms of the
event loop here) each time the screen says its bindings changed; at start-up that is said
three times within ~50 ms (the screen's mount, its first focus, the terminal's focus event),
while the app is still painting its first frames. This footer lets such a burst settle
first, then rebuilds once.
"""

from __future__ import annotations

from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer

__all__ = ["SETTLE_SECONDS", "SettledFooter"]

SETTLE_SECONDS = 0.06
"""How long the bindings must stay unchanged before the footer is rebuilt."""


class SettledFooter(Footer):
    """A footer that rebuilds once the bindings have stopped changing for a moment."""

    def __init__(self, *, show_command_palette: bool = True) -> None:
        super().__init__(show_command_palette=show_command_palette)
        self._settle: Timer | None = None
        self._screen: Screen[object] | None = None

    def bindings_changed(self, screen: Screen[object]) -> None:
        """The screen's bindings changed: rebuild once they have settled."""
        self._screen = screen
        if self._settle is not None:
            self._settle.stop()
        self._settle = self.set_timer(SETTLE_SECONDS, self._settled)

    def _settled(self) -> None:
        self._settle = None
        if self._screen is not None:
            super().bindings_changed(self._screen)
