"""Shells in the terminal's tabs: open one in a state, show it, follow it to its end.

Also the shells started unseen in advance (``f``'s final state, ``s``'s step under the graph's
cursor) and several shells at once (``x`` exec, ``v`` side by side).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from functools import partial
from typing import TYPE_CHECKING, Any

from textual.timer import Timer
from textual.worker import Worker

from tui.debug.engine.container import OutputFn
from tui.debug.engine.facade import OpenError
from tui.debug.engine.link import ShellLink
from tui.debug.engine.shell import Shell
from tui.debug.model.outcome import StateKind
from tui.ui.unseen import UnseenShell
from tui.ui.widgets.terminal import TerminalPane

if TYPE_CHECKING:
    from tui.ui.app import BxtuiApp

#: Seconds the graph's cursor rests on a step before its shell is started unseen (for ``s``).
SPECULATE_S = 0.05
#: Bytes of shell output waiting to be parsed above which the stream is held.
BACKLOG_LIMIT = 8 << 20

Drain = Callable[[], Awaitable[None]]
#: Starts a shell whose output goes to the hook given, held by the drain given.
Opener = Callable[[OutputFn, Drain], Awaitable[Shell]]


class Shells:
    """The tabs' shells: which shell each tab shows and the link its keys go through."""

    def __init__(self, app: BxtuiApp) -> None:
        self.app = app
        #: Each tab's pane: the shell it shows, the link its keys go through.
        self.tab_shells: dict[TerminalPane, Shell] = {}
        self.links: dict[TerminalPane, ShellLink] = {}
        #: A final-state shell started in advance, and its output held until ``f``.
        self.reserve = UnseenShell(self._spawn)
        #: A shell started unseen in the state of the step the graph's cursor rests on.
        self.step_reserve = UnseenShell(self._spawn)
        self._speculate_timer: Timer | None = None

    @property
    def shown(self) -> Shell | None:
        """The shell of the tab shown (None: nothing opened there yet)."""
        return self.tab_shells.get(self.app.terminal)

    @property
    def any_running(self) -> bool:
        """Whether a tab's shell still runs."""
        return any(not shell.finished for shell in self.tab_shells.values())

    def kill_all(self) -> None:
        """End every tab's shell that still runs (their containers are released)."""
        for shell in self.tab_shells.values():
            if not shell.finished:
                self.app.run_worker(shell.kill(), group="kill")

    def drop_reserves(self) -> None:
        """End the shells started in advance (they are of a build that is gone)."""
        self.reserve.drop()
        self.step_reserve.drop()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> Worker[None]:
        return self.app.run_worker(coro, group="unseen", exit_on_error=False)

    # -- started unseen ----------------------------------------------------------------------
    def start_reserve(self) -> None:
        """Start the final-state shell now, unseen, so that ``f`` shows a ready prompt."""
        session = self.app.session
        rows, cols = self.app.terminal.pty_size
        self.reserve.start(StateKind.FINAL, lambda held: session.open_shell(
            StateKind.FINAL, rows, cols, held))

    def highlighted(self, digest: str) -> None:
        """The graph's cursor rests on ``digest``: start its shell unseen, so that ``s`` is quick.

        Only the default shell (no explicit ``--invoke``: it could have side effects), one at
        a time: moving on ends the previous one.
        """
        self.stop_speculating()
        app = self.app
        if app.auto_open is not None or app.building or self.step_reserve.key == digest:
            return
        self._speculate_timer = app.set_timer(SPECULATE_S, lambda: self._speculate(digest))

    def stop_speculating(self) -> None:
        """No shell for the step under the cursor (not yet started ones only)."""
        if self._speculate_timer is not None:
            self._speculate_timer.stop()
            self._speculate_timer = None

    def _speculate(self, digest: str) -> None:
        self._speculate_timer = None
        session = self.app.session
        if self.app.graph_view.selected_digest != digest or session.is_failed_step(digest) \
                or session.step_unavailable(digest) or not session.has_states:
            return
        rows, cols = self.app.terminal.pty_size
        self.step_reserve.start(digest, lambda held: session.open_shell(
            StateKind.FINAL, rows, cols, held, step=digest))

    # -- one shell in a tab ------------------------------------------------------------------
    def _tab_name(self, state: StateKind, step: str | None) -> str:
        """``final``, ``initial`` or ``step N``: what a tab is called."""
        if step is None:
            return state.value
        vertex = self.app.session.graph.get(step)
        return f"step {vertex.step}" if vertex is not None and vertex.step else "step"

    async def _free_pane(self, name: str) -> TerminalPane:
        """The tab shown when nothing runs there, else a new tab; called ``name``."""
        deck = self.app.main.deck
        pane = deck.current
        shell = self.tab_shells.get(pane)
        if pane.live or (shell is not None and not shell.finished):
            pane = await deck.add()
        deck.set_name(pane, name)
        return pane

    async def pane_for(self, name: str, title: str
                       ) -> tuple[TerminalPane, ShellLink, OutputFn, Drain]:
        """A tab's pane attached to a new link; the output and flow-control hooks for it."""
        pane = await self._free_pane(name)
        link = self.links[pane] = ShellLink()
        self.tab_shells.pop(pane, None)
        pane.attach(link, title)
        self.app.main.deck.refresh_tabs()
        pane.focus()  # what is typed while it starts is kept for it (type-ahead)

        def on_output(_fd: int, data: bytes) -> None:
            if self.links.get(pane) is link:  # late output of an ended shell stays out
                pane.feed(data)

        async def drain() -> None:
            # flow control: hold the process's output while the pane has much left to parse
            if self.links.get(pane) is link:
                await pane.wait_backlog(BACKLOG_LIMIT)

        return pane, link, on_output, drain

    def open(self, state: StateKind, step: str | None = None) -> Worker[None]:
        """Open a shell in ``state`` (or ``step``'s) in a tab, and follow it."""
        return self.app.run_worker(partial(self._open, state, step), name="_open_shell",
                                   group="shell")

    async def _open(self, state: StateKind, step: str | None) -> None:
        opened = await self._start_in_tab(state, step)
        if opened is not None:
            await self.follow(*opened)

    async def _start_in_tab(self, state: StateKind, step: str | None = None
                            ) -> tuple[Shell, TerminalPane, ShellLink, str] | None:
        """A shell in ``state`` (or ``step``'s) in a tab; None when it could not open."""
        session = self.app.session
        rows, cols = self.app.terminal.pty_size
        title = f"shell: {session.describe_target(state, step)}"
        pane, link, on_output, drain = await self.pane_for(self._tab_name(state, step), title)
        if step is not None:
            shell = await self._take_unseen(self.step_reserve, step, pane, on_output, drain)
        elif state is StateKind.FINAL:
            shell = await self._take_unseen(self.reserve, state, pane, on_output, drain)
        else:
            shell = None
        if shell is None:
            try:
                shell = await session.open_shell(state, rows, cols, on_output, drain, step=step)
            except OpenError as exc:
                self.not_opened(pane, exc)
                return None
        return shell, pane, link, title

    def not_opened(self, pane: TerminalPane, exc: OpenError) -> None:
        """Say in ``pane`` and in a notice why its shell did not open."""
        pane.process_exited(f"not opened: {exc}")
        self.app.main.deck.refresh_tabs()
        self.app.notify(str(exc), title="Nothing to open", severity="warning", timeout=8)
        self.app.graph_view.focus()

    async def _take_unseen(self, unseen: UnseenShell, key: str, pane: TerminalPane,
                           on_output: OutputFn, drain: Drain) -> Shell | None:
        """The shell started in advance for ``key`` (waiting if it is starting), now shown."""
        taken = await unseen.take(key, on_output)
        if taken is None:
            return None
        shell, held = taken
        pane.feed(held)
        shell.proc.set_drain(drain)
        return shell

    async def open_in_tab(self, name: str, title: str, opener: Opener) -> None:
        """The shell ``opener`` starts, in a tab called ``name``, followed to its end."""
        pane, link, on_output, drain = await self.pane_for(name, title)
        try:
            shell = await opener(on_output, drain)
        except OpenError as exc:
            self.not_opened(pane, exc)
            return
        await self.follow(shell, pane, link, title)

    async def follow(self, shell: Shell, pane: TerminalPane, link: ShellLink,
                     title: str) -> None:
        """The shell is shown in ``pane``: connect it, then report its end."""
        app = self.app
        self.tab_shells[pane] = shell

        def toolbox_notice() -> None:
            app.notify("This state has no shell of its own: the toolbox's shell runs in it, "
                       "with the toolbox on PATH (/.bxtui/toolbox).", title="Toolbox",
                       timeout=8)

        shell.proc.on_fallback(toolbox_notice)  # now, if it took over before it was shown
        link.connect(shell)
        app.main.shell_opened = True
        await shell.wait()
        message = shell.exit_message()
        given_up = app.session.use_default_shell() if shell.proc.missing else None
        # said in the pane too: a notice can be missed (it goes after a few seconds)
        pane.process_exited(message if given_up is None
                            else f"{message} · {given_up!r} is not in this state")
        app.main.deck.refresh_tabs()
        if given_up is not None:
            app.notify(f"{given_up!r} is not in this state: f and i open /bin/sh from now on",
                       title="Command not found", severity="warning", timeout=10)
        else:
            app.notify(f"{title}: {message}", timeout=5)
        if app.focused is pane:
            app.graph_view.focus()

    # -- several shells ----------------------------------------------------------------------
    def exec_shown(self) -> Worker[None] | None:
        """``x``: a second process in the container of the shown tab's shell, in a new tab."""
        base = self.shown
        if base is None or base.finished:
            self.app.notify("x runs a second process where the shown tab's shell runs: open a "
                            "shell first (f, i, s)", title="Nothing to exec into",
                            severity="warning", timeout=6)
            return None
        return self.app.run_worker(partial(self._exec_into, base, self.app.main.deck.index + 1),
                                   name="_exec_into", group="shell")

    async def _exec_into(self, base: Shell, tab: int) -> None:
        rows, cols = self.app.terminal.pty_size
        session = self.app.session
        await self.open_in_tab(
            f"exec {tab}", f"exec: {base.label}",
            lambda on_output, drain: session.exec_shell(base, rows, cols, on_output, drain))

    def side_by_side(self) -> Worker[None]:
        """``v``: the failed step's initial and final states in two terminals at once."""
        return self.app.run_worker(self._side_by_side, name="_side_by_side", group="shell")

    async def _side_by_side(self) -> None:
        deck = self.app.main.deck
        shown: list[int] = []
        for state in (StateKind.INITIAL, StateKind.FINAL):
            running = [i for i, pane in enumerate(deck.panes)
                       if deck.names[pane] == state.value and pane.live]
            if running:
                shown.append(running[-1])
                continue
            opened = await self._start_in_tab(state)
            if opened is None:
                return
            shown.append(deck.panes.index(opened[1]))
            self.app.run_worker(self.follow(*opened), group="shell")
        deck.show_pair(*shown)
        deck.current.focus()
