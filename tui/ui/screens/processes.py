"""The open shells and their containers (buildx monitor's ``ps``); one can be ended (``p``)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from tui.debug.engine.facade import SessionFacade
from tui.debug.engine.processes import ProcessInfo
from tui.ui.widgets.shelldeck import ENDED_MARK, RUNNING_MARK

__all__ = ["ProcessScreen", "process_rows"]


def process_rows(infos: list[ProcessInfo]) -> list[tuple[str, Text]]:
    """(pid, line) per process: mark, id, command, where, container; who else ending it ends."""
    rows = []
    for info in infos:
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(f"{RUNNING_MARK if info.running else ENDED_MARK} #{info.pid} ",
                    style="bold" if info.running else "dim")
        line.append(f"{info.command or '?'}  ")
        line.append(f"{info.role.value} · {info.container[-8:]}  ", style="dim")
        if info.running:
            others = [o.pid for o in infos if o is not info and o.running
                      and o.container == info.container]
            if others:
                line.append(f"(ending it ends #{', #'.join(others)} too)  ", style="yellow")
        else:
            line.append(f"{info.status}  ", style="dim")
        line.append(info.label)
        rows.append((info.pid, line))
    return rows


class ProcessScreen(ModalScreen[None]):
    """A modal list of the session's shells; enter or k ends the highlighted one."""

    DEFAULT_CSS = """
    ProcessScreen {
        align: center middle;
    }
    ProcessScreen > #ps-dialog {
        width: 90%;
        height: auto;
        max-height: 80%;
        border: round $accent;
        border-title-style: bold;
        border-subtitle-color: $text-muted;
        background: $surface;
    }
    ProcessScreen OptionList {
        height: auto;
        max-height: 20;
        border: none;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,p", "close", "Close", show=False),
        Binding("k,delete", "end", "End", show=False),
    ]

    def __init__(self, session: SessionFacade) -> None:
        super().__init__()
        self.session = session
        self.options = OptionList(id="ps-list")

    def compose(self) -> ComposeResult:
        """The dialog and its list."""
        with Vertical(id="ps-dialog") as dialog:
            dialog.border_title = "Shells and containers"
            dialog.border_subtitle = "enter/k end the highlighted one · esc close"
            yield self.options

    def on_mount(self) -> None:
        """Fill the list."""
        self.reload()
        self.options.focus()

    def reload(self) -> None:
        """List the processes as they are now (the highlight stays where it was)."""
        where = self.options.highlighted
        self.options.clear_options()
        rows = process_rows(self.session.process_list())
        if not rows:
            self.options.add_option(Option("no shell opened yet (f, i, s open one; x execs)",
                                           disabled=True))
            return
        self.options.add_options(Option(line, id=pid) for pid, line in rows)
        self.options.highlighted = min(where or 0, len(rows) - 1)

    def action_close(self) -> None:
        """Back to the panes."""
        self.dismiss()

    def on_option_list_option_selected(self, _event: OptionList.OptionSelected) -> None:
        """Enter: end the highlighted process."""
        self.action_end()

    def action_end(self) -> None:
        """End the highlighted process (and, by BuildKit's rule, its container's others)."""
        index = self.options.highlighted
        if index is None:
            return
        pid = self.options.get_option_at_index(index).id
        if pid is not None:
            self._end(pid)

    @work(group="ps-end")
    async def _end(self, pid: str) -> None:
        if await self.session.end_process(pid):
            self.notify(f"Ended #{pid}", timeout=3)
        else:
            self.notify(f"#{pid} had already ended", timeout=3)
        self.reload()
