"""Files out of the finished build: ``--copy-out`` / ``c`` and the diff's ``o`` states."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tui.debug.engine.facade import OpenError
from tui.debug.engine.finished import explorer_of
from tui.debug.model.outcome import BuilderLost, Failed, StateKind

if TYPE_CHECKING:
    from tui.debug.engine.explore import HelperState
    from tui.debug.engine.exploring import Exploring
    from tui.debug.engine.finished import BuildView
    from tui.debug.model.copyspec import CopyReport

__all__ = ["FilesOut"]


class FilesOut:
    """The states of the session's current build that files are copied or opened from."""

    def __init__(self, build: BuildView, steps: Exploring) -> None:
        self._build = build
        self._steps = steps

    async def copy_out(self, path: str, dest: str, *, state: StateKind = StateKind.FINAL,
                       step: str | None = None, overwrite: bool = False) -> CopyReport:
        """Copy ``path`` of a state to the host path ``dest`` (modes and links kept).

        The state: ``step``'s output (a vertex digest), else the failed step's ``state``
        (final or initial), else the build result (final only).  Raises OpenError with one
        line: no such state, a missing path, an existing ``dest`` (unless ``overwrite``).
        """
        from tui.debug.engine.copyout import CopyError
        from tui.debug.engine.explore import ExploreError

        files = await self._source(state, step)
        try:
            return await files.copy_out(path, dest, overwrite)
        except (CopyError, ExploreError) as exc:
            raise OpenError(str(exc)) from None

    async def _source(self, state: StateKind, step: str | None) -> HelperState:
        from tui.debug.engine.explore import ExploreError

        explorer = explorer_of(self._build)
        if self._build.lost:
            raise OpenError(self._build.lost)
        if step is not None and self._steps.is_failed_step(step):
            step = None
        try:
            if step is not None:
                reason = self._steps.step_unavailable(step)
                if reason:
                    raise OpenError(reason)
                return await explorer.step_state(step, self._steps.step_name(step))
            match self._build.outcome:
                case Failed(failure) | BuilderLost(failure):
                    name = failure.step_name or "the failed step"
                    states = explorer.failed_exec_states(name)
                    if not states:
                        raise OpenError(f"{name} is not a RUN step: it has no {state} state "
                                        "(copy from a step's output instead)")
                    chosen = states[0] if state is StateKind.FINAL else states[1]
                    if not chosen.spec.result_id:
                        raise OpenError(f"the {state} state of {name} is not available")
                    return chosen
            if state is StateKind.INITIAL:
                raise OpenError("the build succeeded: only a failed step has an initial state")
            result = explorer.result_state()
            if result is None:
                raise OpenError("the build result has no filesystem to copy from")
            return result
        except ExploreError as exc:
            raise OpenError(str(exc)) from None

    def diff_state(self, mount: str, state: StateKind) -> HelperState:
        """The failed RUN's ``state`` of its writable mount ``mount`` (for ``o`` in the diff)."""
        from tui.debug.engine.explore import HelperState, StateSpec

        explorer = explorer_of(self._build)
        name = "the failed step"
        match self._build.outcome:
            case Failed(failure) | BuilderLost(failure):
                name = failure.step_name or name
        for label, initial, final in explorer.writable_mounts():
            if label == mount:
                rid = final if state is StateKind.FINAL else initial
                where = "" if mount == "/" else f" (mount {mount})"
                if not rid:
                    raise OpenError(f"the {state} state of {name}{where} is not available")
                return HelperState(explorer, StateSpec(f"{state} state of {name}{where}", rid))
        raise OpenError(f"no writable mount {mount} in the failed step")
