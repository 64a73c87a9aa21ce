"""Shells in the finished build's states (``f``/``i``/``s``, ``--invoke``) and beside them.

Several shells as buildx's monitor has them: ``exec`` in a running one's container, ``ps``
and ``kill`` (the :class:`~tui.debug.engine.processes.ProcessRegistry`, kept across reloads).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import TYPE_CHECKING

from tui.buildkit.errors import BuildError
from tui.debug.engine.facade import NotStarted, OpenError
from tui.debug.engine.finished import explorer_of
from tui.debug.model.outcome import BuilderLost, Failed, StateKind, Succeeded

if TYPE_CHECKING:
    from tui.debug.engine.container import OutputFn
    from tui.debug.engine.exploring import Exploring
    from tui.debug.engine.facade import Drain
    from tui.debug.engine.finished import BuildView
    from tui.debug.engine.handle import ProcessHandle
    from tui.debug.engine.processes import ProcessInfo, ProcessRegistry
    from tui.debug.engine.shell import Shell

__all__ = ["ShellOpener"]


class ShellOpener:
    """Opens the session's shells and keeps the list ``ps`` shows."""

    def __init__(self, build: BuildView, steps: Exploring) -> None:
        self._build = build
        self._steps = steps

    def describe_target(self, state: StateKind, step: str | None = None) -> str:
        """Where ``f`` (final) or ``i`` (initial), or ``step``'s state, opens a shell."""
        if step is not None and not self._steps.is_failed_step(step):
            return f"the state after {self._steps.step_name(step)}"
        match self._build.outcome:
            case Succeeded():
                return "the build result"
            case Failed(failure) | BuilderLost(failure):
                name = failure.step_name or "the step"
                if failure.file_op:
                    return f"a toolbox with the inputs of {name} (/dest, /src)"
                return f"the {state} state of {name}"
        return f"the {state} state of the step"

    async def start_process(self, state: StateKind, rows: int, cols: int, on_output: OutputFn,
                            step: str | None = None, *, tty: bool = True
                            ) -> tuple[ProcessHandle, bool]:
        """Start the invoke command in the failed step's ``state`` (or the result).

        ``step`` (a vertex digest) starts it in the state that step produced instead.  A
        state without a shell gets the toolbox.  Returns the process and whether the toolbox
        is on its PATH.  Raises OpenError with one clear sentence when nothing can start
        (NotStarted: the daemon's reason).
        """
        build = self._build
        explorer = explorer_of(build)
        if build.lost:
            raise OpenError(build.lost)
        from tui.debug.engine.container import ProcessError
        from tui.debug.engine.explore import ExploreError
        from tui.debug.engine.stepshell import Shells
        from tui.debug.model.invoke import InvokeError

        cfg = dataclasses.replace(build.invoke, state=state, tty=tty)
        shells = Shells(explorer)
        if step is not None and self._steps.is_failed_step(step):
            step = None  # the failed step's own state is its final (or initial) state
        forced = build.toolbox is not None
        try:
            if step is not None:
                reason = self._steps.step_unavailable(step)
                if reason:
                    raise OpenError(reason)
                _, proc, toolbox = await shells.step(step, cfg, on_output, rows, cols,
                                                     toolbox=forced)
            else:
                _, proc, toolbox = await shells.failed(cfg, on_output, rows, cols,
                                                       toolbox=forced)
        except (InvokeError, ExploreError) as exc:
            raise OpenError(str(exc)) from None
        except (ProcessError, BuildError) as exc:
            raise NotStarted(str(exc)) from None
        return proc, toolbox

    async def open_shell(self, state: StateKind, rows: int, cols: int, on_output: OutputFn,
                         drain: Drain | None = None, step: str | None = None) -> Shell:
        """A shell (see :meth:`start_process`) for the app's terminal pane.

        ``drain`` is awaited after each output chunk (flow control for a slow screen).
        """
        from tui.debug.engine.shell import Shell

        target = self.describe_target(state, step)
        try:
            proc, toolbox = await self.start_process(state, rows, cols, on_output, step)
        except NotStarted as exc:
            raise OpenError(f"the process did not start: {exc}") from None
        proc.set_drain(drain)
        if toolbox:
            target += " (toolbox on PATH)"
        shell = Shell(proc, target)
        self._build.shells.append(shell)
        kept = self._build.kept
        if kept is not None:
            self.processes.add(shell, kept.ctx.containers)
        return shell

    # -- several shells (buildx monitor's exec / ps / kill) ----------------------------------
    @functools.cached_property
    def processes(self) -> ProcessRegistry:
        """The open shells and their containers."""
        from tui.debug.engine.processes import ProcessRegistry

        return ProcessRegistry()

    async def exec_shell(self, base: Shell, rows: int, cols: int, on_output: OutputFn,
                         drain: Drain | None = None, args: list[str] | None = None) -> Shell:
        """A second process (``/bin/sh`` by default) in ``base``'s running container.

        It sees the same files and processes; user, env, cwd and tty are ``base``'s.  Raises
        OpenError when the container has ended or the process does not start.
        """
        from tui.debug.engine.container import ProcessError
        from tui.debug.engine.handle import ProcessHandle
        from tui.debug.engine.processes import Role, Unavailable
        from tui.debug.engine.shell import Shell

        if self._build.lost:
            raise OpenError(self._build.lost)
        try:
            proc = await self.processes.exec_in(base, args or ["/bin/sh"], on_output, rows, cols)
        except Unavailable as exc:
            raise OpenError(str(exc)) from None
        except (ProcessError, BuildError) as exc:
            raise OpenError(f"the process did not start: {exc}") from None
        handle = ProcessHandle(proc, rows, cols)
        handle.set_drain(drain)
        base_pid = self.processes.pid_of(base) or "?"
        shell = Shell(handle, f"exec in #{base_pid}: {base.label}")
        self._build.shells.append(shell)
        kept = self._build.kept
        assert kept is not None  # base was registered: the build is kept open
        self.processes.add(shell, kept.ctx.containers, Role.EXEC)
        return shell

    def process_list(self) -> list[ProcessInfo]:
        """The shells opened so far, running or not, oldest first."""
        return self.processes.listing()

    async def end_process(self, pid: str) -> bool:
        """End shell ``pid``; False when it had already ended (or is unknown)."""
        return await self.processes.end(pid)
