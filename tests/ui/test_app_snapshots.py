"""Snapshot tests of the app's main screens, fed by the recorded status streams (no daemon).

Each test renders the app at a fixed size, waits for a state (failure view, success summary,
the narrow layout, the help screen), then compares ``app.export_screenshot()`` (SVG) with the
stored ``tests/ui/snapshots/NAME.svg``. After a deliberate change to the look, rewrite them with::

    BXTUI_UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/ui/test_app_snapshots.py

and look at the new files (e.g. ``rsvg-convert -o /tmp/x.png tests/ui/snapshots/NAME.svg``).
On a mismatch the new rendering is written as ``NAME.actual.svg`` in a temporary folder,
named in the failure message.
"""

from __future__ import annotations

import asyncio
import difflib
import html
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from replay import ReplaySession
from textual.pilot import Pilot

from tui.debug.engine.session import Phase
from tui.ui.app import BxtuiApp

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
UPDATE = os.environ.get("BXTUI_UPDATE_SNAPSHOTS", "") not in ("", "0")
#: Textual's SVG names its CSS classes and clip paths after a hash of the content; the hash
#: changes with any change, so it is left out of the comparison (the content is compared).
_UNIQUE_ID = re.compile(r"terminal-\d+")


@pytest.fixture(autouse=True)
def _plain_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment must not change the look: no NO_COLOR, no screenshot signal."""
    for name in ("NO_COLOR", "BXTUI_SCREENSHOT_DIR", "BXTUI_FRAME_STATS"):
        monkeypatch.delenv(name, raising=False)


def normalise(svg: str) -> str:
    """The SVG with its content-hash ids replaced by a fixed one."""
    return _UNIQUE_ID.sub("terminal", svg)


async def _until(pilot: Pilot[Any], cond: Callable[[], bool], limit: float = 30) -> None:
    async with asyncio.timeout(limit):
        while not cond():
            await pilot.pause(0.02)


def _idle(app: BxtuiApp) -> bool:
    """Nothing left that changes the screen by itself: no running step, no log indexing."""
    index = app.log_view.index
    return (
        not app.session.graph.running
        and (index is None or not index.pending)
        and not app._notifications
    )


async def _settled(pilot: Pilot[Any], app: BxtuiApp, limit: float = 30) -> str:
    """The screen once the app is idle and two renderings in a row are the same."""
    await _until(pilot, lambda: _idle(app), limit)
    last = ""
    async with asyncio.timeout(limit):
        while True:
            await pilot.pause()
            await pilot.wait_for_scheduled_animations()
            svg = app.export_screenshot()
            if svg == last:
                return svg
            last = svg


_TEXT = re.compile(r'<text class="[^"]*" x="([\d.]+)" y="([\d.]+)" textLength="[\d.]+"[^>]*>'
                   r"(.*?)</text>")
_CELL_WIDTH = 12.2  # Rich's SVG: the width of one terminal cell


def screen_text(svg: str) -> list[str]:
    """The characters of an exported screen, one string per row (for readable diffs)."""
    rows: dict[float, dict[int, str]] = {}
    for m in _TEXT.finditer(svg):
        col = round(float(m[1]) / _CELL_WIDTH)
        text = html.unescape(m[3]).replace("\xa0", " ")
        cells = rows.setdefault(float(m[2]), {})
        for i, ch in enumerate(text):
            cells[col + i] = ch
    return ["".join(cells.get(c, " ") for c in range(max(cells, default=-1) + 1)).rstrip()
            for _, cells in sorted(rows.items())]


def check_snapshot(name: str, svg: str, tmp_path: Path) -> None:
    """Compare ``svg`` with ``tests/ui/snapshots/NAME.svg`` (or write it when updating)."""
    stored = SNAPSHOTS / f"{name}.svg"
    if UPDATE:
        SNAPSHOTS.mkdir(exist_ok=True)
        stored.write_text(svg, encoding="utf-8")
        return
    how = ("if the change is intended, update the stored snapshots with\n"
           "  BXTUI_UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/ui/test_app_snapshots.py\n"
           "and look at them (e.g. rsvg-convert -o /tmp/NAME.png tests/ui/snapshots/NAME.svg)")
    actual = tmp_path / f"{name}.actual.svg"
    if not stored.exists():
        actual.write_text(svg, encoding="utf-8")
        pytest.fail(f"no stored snapshot {stored}; the rendering is in {actual}\n{how}",
                    pytrace=False)
    want = stored.read_text(encoding="utf-8")
    if normalise(want) == normalise(svg):
        return
    actual.write_text(svg, encoding="utf-8")
    diff = list(difflib.unified_diff(screen_text(want), screen_text(svg), "stored", "actual",
                                     n=0, lineterm=""))
    if not diff:  # the same characters: colours or styles changed
        diff = ["(the same text; colours or styles differ)", *difflib.unified_diff(
            normalise(want).splitlines(), normalise(svg).splitlines(), "stored", "actual",
            n=0, lineterm="")]
    shown = "\n".join(diff[:40]) + ("\n..." if len(diff) > 40 else "")
    pytest.fail(f"the {name!r} screen differs from {stored}\n"
                f"new rendering: {actual}\n{how}\nscreen rows that differ:\n{shown}",
                pytrace=False)


async def test_failure_view(tmp_path: Path) -> None:
    session = ReplaySession("fail-run")
    app = BxtuiApp(session, title="examples/fail-run")
    async with app.run_test(size=(140, 40)) as pilot:
        await _until(pilot, lambda: session.phase is Phase.FAILED
                     and app.failure_pane.view == "failure"
                     and app.graph_view.selected_digest == session.failure.vertex)
        check_snapshot("failure-view", await _settled(pilot, app), tmp_path)
        await pilot.press("q")


async def test_help_over_the_failure_view(tmp_path: Path) -> None:
    session = ReplaySession("fail-run")
    app = BxtuiApp(session, title="examples/fail-run")
    async with app.run_test(size=(140, 40)) as pilot:
        await _until(pilot, lambda: app.failure_pane.view == "failure")
        await pilot.press("question_mark")
        await _until(pilot, lambda: type(app.screen).__name__ == "HelpScreen")
        check_snapshot("help", await _settled(pilot, app), tmp_path)
        await pilot.press("escape")
        await _until(pilot, lambda: type(app.screen).__name__ != "HelpScreen")
        await pilot.press("q")


async def test_success_summary(tmp_path: Path) -> None:
    session = ReplaySession("success")
    app = BxtuiApp(session, title="examples/success")
    async with app.run_test(size=(140, 40)) as pilot:
        await _until(pilot, lambda: session.phase is Phase.SUCCEEDED
                     and app.failure_pane.view == "success")
        # which step's logs show after a success depends on the frames that saw it run:
        # pick the last one (end, enter), as a user would
        await pilot.press("end", "enter")
        await _until(pilot, lambda: app.log_view.vertex is not None
                     and "exporting to image" in app.log_view.vertex.name)
        check_snapshot("success-summary", await _settled(pilot, app), tmp_path)
        await pilot.press("q")


async def test_narrow_terminal(tmp_path: Path) -> None:
    session = ReplaySession("fail-run")
    app = BxtuiApp(session, title="examples/fail-run")
    async with app.run_test(size=(80, 24)) as pilot:
        await _until(pilot, lambda: session.phase is Phase.FAILED
                     and app.failure_pane.view == "failure"
                     and app.screen.has_class("-narrow"))
        check_snapshot("narrow-80x24", await _settled(pilot, app), tmp_path)
        # tab brings the other panes, one at a time: on to the logs
        for _ in range(len(app._panes())):
            if app._current_pane() is app.log_view:
                break
            before = app._current_pane()
            await pilot.press("tab")
            await _until(pilot, lambda b=before: app._current_pane() is not b)
        assert app._current_pane() is app.log_view
        check_snapshot("narrow-80x24-logs", await _settled(pilot, app), tmp_path)
        await pilot.press("q")
