"""Files out (``o`` in the file browser or the diff): ask where, then copy to the host."""

from __future__ import annotations

import asyncio
import os
from functools import partial
from typing import TYPE_CHECKING

from textual.worker import Worker

from tui.debug.engine.facade import OpenError
from tui.debug.model.fsmodel import StateFiles

if TYPE_CHECKING:
    from tui.ui.app import BxtuiApp
    from tui.ui.widgets.diff.pane import DiffView


class CopyOut:
    """Copies a path of a state out to the host, asking before overwriting."""

    def __init__(self, app: BxtuiApp) -> None:
        self.app = app

    def from_diff(self, message: DiffView.CopyRequested) -> None:
        """``o`` in the diff: from the failed step's final (or initial) state."""
        try:
            state = self.app.session.diff_state(message.mount, message.state)
        except OpenError as exc:
            self.app.notify(str(exc), title="Nothing to copy", severity="warning", timeout=8)
            return
        self.copy(state, message.path)

    def copy(self, state: StateFiles, path: str) -> Worker[None]:
        """Ask where ``path`` of ``state`` goes, then copy it there."""
        return self.app.run_worker(partial(self._copy_out, state, path), name="_copy_out",
                                   group="copy-out")

    async def _copy_out(self, state: StateFiles, path: str) -> None:
        from tui.debug.model.copyspec import default_dest
        from tui.ui.screens.copyout import ConfirmOverwrite, CopyPrompt
        from tui.ui.widgets.textclean import one_line

        app = self.app
        prompt = CopyPrompt(f"{path} of the {state.label}", default_dest(state.label, path))
        dest = await app.push_screen_wait(prompt)
        if dest is None:
            return
        overwrite = await asyncio.to_thread(os.path.lexists, dest)
        if overwrite and not await app.push_screen_wait(ConfirmOverwrite(dest)):
            app.notify(f"{dest} kept: nothing copied", timeout=4)
            return
        try:
            report = await state.copy_out(path, dest, overwrite)
        except Exception as exc:
            app.notify(one_line(exc), title="Not copied", severity="error", timeout=10)
            return
        app.notify(f"{path} \u2192 {report.dest}: {report.summary()}", title="Copied",
                   timeout=8)
