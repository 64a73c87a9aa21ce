"""The failure report printed after the progress: source snippet and the error line."""

from __future__ import annotations

from typing import TextIO

from tui.buildkit.errors import BuildError, error_message
from tui.debug.model.snippet import format_source


def print_build_error(err: BuildError, out: TextIO) -> None:
    """Print every source location of ``err`` and then ``ERROR: failed to solve: ...``."""
    for src in err.sources:
        ranges = [(r.start_line, r.end_line or r.start_line) for r in src.ranges]
        out.write(format_source(src.filename, src.data, ranges))
    out.write(f"ERROR: {error_message(err)}\n")
