"""``--retry CMD`` (and ``--write-back``): the failed RUN again with CMD, headless."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, BinaryIO, TextIO

from tui.debug.engine.facade import OpenError

if TYPE_CHECKING:
    from tui.debug.engine.session import DebugSession

__all__ = ["run_retry"]


async def run_retry(session: DebugSession, cmd: str, write_back: bool, out: TextIO,
                    stdout: BinaryIO | None = None) -> int:
    """Run ``cmd`` in the failed step's initial state; its exit status (1 when it cannot).

    The process's output goes to stdout (its stderr to stderr); bxtui's own lines to
    ``out``.  With ``write_back``, a command that exits 0 is written into the Dockerfile:
    the diff is printed on stdout first.
    """
    from tui.debug.model.writeback import WriteBackError

    sink = stdout or sys.stdout.buffer
    err_sink = sys.stderr.buffer if stdout is None else stdout
    try:
        retrier = await session.retrier()
    except OpenError as exc:
        out.write(f"ERROR: cannot retry: {exc}\n")
        return 1
    for note in retrier.notes():
        out.write(f"bxtui: not reproduced in the retry: {note}\n")
    out.write(f"bxtui: retrying {retrier.failure.step_name or 'the failed step'} "
              f"in its initial state: {cmd}\n")
    out.flush()

    def on_output(fd: int, data: bytes) -> None:
        target = err_sink if fd == 2 else sink
        target.write(data)
        target.flush()

    try:
        proc = await session.retry(cmd, on_output)
    except OpenError as exc:
        out.write(f"ERROR: the retry did not start: {exc}\n")
        return 1
    code = await proc.wait()
    out.write(f"bxtui: retry exited with status {code}\n")
    if code == 255 and (lost := await session.wait_lost(1.0)):
        out.write(f"ERROR: {lost}\n")
        return code
    if not write_back:
        return code
    if code != 0:
        out.write("bxtui: not written back: the command failed\n")
        return code
    try:
        plan = await retrier.plan(cmd)
        if not plan.patch.changed:
            out.write("bxtui: not written back: the command is the Dockerfile's already\n")
            return 0
        sink.write(plan.patch.diff.encode("utf-8", "surrogateescape"))
        sink.flush()
        await retrier.write(plan)
    except WriteBackError as exc:
        out.write(f"ERROR: {exc}\n")
        return 1
    except OSError as exc:
        out.write(f"ERROR: cannot write {retrier.dockerfile}: {exc.strerror}\n")
        return 1
    out.write(f"bxtui: wrote the command back to {plan.path}\n")
    return 0
