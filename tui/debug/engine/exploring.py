"""The finished build's states: which step a selector names, what the browser and diff show."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from tui.buildkit.errors import BuildError
from tui.debug.engine.facade import OpenError
from tui.debug.engine.finished import explorer_of
from tui.debug.model.outcome import BuilderLost, Failed

if TYPE_CHECKING:
    from tui.debug.engine.finished import BuildView
    from tui.debug.model.fsmodel import DiffSource, StateFiles
    from tui.debug.model.stepsel import StepRef

__all__ = ["Exploring"]


class Exploring:
    """Steps and states of the session's current build (``b``, ``d``, ``--step``)."""

    def __init__(self, build: BuildView) -> None:
        self._build = build

    async def prepare(self) -> None:
        """Fetch what any-step shells and the file browser need first.

        The build's definition and the toolbox image, so that the first key is quick.
        Never raises.
        """
        from tui.debug.engine.explore import ExploreError

        kept = self._build.kept
        if kept is None:
            return
        with contextlib.suppress(ExploreError, BuildError):
            await kept.explorer.definition()
            await kept.explorer.toolbox_id()

    def step_name(self, digest: str) -> str:
        """The name of step ``digest`` (its digest's start when it has none)."""
        v = self._build.graph.get(digest)
        return v.name if v is not None and v.name else digest[:19]

    def step_candidates(self) -> list[StepRef]:
        """Every named vertex, for ``--step`` selectors."""
        from tui.debug.model.stepsel import StepRef

        return [StepRef(v.digest, v.name, v.step) for v in self._build.graph if v.declared]

    def resolve_step(self, selector: str) -> str:
        """The digest ``selector`` names (raises OpenError saying why not)."""
        from tui.debug.model.stepsel import StepError, resolve_step

        try:
            return resolve_step(selector, self.step_candidates()).digest
        except StepError as exc:
            raise OpenError(str(exc)) from None

    def step_unavailable(self, digest: str) -> str:
        """Why no shell can open in ``digest``'s state ("" when it can)."""
        from tui.debug.model.graph import VertexState

        graph = self._build.graph
        v = graph.get(digest)
        if v is None:
            return "no such step in this build"
        if self.is_failed_step(digest):
            return ""  # the failed step: f/i open its states
        done = v.state in (VertexState.DONE, VertexState.CACHED) or \
            (v.state is VertexState.QUEUED and graph.used_later(digest))
        if not done:
            return f"{v.name or 'that step'} did not complete ({v.state.value}): " \
                "it has no state to open"
        return ""

    def is_failed_step(self, digest: str | None) -> bool:
        """Whether ``digest`` is the failed step (whose states f/i open)."""
        match self._build.outcome:
            case Failed(failure) | BuilderLost(failure):
                return digest is not None and digest == failure.vertex
        return False

    async def browse(self, digest: str | None = None) -> list[StateFiles]:
        """States for the file browser.

        ``digest``'s output first (when given and not the failed step), then the failed
        step's final/initial states (or a failed file operation's inputs), or the result.
        """
        from tui.debug.engine.explore import ExploreError

        explorer = explorer_of(self._build)
        out: list[StateFiles] = []
        try:
            if digest is not None and not self.is_failed_step(digest) \
                    and not self.step_unavailable(digest) \
                    and digest in await explorer.definition():
                # internal vertices (context transfers, exporting) have no state: skipped
                out.append(await explorer.step_state(digest, self.step_name(digest)))
            match self._build.outcome:
                case Failed(failure) | BuilderLost(failure):
                    step = failure.step_name or "the failed step"
                    out.extend(explorer.failed_exec_states(step))
                    out.extend(state for _, state in await explorer.file_op_inputs())
                case _:
                    result = explorer.result_state()
                    if result is not None:
                        out.append(result)
        except ExploreError as exc:
            raise OpenError(str(exc)) from None
        if not out:
            raise OpenError("this build has no state to browse")
        return out

    def diff_source(self) -> DiffSource:
        """The failed RUN's initial-vs-final differences (raises OpenError when none)."""
        kept = self._build.kept
        if kept is not None and kept.explorer.writable_mounts():
            return kept.explorer
        match self._build.outcome:
            case Failed(failure) | BuilderLost(failure) if failure.file_op:
                raise OpenError("the failed step is a file operation: it changed nothing "
                                "(b browses its inputs)")
        raise OpenError("only a failed RUN step has a diff")
