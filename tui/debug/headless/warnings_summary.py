"""buildx's end-of-build warning summary (``commands/build.go`` ``printWarnings``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from tui.buildkit.proto import control_pb2
from tui.debug.model.snippet import format_source

if TYPE_CHECKING:
    from tui.debug.model.graph import BuildWarning

__all__ = ["Warn", "format_warnings", "render_warnings"]

_YELLOW = "\x1b[33m"
_RESET = "\x1b[0m"


class Warn:
    """One warning as the summary prints it (from a status message or the graph)."""

    __slots__ = ("detail", "filename", "has_source", "ranges", "short", "source", "url")

    def __init__(self, w: control_pb2.VertexWarning | BuildWarning) -> None:
        if isinstance(w, control_pb2.VertexWarning):
            self.short = w.short
            self.detail = list(w.detail)
            self.url = w.url
            self.has_source = w.HasField("info")
            self.filename = w.info.filename
            self.source = w.info.data
            self.ranges = [(r.start.line, r.end.line) for r in w.ranges]
            return
        self.short = w.short.encode()
        self.detail = [d.encode() for d in w.detail]
        self.url = w.url
        self.has_source = w.has_source
        self.filename = w.filename
        self.source = w.source
        self.ranges = w.line_ranges


def format_warnings(
    warnings: Sequence[control_pb2.VertexWarning | BuildWarning],
    *,
    debug: bool = False,
    color: bool = True,
) -> str:
    """The end-of-build warning summary of buildx (``printWarnings``), ``""`` if none.

    Takes ``VertexWarning`` messages or ``BuildGraph.warnings``. buildx 0.13 colours the
    heading yellow even when stderr is not a terminal; ``debug`` is ``--debug``'s form.
    """
    return render_warnings([Warn(w) for w in warnings], debug=debug, color=color)


def render_warnings(ws: list[Warn], *, debug: bool, color: bool) -> str:
    """The summary of warnings already gathered as :class:`Warn` (the plain printer's)."""
    if not ws:
        return ""
    head = "1 warning found" if len(ws) == 1 else f"{len(ws)} warnings found"
    if not debug:
        head += " (use --debug to expand)"
    head += ":\n"
    out = ["\n ", f"{_YELLOW}{head}{_RESET}" if color else head]
    for w in ws:
        out.append(f" - {_text(w.short)}\n")
        if not debug:
            continue
        out.extend(f"{_text(d)}\n" for d in w.detail)
        if w.url:
            out.append(f"More info: {w.url}\n")
        if w.has_source and w.ranges:
            out.append(format_source(w.filename, w.source, w.ranges))
        out.append("\n")
    return "".join(out)


def _text(b: bytes) -> str:
    return b.decode("utf-8", "replace")
