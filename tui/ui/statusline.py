"""The one-line status at the top of the screen."""

from __future__ import annotations

from rich.markup import escape
from textual.widgets import Static

from tui.debug.engine.facade import SessionFacade
from tui.debug.model.graph import VertexState
from tui.debug.model.state import Phase

_PHASE_STYLE = {
    Phase.CONNECTING: ("CONNECTING", "$warning"),
    Phase.BUILDING: ("BUILDING", "$accent"),
    Phase.FAILED: ("FAILED", "$error"),
    Phase.SUCCEEDED: ("SUCCEEDED", "$success"),
    Phase.UNREACHABLE: ("UNREACHABLE", "$error"),
    Phase.STOPPED: ("STOPPED", "$warning"),
}


def status_line(session: SessionFacade, title: str,
                tabs: list[tuple[str, bool]] | None = None) -> str:
    """Markup for the status line: phase, what is built, step counts, time; tabs if narrow."""
    word, colour = _PHASE_STYLE[session.phase]
    if session.lost:
        word, colour = "BUILDER GONE", "$error"
    elif session.paused is not None:
        word, colour = "PAUSED", "$warning"
    graph = session.graph
    steps = len(graph.steps)
    done = sum(graph.count(s) for s in (VertexState.DONE, VertexState.CACHED))
    cached = graph.count(VertexState.CACHED)
    took = session.duration
    parts = [f"[b reverse {colour}] {word} [/]", f"[b]{escape(title)}[/b]"]
    if steps and not tabs:
        parts.append(f"{done}/{len(graph)} done, {cached} cached")
    if took is not None:
        parts.append(f"{took:.1f}s")
    if session.builder and not tabs:
        parts.append(f"[dim]{escape(session.builder)}[/dim]")
    line = "  ".join(parts)
    if tabs:
        names = "  ".join(f"[reverse]{escape(n)}[/]" if cur else escape(n) for n, cur in tabs)
        line = f"{line}   [dim]tab:[/dim] {names}"
    return line


class StatusLine(Static):
    """The status line widget: repaints only when its text changes."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._text = ""

    def show(self, text: str, force: bool = False) -> None:
        """Show ``text`` (markup) unless it is already shown; one line: no relayout."""
        if force or text != self._text:
            self._text = text
            self.update(text, layout=False)
