"""The headless front-end: the plain printer over a session's status, then a raw-terminal attach.

It drives the same :class:`~tui.debug.engine.session.DebugSession` as the app: the build, its
outcome, ``--step``, ``--diff``, the toolbox and the release; it only prints.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from tui.buildkit.debuglog import LOG
from tui.debug.engine.facade import OpenError
from tui.debug.engine.launch import BuilderAddress
from tui.debug.engine.options import BuildOptions
from tui.debug.headless.plain import PlainPrinter
from tui.debug.model.outcome import (
    BuilderLost,
    Cancelled,
    Failed,
    StateKind,
    Succeeded,
    Unreachable,
)

if TYPE_CHECKING:
    from tui.debug.engine.container import OutputFn, Process
    from tui.debug.engine.session import DebugSession
    from tui.debug.model.copyspec import CopyRequest
    from tui.debug.model.failure import FailureInfo, SuccessInfo
    from tui.debug.model.invoke import InvokeConfig

__all__ = ["CLEANUP_TIMEOUT", "HeadlessRequest", "release", "run_headless"]

#: How long a release interrupted by a signal may still take (the app's DONE_TIMEOUT alike).
CLEANUP_TIMEOUT = 20.0

#: Bytes of log output kept per step while debugging headless (only failure logs matter).
HEADLESS_LOG_CAP = 1 << 16


@dataclass(frozen=True)
class HeadlessRequest:
    """What to do besides printing the progress: ``--invoke``, ``--on``, ``--step``, ``--diff``...

    ``copy_out``: ``--copy-out`` requests, done after ``--diff`` and before the process.
    """

    quiet: bool = False
    invoke: str | None = None
    on_always: bool = False
    state: StateKind = StateKind.FINAL
    step: str | None = None
    diff: bool = False
    toolbox: str | None = None
    #: ``--retry CMD``: run CMD in the failed step's initial state (``--write-back``: patch).
    retry: str | None = None
    write_back: bool = False
    copy_out: tuple[CopyRequest, ...] = ()
    overwrite: bool = False
    #: ``--break`` selectors: pause before these steps and run the invoke command there.
    breaks: tuple[str, ...] = ()
    #: ``--iidfile`` / ``--metadata-file``: written after a successful build.
    iidfile: str | None = None
    metadata_file: str | None = None
    #: ``--progress=rawjson``: each status update as JSON instead of the plain progress.
    rawjson: bool = False

    @property
    def debugging(self) -> bool:
        """Whether the build is kept open after it finished (something is opened in it)."""
        return self.invoke is not None or self.step is not None or self.diff \
            or self.retry is not None or bool(self.copy_out) \
            or bool(self.breaks)


async def release(cleanup: Awaitable[None]) -> None:
    """Await ``cleanup`` to its end even if a signal cancels the caller meanwhile.

    The cancellation is raised again afterwards; the wait is bounded by CLEANUP_TIMEOUT.
    """
    task = asyncio.ensure_future(cleanup)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        if not task.done():
            LOG.debug("cancelled while releasing: the release goes on")
            finished, _ = await asyncio.wait({task}, timeout=CLEANUP_TIMEOUT)
            if not finished:
                task.cancel()
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: the cancellation is what the caller sees
        raise


async def run_headless(address: BuilderAddress, opts: BuildOptions, req: HeadlessRequest,
                       out: TextIO) -> int:
    """Build with plain progress on ``out``; then ``--diff`` and/or ``--invoke``; exit status."""
    printer = PlainPrinter(out) if not (req.quiet or req.rawjson) else None
    on_status = printer.feed if printer is not None else None
    if req.rawjson:
        from tui.debug.headless.rawjson import RawJSONWriter

        on_status = RawJSONWriter(out).feed
    invoke = None
    if req.debugging:
        from tui.debug.model.invoke import parse_invoke

        invoke = parse_invoke(req.invoke if req.invoke is not None else "/bin/sh")

    def connected(where: str) -> None:
        if printer is not None:
            out.write(f"#0 building with {where}\n\n")

    session = address.session(opts, invoke, toolbox=req.toolbox, keep=req.debugging,
                              log_cap=HEADLESS_LOG_CAP,
                              on_status=on_status,
                              on_connected=connected)
    ticker: asyncio.Task[None] | None = None
    session.set_breakpoints(req.breaks)
    try:
        session.start()
        # what the outcome is made of, loaded while the daemon builds (off the start-up path)
        preload = asyncio.ensure_future(asyncio.to_thread(importlib.import_module,
                                                          "tui.debug.engine.summary"))
        if printer is not None:
            ticker = asyncio.create_task(_tick(printer))
        if req.breaks:
            from tui.debug.headless.breaks import run_breakpoints

            await run_breakpoints(session, req.invoke or "/bin/sh", printer, out)
        outcome = await session.wait_finished()
        await preload
        _finish(printer, ticker)
        match outcome:
            case Unreachable(error):
                out.write(f"ERROR: {error}\n")
                return 1
            case Failed(failure) | BuilderLost(failure):
                print_failure(failure, out)
                status, failed = 1, True
            case Succeeded(success):
                if not _result_files(success, req, out):
                    return 1
                status, failed = 0, False
            case Cancelled():
                return 1
        if not req.debugging:
            return status
        return await _debug(session, req, failed, status, out)
    finally:
        _finish(printer, ticker)
        await release(session.done())


def _result_files(success: SuccessInfo, req: HeadlessRequest, out: TextIO) -> bool:
    """Quiet mode's image ID on stdout, then ``--iidfile``, ``--metadata-file`` (buildx's order).

    False (the error printed) when a file cannot be written.
    """
    from tui.debug.model.buildmeta import image_id, write_result_files

    exporter = dict(success.exporter)
    if req.quiet:
        sys.stdout.write(image_id(exporter) + "\n")
        sys.stdout.flush()
    try:
        write_result_files(exporter, req.iidfile, req.metadata_file)
    except OSError as exc:
        out.write(f"ERROR: {exc}\n")
        return False
    return True


def print_failure(failure: FailureInfo, out: TextIO) -> None:
    """Every source location the error points at, then ``ERROR: failed to solve: ...``."""
    from tui.debug.model.snippet import format_source

    for src in failure.sources:
        out.write(format_source(src.filename, src.data, list(src.ranges)))
    out.write(f"ERROR: {failure.message}\n")


async def _debug(session: DebugSession, req: HeadlessRequest, failed: bool, status: int,
                 out: TextIO) -> int:
    """After the build: ``--diff``, then the process on this terminal (``--invoke``/``--step``).

    The process runs in the failed step, in the state ``--step N`` produced, or in the
    result.
    """
    from tui.debug.headless.attach import run_attached

    if not session.has_states:
        if failed and not req.breaks:
            out.write("ERROR: cannot debug: the build failed before any step ran\n")
        return status
    if req.diff and failed:
        await _print_diff(session, out)
    if req.copy_out:
        from tui.debug.headless.copyout import copy_out

        if not await copy_out(session, req.copy_out, req.overwrite, out):
            return 1
    if req.retry is not None:
        if not failed:
            out.write("bxtui: nothing to retry: the build succeeded\n")
            return status
        from tui.debug.headless.retry import run_retry

        return await run_retry(session, req.retry, req.write_back, out)
    step = None
    if req.step is not None:
        try:
            step = session.resolve_step(req.step)
        except OpenError as exc:
            out.write(f"ERROR: {exc}\n")
            return 1
        if session.is_failed_step(step):
            step = None  # the failed step itself: its final (or initial) state
        elif reason := session.step_unavailable(step):
            out.write(f"ERROR: {reason}\n")
            return 1
    elif req.invoke is None or req.breaks or (not req.on_always and not failed):
        return status  # with --break, the invoke command ran at the breakpoints
    label = session.describe_target(req.state, step)

    async def start(cfg: InvokeConfig, on_output: OutputFn, rows: int, cols: int) -> Process:
        proc, _ = await session.start_process(req.state, rows, cols, on_output, step,
                                              tty=cfg.tty)
        return proc

    out.flush()
    what = req.invoke if req.invoke is not None else "/bin/sh"
    banner = f"bxtui: running {what!r} in {label}; exit it to finish\n"
    try:
        code = await run_attached(start, session.invoke, banner=banner)
    except OpenError as exc:
        out.write(f"ERROR: {exc}\n")
        return 1
    out.write(f"bxtui: debug process exited with status {code}\n")
    # 255: no exit status came; the connection to the builder may have broken
    lost = await session.wait_lost(1.0 if code == 255 else 0.0)
    if lost:
        out.write(f"ERROR: {lost}\n")
        return 1
    return status


async def _print_diff(session: DebugSession, out: TextIO) -> None:
    """The failed RUN's changes on stdout (``git diff --stat`` style plus paths)."""
    from tui.debug.engine.explore import ExploreError
    from tui.debug.model.fsmodel import format_stat

    try:
        source = session.diff_source()
    except OpenError:
        out.write("bxtui: no diff: only a failed RUN step has initial and final states\n")
        return
    try:
        diffs = await source.diffs()
    except ExploreError as exc:
        out.write(f"ERROR: cannot compute the diff: {exc}\n")
        return
    sys.stdout.write(format_stat(diffs))
    sys.stdout.flush()


async def _tick(printer: PlainPrinter) -> None:
    """Let the printer flush paced updates while no status message arrives."""
    while True:
        await asyncio.sleep(printer.tick)
        printer.refresh()


def _finish(printer: PlainPrinter | None, ticker: asyncio.Task[None] | None) -> None:
    if ticker is not None:
        ticker.cancel()
    if printer is not None:
        printer.finish()  # idempotent
