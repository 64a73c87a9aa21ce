"""Keep the start-up heap out of the garbage collector's full passes while the app runs.

By the first paint the process holds some 60,000 objects that live as long as it does
(modules, classes, Textual's styles, the widgets).  Every full collection (generation 2) walks
all of them: 25 to 120 ms with the event loop stopped on a loaded 2-core machine, in the middle
of a build.  ``gc.freeze()`` moves them to the permanent generation, so that a full pass only
walks what was made since; reference counting still frees them as usual.
"""

from __future__ import annotations

import gc


class StartupHeap:
    """Freezes the objects alive at the first paint; thaws them when the app ends."""

    def __init__(self) -> None:
        self.frozen = False

    def freeze(self) -> None:
        """Move every tracked object to the permanent generation (not if someone else did)."""
        if not self.frozen and gc.get_freeze_count() == 0:
            gc.freeze()
            self.frozen = True

    def thaw(self) -> None:
        """Give the frozen objects back to the collector (their cycles can be freed again)."""
        if self.frozen:
            self.frozen = False
            gc.unfreeze()
