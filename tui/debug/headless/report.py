"""The failure report printed after the progress: source snippet and the error line."""

from __future__ import annotations

from typing import TextIO

from tui.buildkit.errors import BuildError, connection_lost
from tui.debug.model.snippet import format_source


def error_message(err: BuildError) -> str:
    """The one-line error as buildx words it (a lost connection said plainly)."""
    msg = err.message.strip()
    if connection_lost(err):
        return f"lost the connection to the builder (did the daemon stop or restart?): {msg}"
    return msg if msg.startswith("failed to solve") else f"failed to solve: {msg}"


def print_build_error(err: BuildError, out: TextIO) -> None:
    """Print every source location of ``err`` and then ``ERROR: failed to solve: ...``."""
    for src in err.sources:
        ranges = [(r.start_line, r.end_line or r.start_line) for r in src.ranges]
        out.write(format_source(src.filename, src.data, ranges))
    out.write(f"ERROR: {error_message(err)}\n")
