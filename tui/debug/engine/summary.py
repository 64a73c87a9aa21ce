"""Fill the app's FailureInfo / SuccessInfo from a finished build, and the closing paragraph."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from tui.buildkit.errors import error_message
from tui.debug.model.failure import FailureInfo, SourceSnippet, SuccessInfo
from tui.debug.model.outcome import (
    BuilderLost,
    Cancelled,
    Failed,
    Outcome,
    Succeeded,
    Unreachable,
)

if TYPE_CHECKING:
    from tui.buildkit.errors import BuildError
    from tui.debug.engine.result import ResultContext
    from tui.debug.model.graph import BuildGraph

NOTHING_RAN = "the build failed before any step ran: there is no step to open"


def failure_info(err: BuildError, graph: BuildGraph | None,
                 ctx: ResultContext | None) -> FailureInfo:
    """What the failing-step pane shows for ``err`` (``graph`` None: the steps are unknown)."""
    sources = tuple(
        SourceSnippet(
            filename=src.filename,
            data=src.data,
            ranges=tuple((r.start_line, r.end_line or r.start_line) for r in src.ranges),
            language=src.language or "Dockerfile",
        )
        for src in err.sources
    )
    failed = graph.failed if graph is not None else None
    vertex = err.vertex or (failed.digest if failed is not None else None)
    if graph is not None and vertex:  # ours, or another build's run of one of our steps
        lines = [(src.filename, r.start_line, r.end_line or r.start_line)
                 for src in err.sources for r in src.ranges]
        vertex = graph.own_step(vertex, lines) or vertex
    step = graph.get(vertex) if graph is not None and vertex else None
    solve = err.solve
    ex = solve.exec if solve is not None else None
    meta = ex.meta if ex is not None else None
    can_open, reason = False, NOTHING_RAN
    file_op = solve is not None and solve.op.HasField("file")
    if ctx is not None and file_op:
        can_open, reason = True, ""
    elif ctx is not None:
        from tui.debug.model.invoke import InvokeConfig, InvokeError

        try:
            ctx.container_config(InvokeConfig())
            can_open, reason = True, ""
        except InvokeError as exc:
            reason = str(exc)
    op = "a RUN command" if ex is not None else ""
    if ex is None and solve is not None and solve.op_kind:
        from tui.debug.engine.result import describe_op

        op = describe_op(solve)
    return FailureInfo(
        message=error_message(err),
        sources=sources,
        vertex=vertex,
        step_name=step.name if step is not None else "",
        exit_code=err.exit_code,
        op_description=op,
        command=tuple(meta.args) if meta is not None else (),
        env=tuple(meta.env) if meta is not None else (),
        user=meta.user if meta is not None else "",
        cwd=meta.cwd if meta is not None else "",
        can_open=can_open,
        cannot_open=reason,
        file_op=file_op,
        warnings=tuple(w.short for w in graph.warnings) if graph is not None else (),
    )


def success_info(
    ctx: ResultContext | None, exporter: dict[str, str], tags: Sequence[str],
    graph: BuildGraph | None, duration: float | None, pushed: Mapping[str, str] | None = None,
) -> SuccessInfo:
    """What the pane shows for a successful build (``graph`` None: no step figures)."""
    conf = ((ctx.image_config() if ctx is not None else None) or {}).get("config") or {}
    from tui.debug.model.buildmeta import image_id

    steps = [v for v in graph if v.declared and v.step is not None] if graph is not None else []
    cached = 0
    if steps:
        from tui.debug.model.graph import VertexState

        cached = sum(1 for v in steps if v.state is VertexState.CACHED)
    return SuccessInfo(
        image_id=image_id(exporter),
        tags=tuple(tags),
        duration=duration,
        cached_steps=cached,
        total_steps=len(steps),
        user=str(conf.get("User") or ""),
        workdir=str(conf.get("WorkingDir") or ""),
        entrypoint=tuple(conf.get("Entrypoint") or ()),
        cmd=tuple(conf.get("Cmd") or ()),
        env=tuple(conf.get("Env") or ()),
        exporter=tuple(sorted(exporter.items())),
        pushed=tuple(f"{n}@{d}" if d else n for n, d in (pushed or {}).items()),
        warnings=tuple(w.short for w in graph.warnings) if graph is not None else (),
    )


def closing_summary(outcome: Outcome | None, duration: float | None) -> str:
    """The one paragraph printed after the app closes."""
    took = f" in {duration:.1f}s" if duration is not None else ""
    match outcome:
        case Failed(failure) | BuilderLost(failure):
            where = f" at {failure.step_name}" if failure.step_name else ""
            code = f" (exit code {failure.exit_code})" if failure.exit_code is not None else ""
            return f"bxtui: build failed{where}{took}{code}\nERROR: {failure.message}\n"
        case Succeeded(success):
            image = f": image {success.image_id}" if success.image_id else ""
            tags = f", tagged {', '.join(success.tags)}" if success.tags else ""
            cached = f" ({success.cached_steps}/{success.total_steps} steps cached)"
            pushed = f", pushed to {', '.join(success.pushed)}" if success.pushed else ""
            return f"bxtui: build succeeded{took}{image}{tags}{pushed}{cached}\n"
        case Unreachable(error):
            return f"ERROR: {error}\n"
        case Cancelled() | None:
            return "bxtui: the build was stopped before it finished\n"
