"""Frame cost and memory of the build-graph pane (GraphView) on a large synthetic build.

Usage: .venv/bin/python bench/bench_ui_graph.py [--vertices 5000] [--stages 50] [--batch 24]
       [--width 120] [--height 50] [--parallel 16]

A headless Textual app shows a GraphView. The StatusResponse stream (built up front, not
timed) declares every vertex in chunks, then runs them ``--parallel`` at a time: each vertex
starts, logs, and completes (every 10th cached); the very last one fails. Messages are fed in
frames of ``--batch`` messages, as the app batches them per frame. Per frame it measures:

* ``graph.apply``: BuildGraph.apply of the frame's messages, merged into one Changes;
* ``apply_changes``: GraphView.apply_changes (row model update, invalidation);
* ``render``: the widget's render_lines over its whole region, i.e. what Textual's compositor
  asks of it for the frame (only dirty lines are rendered, the rest come from caches);
* ``frame CPU``: process CPU time from before ``graph.apply`` until the app is idle again,
  including Textual's own message handling and compositor (``pilot.pause``);

then jumps (End, Home, select() of 20 random vertices, 20 page-downs) and times the action
plus rendering the full screen (cold row cache), and finally memory (tracemalloc).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import resource
import statistics
import sys
import time
import tracemalloc
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from google.protobuf.timestamp_pb2 import Timestamp
from textual.app import App, ComposeResult
from textual.pilot import Pilot

from tui.buildkit.proto import control_pb2 as pb
from tui.debug.model.graph import BuildGraph, Changes
from tui.ui.widgets.graph.pane import GraphView
from tui.ui.widgets.graph.rows import GraphRows

MS = 1_000_000
FAIL = 'process "/bin/sh -c make" did not complete successfully: exit code: 2'


def _ts(ns: int) -> Timestamp:
    t = Timestamp()
    t.seconds, t.nanos = divmod(ns, 10**9)
    return t


def make_messages(
    n: int, stages: int, parallel: int, base_ns: int, seed: int = 1
) -> tuple[list[pb.StatusResponse], list[str]]:
    """Declare ``n`` vertices in ``stages`` stages, then run them ``parallel`` at a time."""
    rnd = random.Random(seed)
    per = n // stages
    digests = [f"sha256:{i:064x}" for i in range(n)]
    names: list[str] = []
    inputs: list[list[str]] = []
    for i in range(n):
        s, k = divmod(i, per)
        names.append(f"[stage-{s} {k + 1}/{per}] RUN make -C src/module-{i:05d} all install")
        if k:
            inputs.append([digests[i - 1]])
        elif s:  # COPY --from an earlier stage
            inputs.append([digests[rnd.randrange(0, s) * per + per - 1]])
        else:
            inputs.append([])
    msgs: list[pb.StatusResponse] = []

    def vertex(r: pb.StatusResponse, i: int) -> pb.Vertex:
        return r.vertexes.add(digest=digests[i], name=names[i], inputs=inputs[i])

    for i in range(0, n, 250):  # the solver declares vertices in big messages
        r = pb.StatusResponse()
        for j in range(i, min(i + 250, n)):
            vertex(r, j)
        msgs.append(r)
    t = base_ns
    running: list[tuple[int, int]] = []  # (index, start)
    nxt = 0
    while nxt < n or running:
        while nxt < n and len(running) < parallel:
            r = pb.StatusResponse()
            vertex(r, nxt).started.CopyFrom(_ts(t))
            msgs.append(r)
            running.append((nxt, t))
            nxt += 1
            t += rnd.randrange(1, 5) * MS
        at = rnd.randrange(len(running))
        i, start = running.pop(at)
        r = pb.StatusResponse()
        for m in range(rnd.randrange(0, 4)):
            log = r.logs.add(vertex=digests[i], stream=1, msg=b"make[%d]: ok\n" % m)
            log.timestamp.CopyFrom(_ts(t))
        msgs.append(r)
        t += rnd.randrange(1, 20) * MS
        r = pb.StatusResponse()
        v = vertex(r, i)
        v.started.CopyFrom(_ts(start))
        v.completed.CopyFrom(_ts(t))
        v.cached = i % 10 == 0
        if i == n - 1:
            v.error = FAIL
        msgs.append(r)
    return msgs, digests


class BenchApp(App[None]):
    """Nothing but the graph pane."""

    def __init__(self, graph: BuildGraph) -> None:
        super().__init__()
        self.graph = graph

    def compose(self) -> ComposeResult:
        yield GraphView(self.graph)


def stats(xs: Sequence[float]) -> tuple[float, float, float, float]:
    """Median, p95, max, total (ms)."""
    s = sorted(xs)
    p95 = s[min(len(s) - 1, int(len(s) * 0.95))]
    return statistics.median(s) * 1e3, p95 * 1e3, s[-1] * 1e3, sum(s) * 1e3


def row(label: str, xs: Sequence[float]) -> str:
    med, p95, mx, total = stats(xs)
    return (
        f"| {label:<38} | {len(xs):>6} | {med:>8.3f} | {p95:>8.3f} | {mx:>8.3f} | {total:>9.1f} |"
    )


def header() -> list[str]:
    return [
        f"| {'measure':<38} | {'n':>6} | {'median':>8} | {'p95':>8} | {'max':>8} | {'total':>9} |",
        f"|{'-' * 40}|{'-' * 8}:|{'-' * 9}:|{'-' * 9}:|{'-' * 9}:|{'-' * 10}:|",
    ]


async def run_stream(args: argparse.Namespace) -> None:
    msgs, digests = make_messages(
        args.vertices, args.stages, args.parallel, time.time_ns() - 3_600 * 10**9
    )
    graph = BuildGraph()
    app = BenchApp(graph)
    frames: dict[str, list[float]] = {
        k: [] for k in ("apply", "changes", "render", "frame", "decl", "decl_frame")
    }
    async with app.run_test(size=(args.width, args.height)) as pilot:
        view = app.query_one(GraphView)
        view.focus()
        await pilot.pause()
        region = view.size.region
        gc.collect()
        gen2: list[float] = []

        def on_gc(phase: str, info: dict[str, int]) -> None:
            if phase == "start" and info["generation"] == 2:
                gen2.append(time.perf_counter())

        gc.callbacks.append(on_gc)
        worst: list[tuple[float, float, int, int, bool, bool]] = []
        for i in range(0, len(msgs), args.batch):
            batch = msgs[i : i + args.batch]
            had_failed = view.rows.failed is not None
            c0 = time.process_time()
            t0 = time.perf_counter()
            ch = Changes()
            for m in batch:
                ch.merge(graph.apply(m))
            t1 = time.perf_counter()
            view.apply_changes(ch)
            t2 = time.perf_counter()
            view.render_lines(region)
            t3 = time.perf_counter()
            await pilot.pause()
            c1 = time.process_time()
            declaring = any(len(m.vertexes) > 1 for m in batch)
            if declaring:
                frames["decl"].append(t2 - t1)
                frames["decl_frame"].append(c1 - c0)
            else:
                full_gc = bool(gen2) and gen2[-1] >= t0
                failed = view.rows.failed is not None and not had_failed
                worst.append((c1 - c0, t2 - t1, i // args.batch, len(ch.vertices), full_gc, failed))
                frames["apply"].append(t1 - t0)
                frames["changes"].append(t2 - t1)
                frames["render"].append(t3 - t2)
                frames["frame"].append(c1 - c0)
        # idle baseline: the cost of pilot.pause itself
        idle = []
        for _ in range(50):
            c0 = time.process_time()
            await pilot.pause()
            idle.append(time.process_time() - c0)
        jumps = await run_jumps(pilot, view, digests, region)
        assert graph.failed is not None and view.rows.failed == graph.failed.digest
        print(
            f"\n{args.vertices} vertices, {len(view.rows.stages)} stages, {len(view.rows)} rows, "
            f"{len(msgs)} messages in {len(frames['apply']) + len(frames['decl'])} frames of "
            f"{args.batch}; screen {args.width}x{args.height}; failed chain "
            f"{len(view.rows.chain)} rows\n"
        )
        lines = header()
        lines.append(row("declaration frames: apply_changes", frames["decl"]))
        lines.append(row("declaration frames: frame CPU", frames["decl_frame"]))
        lines.append(row("run frames: graph.apply", frames["apply"]))
        lines.append(row("run frames: apply_changes", frames["changes"]))
        lines.append(row("run frames: render (dirty lines)", frames["render"]))
        lines.append(
            row(
                "run frames: apply+changes+render",
                [
                    a + b + c
                    for a, b, c in zip(
                        frames["apply"], frames["changes"], frames["render"], strict=True
                    )
                ],
            )
        )
        lines.append(row("run frames: frame CPU (with Textual)", frames["frame"]))
        lines.append(row("idle frame CPU (pilot.pause only)", idle))
        for label, xs in jumps.items():
            lines.append(row(label, xs))
        print("\n".join(lines))
        gc.callbacks.remove(on_gc)
        print("\nworst run frames (frame CPU / apply_changes, ms):")
        for cpu, changes, index, n, full_gc, failed in sorted(worst, reverse=True)[:3]:
            why = ", gen-2 GC ran" if full_gc else ""
            last = ", the failure: chain marked" if failed else ""
            print(
                f"  frame {index}: {cpu * 1e3:.1f} / {changes * 1e3:.2f} ({n} vertices{why}{last})"
            )


async def run_jumps(
    pilot: Pilot[None], view: GraphView, digests: list[str], region: object
) -> dict[str, list[float]]:
    """Time cursor jumps plus a full-screen render."""
    from textual.geometry import Region

    assert isinstance(region, Region)
    rnd = random.Random(7)
    out: dict[str, list[float]] = {
        "jump End/Home + full render": [],
        "jump select(random) + full render": [],
        "page down + full render": [],
        "running-row tick (visible rows)": [],
    }
    for _ in range(10):
        for action in (view.action_last, view.action_first):
            await pilot.pause()
            t0 = time.perf_counter()
            action()
            view.render_lines(region)
            out["jump End/Home + full render"].append(time.perf_counter() - t0)
    for _ in range(20):
        d = rnd.choice(digests)
        await pilot.pause()
        t0 = time.perf_counter()
        view.select(d)
        view.render_lines(region)
        out["jump select(random) + full render"].append(time.perf_counter() - t0)
    view.action_first()
    for _ in range(20):
        await pilot.pause()
        t0 = time.perf_counter()
        view.action_page_down()
        view.render_lines(region)
        out["page down + full render"].append(time.perf_counter() - t0)
    # make every visible row "running" in the model, then time one tick + render
    for _ in range(20):
        await pilot.pause()
        top = view.scroll_offset.y
        for r in view.rows.rows[top : top + region.height]:
            view.rows._running[r.key] = None
        t0 = time.perf_counter()
        view._tick()
        view.render_lines(region)
        out["running-row tick (visible rows)"].append(time.perf_counter() - t0)
        view.rows._running.clear()
    return out


async def run_memory(args: argparse.Namespace) -> None:
    msgs, _ = make_messages(args.vertices, args.stages, args.parallel, time.time_ns())
    graph = BuildGraph()
    for m in msgs:
        graph.apply(m)
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    rows = GraphRows(graph)
    model = tracemalloc.get_traced_memory()[0] - base
    del rows
    gc.collect()
    app = BenchApp(graph)
    async with app.run_test(size=(args.width, args.height)) as pilot:
        view = app.query_one(GraphView)
        await pilot.pause()
        region = view.size.region
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(len(view.rows) // max(1, region.height - 1) + 1):
            view.action_page_down()
            view.render_lines(region)
        gc.collect()
        strips = tracemalloc.get_traced_memory()[0] - before
        cached = len(view._strips)
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"\nmemory: row model {model / 2**20:.2f} MiB ({model / args.vertices:.0f} B/vertex); "
        f"strip cache after scrolling every row {strips / 2**20:.2f} MiB ({cached} strips "
        f"cached, LRU cap); peak RSS of the process {rss:.0f} MiB"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vertices", type=int, default=5000)
    ap.add_argument("--stages", type=int, default=50)
    ap.add_argument("--batch", type=int, default=24)
    ap.add_argument("--parallel", type=int, default=16)
    ap.add_argument("--width", type=int, default=120)
    ap.add_argument("--height", type=int, default=50)
    args = ap.parse_args()
    asyncio.run(run_stream(args))
    asyncio.run(run_memory(args))


if __name__ == "__main__":
    main()
