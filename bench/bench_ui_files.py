"""Cost of the file browser pane (FileBrowser) with 10,000 and 100,000 entries in one directory.

Usage: .venv/bin/python bench/bench_ui_files.py [--sizes 10000,100000] [--pages 200]
       [--jumps 20] [--mb 5]

A fake state (in-memory snapshot, ranged reads of in-memory bytes, no daemon) whose root holds
N entries (10 % directories, 5 % links, the rest files), shown in a headless app (160x50, the
listing and the preview side by side). For each N:

* load: ``show()`` to the first listing painted (the snapshot is indexed in a thread), the
  worst event-loop stall meanwhile (a 5 ms ticker's lateness), and ``build_tree`` alone;
* pagedown: each ``pagedown`` key press (the cursor moves a screen) and the frame it causes:
  the event loop thread's CPU time over ``pilot.press`` (key handling, compositor and the
  widget's ``render_line`` calls; ``pilot.press`` itself waits ~40-60 ms of wall time, so wall
  time says nothing), and the ``render_line`` time of that frame alone; median / p95 / max,
  with the number of full (gen-2) GC passes that fell into them; an unbound key as baseline;
* home/end: the same for alternating ``end`` and ``home`` (cold rows at each end);

then the preview of 5 MB text files: ``enter`` to the first page painted (read 64 KiB, shown
plain at once) and to its repaint highlighted (lexer guessed and page highlighted in a thread),
for Python source (the first open also pays for pygments' lexer lookup), again, and for a
plain log; and ``pagedown`` through the first pages (past the end of the loaded text the next
page is read), with the worst event-loop stall while pages are highlighted in threads.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.strip import Strip

from tui.debug.model.fsmodel import Entry, Snapshot
from tui.ui.widgets.files.model import index_snapshot as build_tree
from tui.ui.widgets.files.pane import FileBrowser, FileListing, FilePreview

SIZE = (160, 50)
REPO = Path(__file__).resolve().parents[1]


class FakeState:
    """In-memory StateFiles."""

    def __init__(self, label: str, entries: list[Entry], data: dict[str, bytes]) -> None:
        self.label = label
        self.snap = Snapshot([Entry("", "dir", 0o755, 0, 0, 4096, 0), *entries])
        self.data = data
        self.excluded = ["node_modules/", ".env"]
        self.note = ""

    async def snapshot(self) -> Snapshot:
        return self.snap

    async def read(self, path: str, offset: int = 0, length: int = 65536) -> bytes:
        return self.data[path][offset : offset + length]


def make_entries(n: int) -> list[Entry]:
    out: list[Entry] = []
    for k in range(n):
        if k % 10 == 0:
            out.append(Entry(f"dir-{k:06d}", "dir", 0o755, 0, 0, 4096, 0))
        elif k % 20 == 1:
            out.append(Entry(f"link-{k:06d}", "link", 0o777, 0, 0, 12, 0, f"../target-{k}"))
        else:
            out.append(Entry(f"file-{k:06d}.txt", "file", 0o644 | (0o111 * (k % 7 == 0)),
                             1000 * (k % 3), 1000 * (k % 3), (k * 7919) % 5_000_000, 0))
    return out


class BenchApp(App[None]):
    def compose(self) -> ComposeResult:
        yield FileBrowser(id="files")


class RenderTimer:
    """Wraps a widget's render_line and sums its time."""

    def __init__(self, widget: FileListing | FilePreview) -> None:
        self.total = 0.0
        self.calls = 0
        orig = widget.render_line

        def timed(y: int) -> Strip:
            t = time.perf_counter()
            strip = orig(y)
            self.total += time.perf_counter() - t
            self.calls += 1
            return strip

        widget.render_line = timed  # type: ignore[method-assign]

    def take(self) -> float:
        total, self.total = self.total, 0.0
        return total


class Stall:
    """Largest lateness of a 5 ms ticker: how long the event loop was blocked."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        while True:
            t = time.perf_counter()
            await asyncio.sleep(0.005)
            self.worst = max(self.worst, time.perf_counter() - t - 0.005)

    def __enter__(self) -> Stall:
        self._task = asyncio.create_task(self._tick())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


def stats(xs: list[float]) -> str:
    xs = sorted(xs)
    p95 = xs[min(len(xs) - 1, round(0.95 * (len(xs) - 1)))]
    return f"{statistics.median(xs) * 1e3:.1f} / {p95 * 1e3:.1f} / {max(xs) * 1e3:.1f}"


async def wait_for(pilot: Pilot[None], cond: Callable[[], bool], limit: float = 60.0) -> None:
    deadline = time.perf_counter() + limit
    while not cond():
        assert time.perf_counter() < deadline, "condition not reached"
        await pilot.pause(0.001)


class Frames:
    """Per key press: main-thread CPU (key handling, compositor, render) and render_line time."""

    def __init__(self) -> None:
        self.cpu: list[float] = []
        self.render: list[float] = []
        self.full_gc = 0
        self._gen2 = 0

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start" and info["generation"] == 2:
            self._gen2 += 1

    async def keys(self, pilot: Pilot[None], rt: RenderTimer, keys: list[str]) -> None:
        gc.callbacks.append(self._on_gc)
        try:
            for key in keys:
                rt.take()
                c = time.thread_time()
                await pilot.press(key)
                self.cpu.append(time.thread_time() - c)
                self.render.append(rt.take())
        finally:
            gc.callbacks.remove(self._on_gc)
        self.full_gc += self._gen2
        self._gen2 = 0


async def measure_listing(n: int, pages: int, jumps: int) -> dict[str, str]:
    entries = make_entries(n)
    state = FakeState(f"{n:,} entries", entries, {})
    t = time.perf_counter()
    build_tree(state.snap, state.excluded)
    pure = time.perf_counter() - t
    res: dict[str, str] = {}
    app = BenchApp()
    async with app.run_test(size=SIZE) as pilot:
        fb = app.query_one(FileBrowser)
        lst = app.query_one(FileListing)
        fb.focus()
        await pilot.pause()
        rt = RenderTimer(lst)
        with Stall() as stall:
            t0 = time.perf_counter()
            fb.show([state])
            await wait_for(pilot, lambda: lst.row_count == n + 2)
            await pilot.pause()  # the frame that paints it
            first = time.perf_counter() - t0
        assert rt.calls, "nothing rendered"
        res["show() to first listing painted"] = f"{first * 1e3:.0f} ms"
        res["  worst loop stall meanwhile"] = f"{stall.worst * 1e3:.1f} ms"
        res["  index (build_tree, pure)"] = f"{pure * 1e3:.0f} ms"
        idle = Frames()
        await idle.keys(pilot, rt, ["x"] * 20)
        res["idle key press: frame CPU"] = stats(idle.cpu)
        fr = Frames()
        await fr.keys(pilot, rt, ["pagedown"] * pages)
        res["pagedown: frame CPU"] = stats(fr.cpu)
        res["pagedown: render_line per frame"] = stats(fr.render)
        res["pagedown: full GC passes"] = f"{fr.full_gc} in {pages} frames"
        fr = Frames()
        await fr.keys(pilot, rt, ["end", "home"] * (jumps // 2))
        assert fb.selected is not None
        res["home/end: frame CPU"] = stats(fr.cpu)
        res["home/end: render_line per frame"] = stats(fr.render)
        res["rows rendered per frame"] = f"{lst.scrollable_content_region.height}"
    return res


def python_source(size: int) -> bytes:
    chunk = b"".join(p.read_bytes() for p in sorted((REPO / "tui").rglob("*.py"))[:40])
    return (chunk * (size // len(chunk) + 1))[:size]


def log_text(size: int) -> bytes:
    out = bytearray()
    k = 0
    while len(out) < size:
        out += b"2026-01-01T00:00:%02d.%06dZ step %07d: compiling module_%05d.c ... ok\n" % (
            k % 60, k % 1_000_000, k, k % 99991)
        k += 1
    return bytes(out[:size])


async def measure_preview(mb: int, pages: int) -> dict[str, str]:
    size = mb * 1_000_000
    data = {"app.py": python_source(size), "build.log": log_text(size),
            "again.py": python_source(size)}
    entries = [
        Entry(p, "file", 0o644, 0, 0, len(b), 0) for p, b in data.items()]
    state = FakeState("preview", entries, data)
    res: dict[str, str] = {}
    app = BenchApp()
    async with app.run_test(size=SIZE) as pilot:
        fb = app.query_one(FileBrowser)
        lst = app.query_one(FileListing)
        pv = app.query_one(FilePreview)
        fb.focus()
        fb.show([state])
        await wait_for(pilot, lambda: lst.row_count >= 3)
        await pilot.pause()

        paints: list[tuple[float, bool, tuple[int, int] | None]] = []  # when, highlighted, bytes
        orig = pv.render_line

        def spy(y: int) -> Strip:
            if pv._pages:
                paints.append((time.perf_counter(), pv._pages[0].highlighted, pv.loaded))
            return orig(y)

        pv.render_line = spy  # type: ignore[method-assign]

        async def open_file(name: str, label: str) -> None:
            await pilot.press("home")
            while (sel := fb.selected) is None or sel.path != name:
                await pilot.press("down")
            paints.clear()
            t = time.perf_counter()
            await pilot.press("enter")  # returns once the app is idle: after the highlighting
            await wait_for(pilot, lambda: bool(pv._pages) and pv._pages[0].highlighted)
            await pilot.pause()
            plain = min(w for w, _, _ in paints) - t
            highlighted = min(w for w, h, _ in paints if h) - t
            res[f"{label}: first page painted / highlighted"] = (
                f"{plain * 1e3:.0f} / {highlighted * 1e3:.0f} ms")

        with Stall() as stall:
            await open_file("app.py", f"{mb} MB .py (cold: lexer lookup)")
        res["  worst loop stall meanwhile"] = f"{stall.worst * 1e3:.1f} ms"
        await pilot.press("escape")
        await open_file("again.py", f"{mb} MB .py (warm)")
        rt = RenderTimer(pv)
        fr = Frames()  # pagedown within the loaded text
        reads: list[float] = []  # pagedown past its end: wall time to the next page painted
        with Stall() as stall:
            while pv.loaded is not None and pv.loaded[1] < pages * 65536 * 0.9:
                before = pv.loaded
                if pv.scroll_offset.y + pv.page_height() <= pv.max_scroll_y:
                    await fr.keys(pilot, rt, ["pagedown"])
                    continue
                paints.clear()
                t = time.perf_counter()
                await pilot.press("pagedown")  # returns once idle: after the highlighting
                await wait_for(pilot, lambda b=before: pv.loaded != b)  # type: ignore[misc]
                await pilot.pause()
                reads.append(min(w for w, _, got in paints if got != before) - t)
        res[f"pagedown through {pages} pages: frames"] = f"{len(fr.cpu)} + {len(reads)} reads"
        res["  within the text: frame CPU"] = stats(fr.cpu)
        res["  within the text: render_line per frame"] = stats(fr.render)
        res["  past its end: next page painted (wall)"] = stats(reads)
        res["  worst loop stall (pages highlighted in a thread)"] = f"{stall.worst * 1e3:.1f} ms"
        await pilot.press("escape")
        await open_file("build.log", f"{mb} MB plain log")
    return res


def table(title: str, cols: list[str], results: list[dict[str, Any]]) -> None:
    keys = list(results[0])
    w = max(len(k) for k in keys)
    widths = [max(len(c), *(len(str(r[k])) for k in keys)) for c, r in zip(cols, results,
                                                                          strict=True)]
    print(f"\n{title}")
    print(f"{'':{w}}  " + "  ".join(f"{c:>{cw}}" for c, cw in zip(cols, widths, strict=True)))
    for k in keys:
        print(f"{k:{w}}  " + "  ".join(f"{r[k]:>{cw}}" for r, cw in zip(results, widths,
                                                                        strict=True)))


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--pages", type=int, default=200, help="pagedown presses in the listing")
    ap.add_argument("--jumps", type=int, default=20, help="end/home presses")
    ap.add_argument("--mb", type=int, default=5, help="size of the previewed files")
    ap.add_argument("--preview-pages", type=int, default=4, help="64 KiB pages to page through")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results = [await measure_listing(n, args.pages, args.jumps) for n in sizes]
    table(f"listing ({SIZE[0]}x{SIZE[1]}); per frame: median / p95 / max ms",
          [f"{n:,} entries" for n in sizes], results)
    prev = await measure_preview(args.mb, args.preview_pages)
    table(f"preview of {args.mb} MB files; per frame: median / p95 / max ms", [""], [prev])


if __name__ == "__main__":
    asyncio.run(main())
