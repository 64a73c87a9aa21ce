"""What the engine's feature objects (shells, files, retry, breakpoints) read of a session.

:class:`BuildView` is the one build a :class:`~tui.debug.engine.session.DebugSession` holds at
a time (a reload replaces it); :class:`Kept` is that build once finished and kept open.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from tui.buildkit.errors import error_message
from tui.debug.engine.facade import OpenError
from tui.debug.model.outcome import BuilderLost, Failed, Unreachable

if TYPE_CHECKING:
    from tui.debug.engine.explore import Explorer
    from tui.debug.engine.options import BuildOptions
    from tui.debug.engine.result import ResultContext
    from tui.debug.engine.shell import Shell
    from tui.debug.model.graph import BuildGraph
    from tui.debug.model.invoke import InvokeConfig
    from tui.debug.model.outcome import Outcome

__all__ = ["BuildView", "Kept", "explorer_of"]


class Kept:
    """A finished build kept open for debugging: its result context and what explores it."""

    __slots__ = ("ctx", "explorer")

    def __init__(self, ctx: ResultContext, explorer: Explorer) -> None:
        self.ctx = ctx
        self.explorer = explorer

    @property
    def lost(self) -> str:
        """Why the build is gone (the builder stopped or restarted); empty if not."""
        return error_message(self.ctx.lost) if self.ctx.lost is not None else ""

    async def wait_lost(self, limit: float) -> str:
        """Why the build is gone, waiting up to ``limit`` s for the daemon to say so."""
        lost = await self.ctx.wait_lost(limit) if limit > 0 else self.ctx.lost
        return error_message(lost) if lost is not None else ""


class BuildView(Protocol):
    """The session's current build, as its feature objects see it (read only)."""

    @property
    def opts(self) -> BuildOptions:
        """The build's options."""
        ...

    @property
    def keep(self) -> bool:
        """Whether the build is kept open once finished (False: a plain build)."""
        ...

    @property
    def graph(self) -> BuildGraph:
        """The build's steps as the status stream told them."""
        ...

    @property
    def outcome(self) -> Outcome | None:
        """How the build ended (None while it runs)."""
        ...

    @property
    def lost(self) -> str:
        """Why the kept-open build is gone ("" while it is there)."""
        ...

    @property
    def kept(self) -> Kept | None:
        """The finished build kept open (None: running, not kept, or could not run)."""
        ...

    @property
    def invoke(self) -> InvokeConfig:
        """The command shells run."""
        ...

    @property
    def toolbox(self) -> str | None:
        """The toolbox image given explicitly (None: the default, only where needed)."""
        ...

    @property
    def shells(self) -> list[Shell]:
        """The shells opened in this build (each is released with it)."""
        ...


def explorer_of(build: BuildView) -> Explorer:
    """The finished build's explorer (OpenError says why there is none)."""
    if build.kept is not None:
        return build.kept.explorer
    match build.outcome:
        case None:
            raise OpenError("the build is still running: wait for it to finish")
        case Failed(failure) | BuilderLost(failure):
            raise OpenError(failure.cannot_open or "nothing to open")
        case Unreachable(error):
            raise OpenError(error)
    raise OpenError("the build did not finish")
