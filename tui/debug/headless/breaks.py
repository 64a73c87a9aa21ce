"""``--break STEP``: at each pause, run the invoke command in the paused step's state, go on."""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

from tui.debug.engine.facade import OpenError
from tui.debug.model.pause import Resume

if TYPE_CHECKING:
    from tui.debug.engine.container import OutputFn, Process
    from tui.debug.engine.session import DebugSession
    from tui.debug.headless.plain import PlainPrinter
    from tui.debug.model.invoke import InvokeConfig

__all__ = ["run_breakpoints"]


async def run_breakpoints(session: DebugSession, what: str, printer: PlainPrinter | None,
                          out: TextIO) -> None:
    """Until the build finishes: at each pause run ``what`` on this terminal, then continue.

    A process that cannot start is reported (one ``ERROR:`` line) and the build goes on.
    """
    from tui.debug.headless.attach import run_attached

    async def start(cfg: InvokeConfig, on_output: OutputFn, rows: int, cols: int) -> Process:
        return await session.start_paused_process(rows, cols, on_output, tty=cfg.tty)

    while (pause := await session.wait_paused()) is not None:
        if printer is not None:
            printer.refresh()
        out.write(f"bxtui: {pause.headline()}\n")
        out.flush()
        banner = f"bxtui: running {what!r} in {pause.state_words()}; exit it to continue\n"
        try:
            code = await run_attached(start, session.invoke, banner=banner)
        except OpenError as exc:
            out.write(f"ERROR: {exc}\n")
        else:
            out.write(f"bxtui: debug process exited with status {code}; continuing\n")
        session.resume(Resume.CONTINUE)
