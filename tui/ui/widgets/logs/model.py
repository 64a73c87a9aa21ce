"""The logs pane's data, no Textual: a vertex's header/footer rows, its title, saved views.

The rows above and below the log lines (``decor_rows``) are ``(component name, text)`` pairs:
a "dropped" notice if the buffer lost its head to its cap, the vertex's status items
(plain-mode wording: ``transferring context: 1.08GB 14.6s done``) and warnings on top, its
error at the bottom. ``SavedViews`` remembers the line index and scroll position of the last
few vertices shown, so going back to one does not index its output again.
"""

from __future__ import annotations

from collections import OrderedDict

from rich.cells import cell_len

from tui.debug.model.graph import StatusItem, Vertex, VertexState
from tui.debug.model.logbuffer import LogBuffer
from tui.debug.model.textfmt import format_bytes
from tui.debug.model.timing import go_seconds
from tui.ui.widgets.logs.index import LogIndex

__all__ = [
    "STEP_SECONDS", "Decor", "Row", "SavedView", "SavedViews", "decor_rows", "format_status",
    "title",
]

#: A header or footer row: (component name, text).
Row = tuple[str, str]

#: Per-vertex index/scroll states kept.
REMEMBERED = 8
#: Seconds between two bounded steps of work (indexing, counting matches): one frame.
STEP_SECONDS = 1 / 60


def format_status(s: StatusItem) -> str:
    """A status item as buildx's plain mode prints it (``id current / total 1.2s done``)."""
    if s.total:
        size = f" {format_bytes(s.current)} / {format_bytes(s.total)}"
    elif s.current:
        size = f" {format_bytes(s.current)}"
    else:
        size = ""
    tm = ""
    end = s.completed_ns if s.completed_ns is not None else s.timestamp_ns
    if s.started_ns is not None and end is not None:
        diff = go_seconds(end - s.started_ns)
        if diff > 0.01:
            tm = f" {diff:.1f}s"
    if s.done:
        tm += " done"
    return f"{s.id}{size}{tm}"


def title(v: Vertex) -> str:
    """The pane's border title for ``v`` (``#3 RUN make · running``)."""
    step = f"#{v.step} " if v.step is not None else ""
    return f"{step}{v.name or v.digest[:19]} · {v.state.value}"


def decor_rows(v: Vertex) -> tuple[list[Row], list[Row]]:
    """The rows above (notice, statuses, warnings) and below (error) ``v``'s log lines."""
    header: list[Row] = []
    footer: list[Row] = []
    buf = v.logs
    if buf.truncated:
        header.append(
            (
                "notice",
                f"… {format_bytes(buf.dropped_bytes)} of earlier output dropped "
                f"(last {format_bytes(buf.cap)} kept)",
            )
        )
    for s in v.statuses.values():
        header.append(("status-done" if s.done else "status", format_status(s)))
    for w in v.warnings:
        level = "" if w.level <= 1 else f" (level {w.level})"
        header.append(("warning", f"WARN{level}: {w.short}"))
    if v.error:
        kind = "notice" if v.state is VertexState.CANCELED else "error"
        for k, line in enumerate(v.error.splitlines() or [v.error]):
            footer.append((kind, ("ERROR: " if k == 0 else "       ") + line))
    return header, footer


class Decor:
    """The header and footer rows of the vertex shown, and a count of their changes."""

    __slots__ = ("footer", "header", "updates")

    def __init__(self) -> None:
        self.header: list[Row] = []
        self.footer: list[Row] = []
        #: Bumped whenever the rows change (part of the rows' strip-cache keys).
        self.updates = 0

    def update(self, v: Vertex | None) -> int | None:
        """Rebuild the rows for ``v`` (none for ``None``); the previous header size if changed."""
        header, footer = decor_rows(v) if v is not None else ([], [])
        if header == self.header and footer == self.footer:
            return None
        old = len(self.header)
        self.header, self.footer = header, footer
        self.updates += 1
        return old

    @property
    def width(self) -> int:
        """Cells of the widest row."""
        return max((cell_len(t) for _, t in (*self.header, *self.footer)), default=0)


class SavedView:
    """What a vertex's view looked like when another vertex was shown."""

    __slots__ = ("follow", "index", "scroll_y")

    def __init__(self, index: LogIndex, follow: bool, scroll_y: float) -> None:
        self.index = index
        self.follow = follow
        self.scroll_y = scroll_y


class SavedViews:
    """The views of the last :data:`REMEMBERED` vertices shown, by digest (least recent out)."""

    __slots__ = ("_saved",)

    def __init__(self) -> None:
        self._saved: OrderedDict[str, SavedView] = OrderedDict()

    def remember(self, digest: str, view: SavedView) -> None:
        """Keep ``view`` as the newest, forgetting the oldest past the limit."""
        saved = self._saved
        saved[digest] = view
        saved.move_to_end(digest)
        while len(saved) > REMEMBERED:
            saved.popitem(last=False)

    def take(self, digest: str, logs: LogBuffer) -> SavedView | None:
        """Remove and return the view saved for ``digest`` if it indexes ``logs`` still."""
        view = self._saved.pop(digest, None)
        return view if view is not None and view.index.buf is logs else None
