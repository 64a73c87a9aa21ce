"""The logs pane's search at work: ``/`` and its prompt, ``n`` / ``N``, escape, the counter.

``/`` opens the prompt (:class:`SearchPrompt`), which the view draws on its last row (a
``ScrollView`` is not a container, so it cannot hold an ``Input``); while it is open it takes
the keys: printable keys, backspace, ctrl+u, enter and escape. Enter searches from the first
line on screen (an empty pattern repeats the last one), ``n`` / ``N`` go to the next / previous
match, wrapping around, and escape forgets the pattern. :class:`Finder` does all this on a
:class:`SearchTarget` (the view), with a :class:`~tui.ui.widgets.logs.search.LogSearch` for the
pattern and its matches; it counts the matching lines one frame at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from enum import Enum
from typing import Protocol

from textual.timer import Timer

from tui.ui.widgets.logs.index import LogIndex
from tui.ui.widgets.logs.model import STEP_SECONDS
from tui.ui.widgets.logs.search import LogSearch

__all__ = ["Finder", "PromptKey", "SearchPrompt", "SearchTarget"]


class PromptKey(Enum):
    """What a key did to the open prompt."""

    IGNORED = "ignored"  # not the prompt's: it goes on as usual
    EDITED = "edited"
    CANCEL = "cancel"  # escape
    SUBMIT = "submit"  # enter


class SearchPrompt:
    """The search prompt's text (``None`` while closed)."""

    __slots__ = ("text",)

    def __init__(self) -> None:
        self.text: str | None = None

    @property
    def is_open(self) -> bool:
        """Whether the prompt is open."""
        return self.text is not None

    def key(self, key: str, character: str | None) -> PromptKey:
        """Handle ``key`` (``character``: its text if printable) while the prompt is open."""
        if self.text is None:
            return PromptKey.IGNORED
        if key == "escape":
            return PromptKey.CANCEL
        if key == "enter":
            return PromptKey.SUBMIT
        if key == "backspace":
            self.text = self.text[:-1]
        elif key == "ctrl+u":
            self.text = ""
        elif character is not None:
            self.text += character
        else:
            return PromptKey.IGNORED
        return PromptKey.EDITED

    def paste(self, text: str) -> bool:
        """Paste the first line of ``text``; whether the prompt took it."""
        if self.text is not None and text:
            self.text += text.splitlines()[0]
            return True
        return False


class SearchTarget(Protocol):
    """What the search needs of the view it searches."""

    @property
    def index(self) -> LogIndex | None:
        """The lines searched."""

    @property
    def is_mounted(self) -> bool:
        """Whether timers can be set."""

    def set_timer(self, delay: float, callback: Callable[[], None]) -> Timer:
        """Call ``callback`` in ``delay`` seconds."""

    def first_visible_line(self) -> int:
        """The line at the top of the view (where a search starts without a current match)."""

    def reveal_line(self, line: int) -> None:
        """Scroll line ``line`` into view if it is not shown (following stops)."""

    def forget(self, key: Hashable) -> None:
        """Render the line numbered ``key`` (``dropped + i``) again."""

    def invalidate(self) -> None:
        """Render every line again (the highlights changed)."""

    def refresh(self) -> object:
        """Repaint."""

    def prompt_toggled(self) -> None:
        """The prompt opened or closed (a row more or less)."""

    def search_changed(self) -> None:
        """The prompt, the pattern or the match counts changed (the subtitle shows them)."""


class Finder:
    """The search of a view: its keys and prompt, the current match, the match counter."""

    __slots__ = ("_count_timer", "_view", "prompt", "search")

    def __init__(self, view: SearchTarget) -> None:
        self._view = view
        #: The pattern, the current match and the count of matching lines.
        self.search = LogSearch()
        #: The text typed after ``/``.
        self.prompt = SearchPrompt()
        self._count_timer: Timer | None = None

    # ------------------------------------------------------------------ keys
    def open_prompt(self) -> None:
        """``/``: open the prompt, empty."""
        self.prompt.text = ""
        self._view.prompt_toggled()
        self._view.search_changed()

    def clear(self) -> None:
        """Escape: forget the pattern and its highlights."""
        self._set_pattern("")
        self._view.search_changed()

    def step(self, direction: int) -> None:
        """Go to the next (1) or previous (-1) matching line, wrapping around."""
        idx = self._view.index
        if not self.search.pattern or idx is None or not len(idx):
            return
        self._goto(self.search.step(idx, direction, self._view.first_visible_line()))

    def key(self, key: str, character: str | None) -> bool:
        """A key while the prompt may be open; whether the prompt took it."""
        prompt = self.prompt
        pattern = prompt.text or ""
        done = prompt.key(key, character)
        if done is PromptKey.IGNORED:  # also while the prompt is closed
            return False
        if done is not PromptKey.EDITED:
            self._close()
        if done is PromptKey.SUBMIT:
            self.run(pattern)
        self._view.search_changed()
        self._view.refresh()
        return True

    def paste(self, text: str) -> bool:
        """Paste into the open prompt (first line only); whether it took it."""
        if self.prompt.paste(text):
            self._view.refresh()
            return True
        return False

    def blur(self) -> None:
        """The view lost the focus: close the prompt."""
        if self.prompt.is_open:
            self._close()
            self._view.search_changed()

    def _close(self) -> None:
        self.prompt.text = None
        self._view.prompt_toggled()

    # ------------------------------------------------------------------ searching
    def run(self, pattern: str) -> None:
        """Search for ``pattern`` (first line only; "" repeats) from the top of the view."""
        pattern = pattern or self.search.pattern
        if "\n" in pattern:
            pattern = pattern.split("\n", 1)[0]
        self._set_pattern(pattern)
        idx = self._view.index
        if not pattern or idx is None:
            self._view.search_changed()
            return
        self._goto(self.search.find(idx, self._view.first_visible_line()))

    def _set_pattern(self, pattern: str) -> None:
        if self.search.set_pattern(pattern):
            self._view.invalidate()
            self.restart_count()
        self._view.refresh()

    def _goto(self, line: int | None) -> None:
        view = self._view
        idx = view.index
        if idx is None:
            return
        old = self.search.select(idx, line)
        if line is not None:
            view.reveal_line(line)
        for key in (old, self.search.current):
            if key is not None:
                view.forget(key)
        view.search_changed()
        view.refresh()

    # ------------------------------------------------------------------ counting
    def restart_count(self) -> None:
        """Count the matching lines again, from the view's first line."""
        if self.search.restart_count(self._view.index):
            self._schedule_count()

    def resume_count(self, idx: LogIndex) -> None:
        """New complete lines: count them too."""
        if self.search.resume_count(idx):
            self._schedule_count()

    def _schedule_count(self) -> None:
        if self._count_timer is None and self._view.is_mounted:
            self._count_timer = self._view.set_timer(STEP_SECONDS, self.count_step)

    def count_step(self) -> None:
        """Count matching lines over the next few MB (bounded work per frame)."""
        self._count_timer = None
        idx = self._view.index
        if idx is None or not self.search.counting:
            return
        if self.search.count_step(idx):
            self._schedule_count()
        self._view.search_changed()
