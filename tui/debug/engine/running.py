"""One build run to its outcome: a plain build, or one kept open for debugging; then pushed."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from tui.buildkit.errors import BuildError, connection_lost
from tui.debug.engine.finished import Kept
from tui.debug.engine.options import DOCKERFILE_FRONTEND
from tui.debug.model.outcome import BuilderLost, Failed, Outcome, Succeeded

if TYPE_CHECKING:
    from tui.buildkit.client import BuildkitClient
    from tui.buildkit.proto import control_pb2
    from tui.debug.engine.build import StatusCallback
    from tui.debug.engine.options import BuildOptions
    from tui.debug.engine.result import ResultContext
    from tui.debug.engine.stepping import Stepper
    from tui.debug.model.graph import BuildGraph
    from tui.debug.model.llbdef import LLBDefinition

__all__ = ["BuildRun", "Ran"]



@dataclasses.dataclass(frozen=True)
class Ran:
    """How a run ended: its outcome, when (monotonic), what is kept open, the pushed digests."""

    outcome: Outcome
    ended: float
    pushed: dict[str, str]
    kept: Kept | None = None


class BuildRun:
    """One build of ``opts`` on ``client``, its request sent at ``started`` (monotonic).

    ``pushed``: the digests pushed so far (a run that pushes nothing keeps them).
    """

    def __init__(self, client: BuildkitClient, opts: BuildOptions, started: float,
                 pushed: dict[str, str]) -> None:
        self._client = client
        self._opts = opts
        self._started = started
        self._pushed = pushed

    async def plain(self, on_status: StatusCallback | None) -> Ran:
        """A plain build: the status goes to ``on_status`` only, nothing is kept open."""
        from tui.debug.engine.build import run_dockerfile_build

        try:
            resp = await run_dockerfile_build(self._client, self._opts, on_status)
        except BuildError as err:
            return self._ran(self._failed(err, None, None), time.monotonic())
        pushed = await self._push(on_status)
        ended = time.monotonic()
        if pushed is not None:
            return self._ran(self._failed(pushed, None, None), ended)
        return self._ran(self._succeeded(None, resp, None, ended), ended)

    async def kept(self, graph: BuildGraph, on_status: StatusCallback,
                   on_definition: Callable[[LLBDefinition], None], stepper: Stepper | None,
                   toolbox: str | None) -> Ran:
        """A build kept open for debugging (its result context; ``toolbox``: None, default).

        ``graph`` is the one ``on_status`` feeds; ``stepper`` walks the build step by step.
        """
        from tui.debug.engine.result import new_result_context

        client, opts = self._client, self._opts
        ctx, resp, err = await new_result_context(
            client, opts, on_status, on_definition,
            stepper.run if stepper is not None else None)
        if err is None:
            err = await self._push(on_status)
        ended = time.monotonic()
        kept = None
        if ctx is not None:
            from tui.debug.engine.explore import Explorer
            from tui.debug.engine.helper import DEFAULT_TOOLBOX

            attrs = opts.frontend_opts(engine=client.endpoint.kind == "docker")
            kept = Kept(ctx, Explorer(ctx, DOCKERFILE_FRONTEND, attrs, opts.local_dirs(),
                                      toolbox or DEFAULT_TOOLBOX))
        if err is not None:
            return self._ran(self._failed(err, ctx, graph), ended, kept)
        return self._ran(self._succeeded(ctx, resp, graph, ended), ended, kept)

    def _ran(self, outcome: Outcome, ended: float, kept: Kept | None = None) -> Ran:
        return Ran(outcome, ended, self._pushed, kept)

    async def _push(self, on_status: StatusCallback | None) -> BuildError | None:
        """Push the built image when asked (after a successful solve); the push's error."""
        if not self._opts.pushes or self._client.endpoint.kind != "docker":
            return None
        from tui.debug.engine.push import push_images

        try:
            self._pushed = await push_images(self._client.endpoint, self._opts.tags,
                                             os.environ, on_status)
        except BuildError as err:
            return err
        return None

    @staticmethod
    def _failed(err: BuildError, ctx: ResultContext | None, graph: BuildGraph | None
                ) -> Outcome:
        from tui.debug.engine.summary import failure_info

        info = failure_info(err, graph, ctx)
        return BuilderLost(info) if connection_lost(err) else Failed(info)

    def _succeeded(self, ctx: ResultContext | None, resp: control_pb2.SolveResponse | None,
                   graph: BuildGraph | None, ended: float) -> Outcome:
        from tui.debug.engine.summary import success_info

        exporter = dict(resp.ExporterResponse) if resp is not None else {}
        return Succeeded(success_info(ctx, exporter, self._opts.tags, graph,
                                      ended - self._started, self._pushed))
