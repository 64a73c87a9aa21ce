"""Retry of the failed RUN for a session: its :class:`~tui.debug.engine.retry.Retrier`, once."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from tui.buildkit.debuglog import LOG
from tui.buildkit.errors import BuildError
from tui.debug.engine.facade import NotStarted, OpenError
from tui.debug.engine.finished import explorer_of
from tui.debug.model.outcome import BuilderLost, Failed

if TYPE_CHECKING:
    from tui.debug.engine.container import OutputFn
    from tui.debug.engine.finished import BuildView
    from tui.debug.engine.handle import ProcessHandle
    from tui.debug.engine.retry import Retrier
    from tui.debug.model.failure import SourceSnippet

__all__ = ["Retrying"]


class Retrying:
    """Edited commands run again in the failed RUN of one build (a reload makes a new one)."""

    def __init__(self, build: BuildView) -> None:
        self._build = build
        self._retrier: Retrier | None = None

    async def retrier(self) -> Retrier:
        """The failed RUN, to retry edited commands in (raises OpenError saying why not)."""
        if self._retrier is not None:
            return self._retrier
        build = self._build
        explorer = explorer_of(build)
        if build.lost:
            raise OpenError(build.lost)
        from tui.debug.engine.retry import Retrier
        from tui.debug.model.invoke import InvokeError

        match build.outcome:
            case Failed(failure) | BuilderLost(failure):
                pass
            case _:
                raise OpenError("nothing to retry: the build did not fail")
        path = build.opts.dockerfile_dir / build.opts.dockerfile_name
        sources: tuple[SourceSnippet, ...] = ()
        solve = explorer.ctx.solve_failure
        if not failure.sources and solve is not None:
            # the error does not always carry its source (nor the vertex): the definition does
            from tui.debug.engine.explore import ExploreError

            with contextlib.suppress(ExploreError, BuildError):
                definition = await explorer.definition()
                vertex = failure.vertex or ""
                digests = [vertex] if vertex in definition else definition.find_exec(solve.op.exec)
                sources = tuple(s for d in digests if d
                                for s in definition.source_snippets(d))
                LOG.debug("retry: step %s, located by the definition at %s: %d source(s)",
                          failure.vertex, digests, len(sources))
        try:
            self._retrier = Retrier(explorer.ctx, failure, path, sources)
        except InvokeError as exc:
            raise OpenError(str(exc)) from None
        return self._retrier

    async def retry(self, cmd: str, on_output: OutputFn, rows: int = 24, cols: int = 80, *,
                    tty: bool = False) -> ProcessHandle:
        """Run ``cmd`` in a fresh container of the failed RUN's initial state.

        Raises OpenError (nothing to retry, NotStarted: the daemon's reason).
        """
        retrier = await self.retrier()
        from tui.debug.engine.container import ProcessError
        from tui.debug.model.invoke import InvokeError

        try:
            return await retrier.run(cmd, on_output, rows, cols, tty=tty)
        except InvokeError as exc:
            raise OpenError(str(exc)) from None
        except (ProcessError, BuildError) as exc:
            raise NotStarted(str(exc)) from None
