"""The one owner of ``gc.freeze`` in the app: long-lived objects kept out of full GC passes.

By the first paint the process holds some 60,000 objects that live as long as it does
(modules, classes, Textual's styles, the widgets); loading the terminal emulator, pygments'
lexers or a state's file index adds tens of thousands more.  Every full collection
(generation 2) walks all of them: 25 to 120 ms with the event loop stopped on a loaded 2-core
machine, in the middle of a build.  ``gc.freeze()`` moves them to the permanent generation, so
that a full pass only walks what was made since; reference counting still frees them as usual.

Nothing else calls ``gc.freeze``: the app freezes at its first paint (:meth:`Heap.freeze`),
the panes call :func:`settle` once their heavy objects are loaded, and the app thaws
everything when it ends (:meth:`Heap.thaw`), so no frozen heap outlives it.
"""

from __future__ import annotations

import gc

__all__ = ["HEAP", "Heap", "settle"]


class Heap:
    """Freezes what is alive at chosen moments; thaws all of it when the app ends."""

    def __init__(self) -> None:
        #: Whether anything is frozen by this owner (and not thawed since).
        self.frozen = False
        self._once: set[str] = set()

    def freeze(self, once: str = "") -> None:
        """Move every tracked object to the permanent generation.

        ``once`` names a moment that needs one freeze only (e.g. ``"lexers"``): later calls
        with the same name do nothing until the next :meth:`thaw`.
        """
        if once:
            if once in self._once:
                return
            self._once.add(once)
        gc.freeze()
        self.frozen = True

    def thaw(self) -> None:
        """Give the frozen objects back to the collector (their cycles can be freed again)."""
        self._once.clear()
        if self.frozen:
            self.frozen = False
            gc.unfreeze()


#: The process's one heap owner.
HEAP = Heap()


def settle(once: str = "") -> None:
    """A pane has loaded objects that stay for the session: freeze them (see :class:`Heap`)."""
    HEAP.freeze(once)
