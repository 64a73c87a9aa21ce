"""What a front-end (the app, headless) needs from a debug session: a Protocol, no internals."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from tui.debug.engine.container import OutputFn
    from tui.debug.engine.handle import ProcessHandle
    from tui.debug.engine.options import BuildOptions
    from tui.debug.engine.processes import ProcessInfo
    from tui.debug.engine.retry import Retrier
    from tui.debug.engine.shell import Shell
    from tui.debug.engine.watch import Watcher
    from tui.debug.model.fsmodel import DiffSource, StateFiles
    from tui.debug.model.graph import BuildGraph, Changes
    from tui.debug.model.outcome import Outcome, Phase, StateKind
    from tui.debug.model.pause import PausedStep, Resume
    from tui.debug.model.reload import DockerfileChanges, StepChange

__all__ = ["Drain", "NotStarted", "OpenError", "SessionFacade"]

#: Awaited after each output chunk of a shell (flow control for a slow screen).
Drain = Callable[[], Awaitable[None]]


class OpenError(Exception):
    """A shell could not be opened: nothing to open, or the process did not start (one line)."""


class NotStarted(OpenError):
    """The process was asked for but did not start (the daemon's reason, as it said it)."""


class SessionFacade(Protocol):
    """One build and, once it has finished, what can be opened in it."""

    @property
    def opts(self) -> BuildOptions:
        """The build's options."""
        ...

    @property
    def graph(self) -> BuildGraph:
        """The build's steps as the status stream told them."""
        ...

    @property
    def builder(self) -> str:
        """Where the build runs, in words (empty when unknown)."""
        ...

    @property
    def phase(self) -> Phase:
        """Where the build stands."""
        ...

    @property
    def outcome(self) -> Outcome | None:
        """How the build ended (None while it runs)."""
        ...

    @property
    def finished(self) -> bool:
        """Whether the build has finished one way or another."""
        ...

    @property
    def duration(self) -> float | None:
        """Wall time of the build (None before it started)."""
        ...

    @property
    def lost(self) -> str:
        """Why the builder is gone ("" while it is there)."""
        ...

    @property
    def exit_status(self) -> int:
        """The exit status bxtui ends with for this build."""
        ...

    def start(self) -> None:
        """Start the build."""

    async def wait_finished(self) -> Outcome:
        """Wait for the build to finish; its outcome."""
        ...

    def take_changes(self) -> Changes | None:
        """What changed in the graph since the last call."""
        ...

    def describe_target(self, state: StateKind, step: str | None = None) -> str:
        """Where a shell for ``state`` (or in ``step``'s state) opens, in words."""
        ...

    async def open_shell(self, state: StateKind, rows: int, cols: int, on_output: OutputFn,
                         drain: Drain | None = None, step: str | None = None) -> Shell:
        """A shell in the failed step's ``state``, the result, or ``step``'s state."""
        ...

    async def exec_shell(self, base: Shell, rows: int, cols: int, on_output: OutputFn,
                         drain: Drain | None = None, args: list[str] | None = None) -> Shell:
        """A second process in ``base``'s running container (OpenError when it has ended)."""
        ...

    def process_list(self) -> list[ProcessInfo]:
        """The shells opened so far, running or not."""
        ...

    async def end_process(self, pid: str) -> bool:
        """End shell ``pid``; False when it had already ended."""
        ...

    def use_default_shell(self) -> str | None:
        """Open ``/bin/sh`` from now on; the command given up (None: it was the default)."""
        ...

    @property
    def has_states(self) -> bool:
        """Whether the finished build is kept open (its states can be opened)."""
        ...

    async def prepare(self) -> None:
        """Fetch what the first shell or file listing needs (never raises)."""

    def is_failed_step(self, digest: str | None) -> bool:
        """Whether ``digest`` is the failed step."""
        ...

    def step_unavailable(self, digest: str) -> str:
        """Why ``digest``'s state cannot be opened ("" when it can)."""
        ...

    def resolve_step(self, selector: str) -> str:
        """The digest a ``--step`` selector names (OpenError says why not)."""
        ...

    async def browse(self, digest: str | None = None) -> list[StateFiles]:
        """The states the file browser shows."""
        ...

    def diff_source(self) -> DiffSource:
        """The failed RUN's differences (OpenError when there are none)."""
        ...

    async def retrier(self) -> Retrier:
        """The failed RUN, to retry edited commands in (OpenError says why not)."""
        ...

    async def retry(self, cmd: str, on_output: OutputFn, rows: int = 24, cols: int = 80, *,
                    tty: bool = False) -> ProcessHandle:
        """Run ``cmd`` in a fresh container of the failed RUN's initial state."""
        ...

    def summary(self) -> str:
        """The paragraph printed once the view has closed."""
        ...

    async def done(self) -> None:
        """Release everything (idempotent)."""

    def diff_state(self, mount: str, state: StateKind) -> StateFiles:
        """The failed RUN's ``state`` of its writable mount ``mount`` (OpenError if none)."""
    async def reload(self) -> None:
        """Release this build and start it again with the current Dockerfile and context."""

    def step_change(self, digest: str) -> StepChange | None:
        """After a reload: whether ``digest`` came from cache, ran again or is new."""
        ...

    def dockerfile_changes(self) -> DockerfileChanges | None:
        """After a reload: the Dockerfile's lines changed since the previous build."""
    # -- breakpoints
    @property
    def paused(self) -> PausedStep | None:
        """The step the build is paused at (None while it runs)."""
        ...

    @property
    def breakpoints(self) -> frozenset[str]:
        """The digests with a breakpoint."""
        ...

    def toggle_breakpoint(self, digest: str) -> bool:
        """Set or clear a breakpoint; whether it is set now (OpenError when not possible)."""
        ...

    def step_row(self, digest: str) -> str:
        """The graph row that shows a pause's step (the daemon may report it elsewhere)."""
        ...

    def breakpoint_applies(self, digest: str) -> bool:
        """Whether a breakpoint on ``digest`` can still stop this build (else: after ``r``)."""
        ...

    async def wait_paused(self) -> PausedStep | None:
        """Wait for the next pause (None: the build has finished)."""
        ...

    def resume(self, how: Resume) -> None:
        """Go on from the pause."""

    async def open_paused_shell(self, rows: int, cols: int, on_output: OutputFn,
                                drain: Drain | None = None) -> Shell:
        """A shell in the paused step's state."""
        ...

    def watcher(self, debounce: float | None = None) -> Watcher:
        """The Dockerfile's and the context's changes, debounced (``--watch``)."""
        ...
