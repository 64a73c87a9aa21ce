"""``--copy-out STATE:PATH=DEST``: copy files out of the finished build's states, headless."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from tui.debug.engine.facade import OpenError
from tui.debug.model.outcome import StateKind

if TYPE_CHECKING:
    from tui.debug.engine.session import DebugSession
    from tui.debug.model.copyspec import CopyRequest

__all__ = ["copy_out"]


async def copy_out(session: DebugSession, requests: Sequence[CopyRequest], overwrite: bool,
                   out: TextIO) -> bool:
    """Do each request in order; one line each; False (after an ERROR line) at the first failure."""
    for req in requests:
        shown = f"{req.state}:{req.path}={req.dest}"
        try:
            step = session.resolve_step(req.selector) if req.selector is not None else None
            state = StateKind.INITIAL if req.state == "initial" else StateKind.FINAL
            report = await session.copy_out(req.path, req.dest, state=state, step=step,
                                            overwrite=overwrite)
        except OpenError as exc:
            out.write(f"ERROR: --copy-out {shown}: {exc}\n")
            return False
        out.write(f"bxtui: copied {req.state}:{req.path} to {report.dest} "
                  f"({report.summary()})\n")
    return True
