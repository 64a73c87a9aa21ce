"""Cost of the logs pane (LogIndex + LogView) with 800,000 log lines against 80.

Usage: .venv/bin/python bench/bench_ui_logs.py [--lines N] [--small N] [--steps N]

For each size, one vertex whose LogBuffer holds N lines of ~50 bytes (every 7th on stderr,
some with ANSI colours, a unique ``NEEDLE`` 10 lines before the end), shown in a headless
app (120x40):

* index: ``LogIndex.update(None)`` over the whole buffer (pure), the index arrays' size,
  and the widget's own incremental catch-up (wall time, number of frames, slowest step);
* scroll: ``up`` (line) and ``pagedown`` steps, each followed by rendering every visible
  row as the compositor does (``render_line``), p50/max;
* search: ``find`` of the needle from line 0 (smart case: lower-case pattern = folded,
  upper-case = exact), and the widget's ``/needle<enter>`` path;
* count: one frame of the match counter (bounded to 4 MB of text).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from textual.app import App, ComposeResult

from tui.debug.model.graph import Vertex
from tui.debug.model.logbuffer import STDERR, STDOUT
from tui.ui.widgets.logs.index import LogIndex
from tui.ui.widgets.logs.pane import LogView

SIZE = (120, 40)


def make_vertex(n: int) -> Vertex:
    v = Vertex("sha256:" + "ab" * 32, 0, 1 << 40)
    v.name = "RUN ./build.sh"
    buf = v.logs
    needle = n - 10
    for k in range(n):
        if k == needle:
            line = b"step %07d: found the NEEDLE we are looking for ....\n" % k
        elif k % 11 == 0:
            line = b"\x1b[32mstep %07d\x1b[0m: compiling module_%05d.c ...... ok\n" % (k, k % 99991)
        else:
            line = b"step %07d: compiling module_%05d.c ........... ok\n" % (k, k % 99991)
        buf.add(STDERR if k % 7 == 0 else STDOUT, k, line)
    return v


class BenchApp(App[None]):
    def compose(self) -> ComposeResult:
        yield LogView(id="logs")


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def render_view(lv: LogView) -> None:
    for y in range(lv.scrollable_content_region.height):
        lv.render_line(y)


def pct(xs: list[float]) -> tuple[float, float]:
    return statistics.median(xs) * 1e3, max(xs) * 1e3


async def measure(n: int, steps: int) -> dict[str, str]:
    v = make_vertex(n)
    mb = v.logs.size / 1e6
    pure = LogIndex(v.logs)
    t_index = timed(lambda: pure.update(None))
    res: dict[str, str] = {
        "lines": f"{n:,}",
        "log size": f"{mb:.1f} MB",
        "index (pure, all at once)": f"{t_index * 1e3:.1f} ms",
        "index memory": f"{pure.nbytes / 1e6:.2f} MB ({pure.nbytes / max(n, 1):.1f} B/line)",
        "find NEEDLE (exact, near end)": f"{timed(lambda: pure.find('NEEDLE', 0)) * 1e3:.1f} ms",
        "find needle (folded, near end)": f"{timed(lambda: pure.find('needle', 0)) * 1e3:.1f} ms",
        "find back 'step 0000001:' from end": (
            f"{timed(lambda: pure.find('step 0000001:', n - 1, backwards=True)) * 1e3:.1f} ms"
        ),
    }
    assert pure.find("needle", 0) == n - 10
    app = BenchApp()
    async with app.run_test(size=SIZE) as pilot:
        lv = app.query_one(LogView)
        lv.focus()
        await pilot.pause()
        steps_t: list[float] = []
        orig = lv._index_step

        def spy() -> None:
            steps_t.append(timed(orig))

        lv._index_step = spy  # type: ignore[method-assign]
        t0 = time.perf_counter()
        lv.show_vertex(v)
        while lv.index is None or lv.index.pending:
            await pilot.pause(0.001)
        await pilot.pause()
        wall = time.perf_counter() - t0
        res["index in widget (wall, frames, max step)"] = (
            f"{wall * 1e3:.0f} ms, {len(steps_t)}, {max(steps_t) * 1e3:.1f} ms"
        )
        render_view(lv)

        def line_up() -> None:
            lv.action_line(-1)
            render_view(lv)

        def page_down() -> None:
            lv.action_page(1)
            render_view(lv)

        ups = [timed(line_up) for _ in range(steps)]
        await pilot.press("home")
        pages = [timed(page_down) for _ in range(steps)]
        res["scroll line up + render p50/max"] = "{:.2f} / {:.2f} ms".format(*pct(ups))
        res["page down + render p50/max"] = "{:.2f} / {:.2f} ms".format(*pct(pages))
        await pilot.press("home")
        t_search = timed(lambda: lv._finder.run("needle"))
        assert lv.current_match == n - 10, lv.current_match
        res["widget search /needle (from top)"] = f"{t_search * 1e3:.1f} ms"
        finder = lv._finder
        finder._count_timer = None
        finder.search.restart_count(lv.index)  # from the first line, not scheduled
        res["match count: one frame (<= 4 MB)"] = f"{timed(finder.count_step) * 1e3:.1f} ms"
        await pilot.pause()
    return res


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=800_000)
    ap.add_argument("--small", type=int, default=80)
    ap.add_argument("--steps", type=int, default=200)
    args = ap.parse_args()
    small = await measure(args.small, args.steps)
    big = await measure(args.lines, args.steps)
    w = max(len(k) for k in big)
    print(f"{'':{w}}  {'small':>30}  {'big':>34}")
    for k in big:
        print(f"{k:{w}}  {small[k]:>30}  {big[k]:>34}")


if __name__ == "__main__":
    asyncio.run(main())
