"""The footer rebuilds once per burst of binding changes, and still shows every change."""

from __future__ import annotations

import time

from textual.app import App, ComposeResult
from textual.binding import Binding

from tui.ui.widgets.footer import SETTLE_SECONDS, SettledFooter


class _Counting(SettledFooter):
    def __init__(self) -> None:
        super().__init__(show_command_palette=False)
        self.rebuilds = 0

    async def recompose(self) -> None:
        self.rebuilds += 1
        await super().recompose()


class _App(App[None]):
    BINDINGS = [Binding("a", "noop", "Alpha"), Binding("b", "other", "Beta")]

    def __init__(self) -> None:
        super().__init__()
        self.beta = True

    def compose(self) -> ComposeResult:
        yield _Counting()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return True if self.beta else None  # None: shown dimmed


async def _until(pilot, cond, limit: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + limit
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        await pilot.pause(0.01)


async def test_a_burst_of_changes_rebuilds_once() -> None:
    app = _App()
    async with app.run_test(size=(60, 5)) as pilot:
        footer = app.query_one(_Counting)
        await _until(pilot, lambda: footer.rebuilds >= 1)
        await pilot.pause(SETTLE_SECONDS * 3)
        settled = footer.rebuilds
        for _ in range(5):  # five changes in a row, as at start-up
            app.refresh_bindings()
        await _until(pilot, lambda: footer.rebuilds > settled)
        await pilot.pause(SETTLE_SECONDS * 3)
        assert footer.rebuilds == settled + 1
        # the last change is what is shown: both keys disabled
        app.beta = False
        app.refresh_bindings()
        await _until(pilot, lambda: footer.rebuilds == settled + 2)
        await _until(pilot, lambda: len(footer.query("FooterKey")) == 2
                     and all(k.has_class("-disabled") for k in footer.query("FooterKey")))
