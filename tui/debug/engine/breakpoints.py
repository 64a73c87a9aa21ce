"""Breakpoints of a session: set, toggled, carried over a reload; the pause and its shell.

The :class:`~tui.debug.engine.stepping.Stepper` walking the build is kept across reloads, so
that the breakpoints stay (on their Dockerfile lines, moved by the diff).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from tui.buildkit.aio import cancel_child
from tui.buildkit.errors import BuildError
from tui.debug.engine.facade import NotStarted, OpenError

if TYPE_CHECKING:
    from tui.debug.engine.container import OutputFn
    from tui.debug.engine.facade import Drain
    from tui.debug.engine.finished import BuildView
    from tui.debug.engine.handle import ProcessHandle
    from tui.debug.engine.shell import Shell
    from tui.debug.engine.stepping import Stepper
    from tui.debug.model.llbdef import LLBDefinition
    from tui.debug.model.pause import PausedStep, Resume
    from tui.debug.model.reload import PreviousBuild

__all__ = ["Breakpoints", "FirstPause"]

#: Called at the walk's first pause with the definition and the steps still to run.
FirstPause = Callable[["LLBDefinition", list[str]], None]


class Breakpoints:
    """Where the session's builds pause, and the pause they are at."""

    def __init__(self, build: BuildView) -> None:
        self._build = build
        self._stepper: Stepper | None = None

    @property
    def stepper(self) -> Stepper | None:
        """What walks the build step by step (None: breakpoints are not enabled)."""
        return self._stepper

    def set(self, selectors: Sequence[str], *, toggles: bool = False,
            on_first_pause: FirstPause | None = None) -> None:
        """Pause before each step ``selectors`` name (``--step``'s forms); before the build.

        ``toggles``: breakpoints may be set later too (:meth:`toggle`, the app).
        """
        if not (selectors or toggles):  # a plain build: nothing to walk (nor to import)
            self._stepper = None
            return
        from tui.debug.engine.stepping import Stepper

        self._stepper = Stepper(selectors)
        if on_first_pause is not None:
            self._stepper.on_first_pause = on_first_pause

    def carry(self, previous: PreviousBuild | None, dockerfile: str | None) -> None:
        """A reloaded build keeps the breakpoints on their Dockerfile lines (moved by the diff)."""
        if self._stepper is None or previous is None:
            return
        from tui.debug.model.reload import line_map

        self._stepper.carry(line_map(previous.dockerfile, dockerfile))

    def toggle(self, digest: str) -> bool:
        """Set or clear a breakpoint on ``digest``; whether it is set now.

        It applies from the next turn of the walk (a pause, or before the first step runs).
        OpenError when breakpoints are not enabled.
        """
        if self._stepper is None:
            raise OpenError("breakpoints are not enabled for this build")
        return self._stepper.toggle(self._own_step(self._stepper, digest))

    def _own_step(self, stepper: Stepper, digest: str) -> str:
        """The definition's digest of the graph row ``digest``.

        The daemon reports some steps under another digest (those after a COPY from the
        context) than the frontend's definition, which the walk goes by.
        """
        v = self._build.graph.get(digest)
        return stepper.own(digest, v.name if v is not None else "")

    def step_row(self, digest: str) -> str:
        """The graph row that shows step ``digest`` (a pause's step).

        A step the daemon reported under another build's digest (see :meth:`_own_step`)
        leaves this build's row queued: the reported row shows it then.
        """
        from tui.debug.model.graph import VertexState

        graph = self._build.graph
        v = graph.get(digest)
        if v is None or v.state is not VertexState.QUEUED or not v.name:
            return digest
        return next((w.digest for w in graph if w.name == v.name and w.digest != digest
                     and w.state is not VertexState.QUEUED), digest)

    def applies(self, digest: str) -> bool:
        """Whether a breakpoint on ``digest`` can still stop this build (else: after ``r``).

        Not once the build is past the step, or evaluates its whole result.
        """
        stepper = self._stepper
        return stepper is not None and self._build.keep and self._build.outcome is None and \
            stepper.applies(self._own_step(stepper, digest))

    @property
    def rows(self) -> frozenset[str]:
        """The digests with a breakpoint (resolved selectors included, once known)."""
        if self._stepper is None:
            return frozenset()
        return frozenset(self._stepper.rows((v.digest, v.name) for v in self._build.graph))

    @property
    def paused(self) -> PausedStep | None:
        """The step the build is paused at (None while it runs or has finished)."""
        return self._stepper.paused if self._stepper is not None else None

    async def wait_paused(self, build: asyncio.Task[None]) -> PausedStep | None:
        """Wait until the build (its task) pauses at a step (that pause) or ends (None)."""
        stepper = self._stepper
        while stepper is not None and not build.done():
            if stepper.paused is not None:
                return stepper.paused
            stepper.changed.clear()
            waiter = asyncio.ensure_future(stepper.changed.wait())
            try:
                await asyncio.wait({waiter, build}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                await cancel_child(waiter)
        return None

    def resume(self, how: Resume) -> None:
        """Go on from the pause: ``continue`` or ``next``."""
        if self._stepper is not None:
            self._stepper.resume(how)

    async def start_paused_process(self, rows: int, cols: int, on_output: OutputFn, *,
                                   tty: bool = True) -> ProcessHandle:
        """The invoke command in the paused step's state (before it ran: its initial state).

        Raises OpenError with one clear sentence when nothing can start.
        """
        from tui.debug.engine.container import ProcessError
        from tui.debug.model.invoke import InvokeError

        if self._stepper is None:
            raise OpenError("the build is not paused")
        cfg = dataclasses.replace(self._build.invoke, tty=tty)
        try:
            return await self._stepper.start_process(cfg, on_output, rows, cols)
        except InvokeError as exc:
            raise OpenError(str(exc)) from None
        except (ProcessError, BuildError) as exc:
            raise NotStarted(str(exc)) from None

    async def open_paused_shell(self, rows: int, cols: int, on_output: OutputFn,
                                drain: Drain | None = None) -> Shell:
        """A shell in the paused step's state for the app's terminal pane.

        It ends when the build goes on (the pause's containers are released).
        """
        from tui.debug.engine.shell import Shell

        pause = self.paused
        if pause is None:
            raise OpenError("the build is not paused")
        try:
            proc = await self.start_paused_process(rows, cols, on_output)
        except NotStarted as exc:
            raise OpenError(f"the process did not start: {exc}") from None
        proc.set_drain(drain)
        shell = Shell(proc, pause.state_words())
        self._build.shells.append(shell)
        return shell
