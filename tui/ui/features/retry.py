"""Retry and write back: ``e`` runs an edited command of the failed RUN, ``w`` writes it back."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from textual.worker import Worker

from tui.debug.engine.facade import OpenError
from tui.debug.engine.shell import Shell
from tui.debug.model.outcome import BuilderLost, Failed

if TYPE_CHECKING:
    from tui.debug.model.retry import TryHistory
    from tui.ui.app import BxtuiApp
    from tui.ui.widgets.retry import RetryLine


class Retry:
    """The retry line (``e``) and its tries, kept while the line is closed (for ``w``)."""

    def __init__(self, app: BxtuiApp) -> None:
        self.app = app
        #: The retry line (``e``) once opened; it keeps the tries.
        self._line: RetryLine | None = None
        #: The tries of this build's retry line, kept while the line is closed (``w``).
        self._tries: TryHistory | None = None

    def action_ok(self, action: str) -> bool | None:
        """``e`` once a RUN failed (dimmed while building); ``w`` once a try passed."""
        if action == "write_back":
            return self._tries is not None and self._tries.last_passed is not None
        app = self.app
        if app.building:
            return None
        outcome = app.session.outcome
        failure = outcome.failure if isinstance(outcome, Failed | BuilderLost) else None
        return failure is not None and app.can_open("shell") and not failure.file_op

    def forget(self) -> None:
        """A new build: the tries were of the previous build's failure."""
        if self._line is not None:
            self._line.remove()
            self._line = None
        self._tries = None

    def open(self) -> Worker[None] | None:
        """``e``: the retry line, pre-filled with the failing command (or the last try)."""
        if self._line is not None and self._line.is_mounted:
            self._line.focus_input()
            return None
        return self.app.run_worker(self._open_retry, name="_open_retry", group="retry-open",
                                   exclusive=True)

    async def _open_retry(self) -> None:
        app = self.app
        try:
            retrier = await app.session.retrier()
        except OpenError as exc:
            app.notify(str(exc), title="Cannot retry", severity="warning", timeout=8)
            return
        from tui.debug.model.retry import TryHistory
        from tui.ui.widgets.retry import RetryLine

        if self._line is not None and self._line.is_mounted:  # e pressed twice meanwhile
            self._line.focus_input()
            return
        if self._tries is None:
            self._tries = TryHistory(retrier.command)
        history = self._tries
        last = history.tries[-1].command if history.tries else retrier.command
        self._line = RetryLine(history, last, retrier.notes())
        await app.main.mount(self._line)
        self._line.focus_input()

    def closed(self) -> None:
        """Escape in the retry line: remove it (its tries are kept for ``e`` and ``w``)."""
        if self._line is not None:
            self._line.remove()
            self._line = None  # removal is not immediate: e must mount a new line
        self.app.graph_view.focus()
        self.app.refresh_bindings()

    def run_try(self, cmd: str) -> Worker[None]:
        """Enter in the retry line: run ``cmd`` in a fresh initial-state container."""
        return self.app.run_worker(partial(self._run_try, cmd), name="_run_try", group="shell",
                                   exclusive=True)

    async def _run_try(self, cmd: str) -> None:
        app = self.app
        line = self._line
        if line is None:  # closed before the try started
            return
        line.history.add(cmd)
        n = len(line.history.tries)
        title = f"retry #{n}: {cmd}"
        pane, link, on_output, drain = await app.shells.pane_for(f"retry {n}", title)
        line.focus_input()  # the pane shows the output; the line keeps the keys
        line.show_state(f"try #{n} running…")
        rows, cols = app.terminal.pty_size
        try:
            proc = await app.session.retry(cmd, on_output, rows, cols, tty=True)
        except OpenError as exc:
            line.history.finish(255)
            pane.process_exited(f"not started: {exc}")
            line.show_state(f"try #{n} did not start: {exc}")
            return
        proc.set_drain(drain)
        shell = app.shells.tab_shells[pane] = Shell(proc, title)
        link.connect(shell)
        app.main.shell_opened = True
        code = await shell.wait()
        message = shell.exit_message()
        pane.process_exited(message)
        app.main.deck.refresh_tabs()
        done = line.history.finish(code)
        hint = " · esc, then w writes it back" if done.passed else " · edit and Enter again"
        line.show_state(f"try #{n} {message}{hint}")
        app.refresh_bindings()

    def write_back(self) -> Worker[None]:
        """``w``: the diff of writing the last passing try back, then y/n."""
        return self.app.run_worker(self._write_back, name="_write_back", group="write-back",
                                   exclusive=True)

    async def _write_back(self) -> None:
        from tui.debug.model.writeback import WriteBackError
        from tui.ui.widgets.retry import WriteBackScreen

        app = self.app
        passed = self._tries.last_passed if self._tries is not None else None
        if passed is None:
            return
        try:
            retrier = await app.session.retrier()
            plan = await retrier.plan(passed.command)
        except (OpenError, WriteBackError) as exc:
            app.notify(str(exc), title="Not written back", severity="warning", timeout=10)
            return
        if not plan.patch.changed:
            app.notify("The Dockerfile has this command already", timeout=6)
            return
        if not await app.push_screen_wait(WriteBackScreen(str(plan.path), plan.patch.diff)):
            app.notify("Nothing written", timeout=4)
            return
        try:
            await retrier.write(plan)
        except (WriteBackError, OSError) as exc:
            app.notify(str(exc), title="Not written back", severity="error", timeout=10)
            return
        app.notify(f"Wrote the command back to {plan.path}", title="Written", timeout=8)
