"""Pilot tests of the whole app, fed by status streams recorded from the real daemon."""

from __future__ import annotations

import asyncio
import gc
import io
import json
from typing import Any

import pytest
from replay import ReplaySession
from textual.pilot import Pilot
from textual.worker import WorkerState

from tui.debug.engine.session import Phase
from tui.ui.app import BxtuiApp
from tui.ui.heap import HEAP
from tui.ui.run import run_app

#: The actions behind f, i, s, b and d, with their parameters.
OPENING_KEYS = [("shell", ("final",)), ("shell", ("initial",)), ("step_shell", ()),
                ("browse", ()), ("diff", ())]


async def _until(pilot: Pilot[Any], cond: Any, limit: float = 10) -> None:
    async with asyncio.timeout(limit):
        while not cond():
            await pilot.pause(0.02)


async def test_failure_view_comes_up_by_itself() -> None:
    session = ReplaySession("fail-run")
    app = BxtuiApp(session)
    async with app.run_test(size=(140, 40)) as pilot:
        await _until(pilot, lambda: session.phase is Phase.FAILED)
        await _until(pilot, lambda: app.graph_view.selected_digest == session.failure.vertex)
        assert app.failure_pane.view == "failure"
        assert app._shown == session.failure.vertex  # the failed step's logs are shown
        assert "FAILED" in str(app.status.render())
        # nothing can be opened here: f/i/s/b/d are shown disabled, the terminal says why
        assert all(app.check_action(*key) is None for key in OPENING_KEYS)
        assert "no daemon" in app.terminal.hint
        await pilot.press("f")
        await pilot.pause()
        assert app.shell is None and not app._notifications
        await pilot.press("q")
    assert app.return_value == 1


async def test_live_updates_before_the_end() -> None:
    session = ReplaySession("fail-run", split=8)
    app = BxtuiApp(session)
    async with app.run_test(size=(140, 40)) as pilot:
        await _until(pilot, lambda: len(session.graph) > 0 and session.take_changes() is None)
        assert session.phase is Phase.BUILDING
        assert "BUILDING" in str(app.status.render())
        assert app.failure_pane.view == "running"
        assert app.building and all(app.check_action(*key) is None for key in OPENING_KEYS)
        session.resume.set()
        await _until(pilot, lambda: session.phase is Phase.FAILED)
        await _until(pilot, lambda: app.failure_pane.view == "failure")
        await pilot.press("q")


async def test_cancelling_the_build_worker_runs_no_post_build_code() -> None:
    """The worker waiting for the build ends cancelled, not as if the build had finished."""
    session = ReplaySession("fail-run", split=8)
    app = BxtuiApp(session)
    async with app.run_test(size=(140, 40)) as pilot:
        await _until(pilot, lambda: len(session.graph) > 0)
        [worker] = [w for w in app.workers if w.group == "build"]
        worker.cancel()
        await _until(pilot, lambda: worker.is_finished)
        assert worker.state is WorkerState.CANCELLED
        assert not session.finished  # the build itself goes on until the view closes
        assert app.failure_pane.view == "running"
        await pilot.press("q")
    await session.done()


async def test_success_summary() -> None:
    session = ReplaySession("success")
    app = BxtuiApp(session)
    async with app.run_test(size=(140, 40)) as pilot:
        await _until(pilot, lambda: app.failure_pane.view == "success")
        assert "SUCCEEDED" in str(app.status.render())
        # i and d never apply to a success: hidden; f/s/b: nothing behind a replay
        assert app.check_action("shell", ("initial",)) is False
        assert app.check_action("diff", ()) is False
        assert app.check_action("shell", ("final",)) is None
        await pilot.press("q")
    assert app.return_value == 0


@pytest.mark.parametrize("size", [(80, 24), (100, 30)])
async def test_small_terminal_shows_one_pane_at_a_time(size: tuple[int, int]) -> None:
    session = ReplaySession("fail-run")
    app = BxtuiApp(session)
    async with app.run_test(size=size) as pilot:
        await _until(pilot, lambda: session.phase is Phase.FAILED)
        assert app.screen.has_class("-narrow")
        # the failure comes first on a small screen
        await _until(pilot, lambda: app._current_pane() is app.failure_pane)
        await pilot.pause()
        assert app.failure_pane.region.height > 5 and app.graph_view.region.height == 0
        await pilot.press("tab")
        await _until(pilot, lambda: app._current_pane() is app.terminal)
        await pilot.press("tab", "tab")
        await _until(pilot, lambda: app._current_pane() is app.log_view)
        await pilot.pause()
        assert app.log_view.region.height > 5 and app.graph_view.region.height == 0
        await pilot.press("q")


async def test_help_and_zoom() -> None:
    session = ReplaySession("fail-run")
    app = BxtuiApp(session)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("question_mark")
        await _until(pilot, lambda: type(app.screen).__name__ == "HelpScreen")
        await pilot.press("escape")
        await _until(pilot, lambda: type(app.screen).__name__ != "HelpScreen")
        await pilot.press("z")
        await pilot.pause()
        assert app.screen.has_class("-zoom")
        assert app.terminal.region.width == 140
        await pilot.press("ctrl+right_square_bracket")
        await pilot.press("z")
        await pilot.pause()
        assert not app.screen.has_class("-zoom")
        await pilot.press("q")


class CrashingSession(ReplaySession):
    """The build task fails with an unexpected error."""

    async def _run(self) -> None:
        raise RuntimeError("boom in the build task")


async def test_unexpected_error_reaches_done_and_is_printed_once() -> None:
    session = CrashingSession("fail-run")
    out = io.StringIO()
    code = await run_app(session, "examples/fail-run", out=out, headless=True)
    assert code == 1
    assert session.released
    text = out.getvalue()
    assert text.count("boom in the build task") == 1, text
    assert "Traceback" not in text
    assert text.startswith("ERROR: unexpected error in the app: RuntimeError")



async def test_frame_figures_per_phase_and_the_startup_heap(
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """BXTUI_FRAME_STATS: lags split by phase; the start-up heap is frozen only while it runs."""
    stats = tmp_path / "frames.json"
    monkeypatch.setenv("BXTUI_FRAME_STATS", str(stats))
    session = ReplaySession("success", split=3)
    app = BxtuiApp(session)
    async with app.run_test(size=(140, 40)) as pilot:
        await _until(pilot, lambda: HEAP.frozen)
        assert gc.get_freeze_count() > 0  # full collections skip what the first paint holds
        assert app.frame_stats is not None and app.frame_stats.phase() == "building"
        session.resume.set()
        await _until(pilot, lambda: app.failure_pane.view == "success")
        await _until(pilot, lambda: "shown" in app.frame_stats.marks)  # type: ignore[union-attr]
        assert app.frame_stats.phase() == "after"  # type: ignore[union-attr]
        await pilot.press("q")
    assert gc.get_freeze_count() == 0 and not HEAP.frozen
    figures = json.loads(stats.read_text())
    marks = figures["marks_s"]
    assert marks["mounted"] <= marks["painted"] <= marks["finished"] <= marks["shown"] \
        <= marks["closing"]
    phases = ("starting", "building", "after", "closing")
    assert all(figures[f"max_loop_lag_{phase}_ms"] >= 0 for phase in phases)
    assert all(figures[f"max_tick_cpu_{phase}_ms"] >= 0 for phase in phases)
    assert figures["max_tick_cpu_starting_ms"] > 0  # the first paint is work on the loop
    assert figures["max_loop_lag_ms"] == max(figures[f"max_loop_lag_{p}_ms"] for p in phases)
    assert figures["frames"] > 0 and figures["ticks"] > 0
    assert 0 <= figures["max_frame_cpu_ms"] <= figures["max_frame_ms"] + 1


class _PausedReplay(ReplaySession):
    """A replayed failure, shown as if the build were paused at its failed step."""

    def __init__(self, where: str) -> None:
        super().__init__("fail-run")
        from tui.debug.model.pause import PausedStep, Where

        self._pause = PausedStep("sha256:x", "[5/6] RUN test", Where(where), None)

    @property
    def paused(self) -> Any:
        return self._pause


@pytest.mark.parametrize(("where", "key", "other"), [("before", "initial", "final"),
                                                     ("after", "final", "initial")])
async def test_a_pause_offers_the_one_state_it_has(where: str, key: str, other: str) -> None:
    # before the step: its inputs (i); after it: its result (f); the other key is dimmed
    session = _PausedReplay(where)
    app = BxtuiApp(session)
    async with app.run_test(size=(140, 40)) as pilot:
        await _until(pilot, lambda: session.phase is Phase.FAILED)
        assert app.check_action("shell", (key,)) is True
        assert app.check_action("shell", (other,)) is None
        await pilot.press("q")
