"""End to end throughput of the terminal pane: feed() on the event loop to the painted frame.

Usage: .venv/bin/python bench/bench_terminal.py [--mb N] [--size COLSxROWS] [--seed N]

A headless Textual app holds only a TerminalPane. A task on the event loop feeds N MB of mixed
output (coloured ls-like lines, 256-colour and truecolor SGR, CR progress lines, random text
with some wide characters; generated deterministically, not timed) in 64 KiB chunks, as they
arrive from gRPC, pausing while more than 8 MB wait to be parsed (flow control). Timing stops
when the emulator has parsed everything and the frame after that is painted. A 5 ms ticker
records how late the event loop wakes it.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.strip import Strip

from tui.ui.widgets.terminal import TerminalPane

CHUNK = 64 * 1024
BACKLOG_MAX = 8 << 20
TICK = 0.005
WORDS = ["build", "layer", "sha256", "cache", "RUN", "COPY", "error", "warning", "done", "apt",
         "get", "install", "-y", "python3", "node_modules", "résumé", "naïve", "中文", "😀"]


def ls_line(r: random.Random) -> str:
    colour = r.choice([34, 32, 36, 35, 33, 31, 0])
    size = r.randint(0, 10**7)
    name = "".join(r.choice("abcdefghijklmnopqrstuvwxyz_.-") for _ in range(r.randint(3, 24)))
    return (f"-rw-r--r-- 1 root root {size:>9} Jan {r.randint(1, 31):2d} 12:{r.randint(0, 59):02d}"
            f" \x1b[01;{colour}m{name}\x1b[0m\r\n")


def sgr_line(r: random.Random) -> str:
    parts = []
    for _ in range(r.randint(4, 12)):
        word = r.choice(WORDS)
        if r.random() < 0.5:
            parts.append(f"\x1b[38;5;{r.randint(0, 255)}m{word}")
        else:
            rgb = ";".join(str(r.randint(0, 255)) for _ in range(3))
            parts.append(f"\x1b[38;2;{rgb};1m{word}\x1b[0m")
    return " ".join(parts) + "\x1b[0m\r\n"


def progress(r: random.Random) -> str:
    out = []
    for pct in range(0, 101, r.choice([5, 10, 25])):
        bar = "#" * (pct // 4)
        out.append(f"\r => [{bar:<25}] {pct:3d}% {r.randint(1, 999)} kB/s")
    return "".join(out) + "\r\n"


def text_line(r: random.Random) -> str:
    return " ".join(r.choice(WORDS) for _ in range(r.randint(1, 25))) + "\r\n"


def generate(total: int, seed: int) -> list[bytes]:
    """``total`` bytes of mixed output as 64 KiB chunks (a 4 MB pool, repeated)."""
    r = random.Random(seed)
    kinds = [ls_line, sgr_line, progress, text_line]
    pool = bytearray()
    while len(pool) < min(total, 4 << 20):
        pool += r.choice(kinds)(r).encode()
    data = bytes(pool)
    chunks = []
    offset = 0
    while offset < total:
        start = offset % len(data)
        chunk = data[start:start + min(CHUNK, total - offset)]
        chunks.append(chunk)  # a chunk may end mid UTF-8 character or mid escape sequence
        offset += len(chunk)
    return chunks


def pct(name: str, times: list[float]) -> dict[str, float]:
    """p50 / p99 / max of ``times`` in ms."""
    ordered = sorted(times) or [0.0]
    return {f"{name}_p50_ms": statistics.median(ordered) * 1e3,
            f"{name}_p99_ms": ordered[int(len(ordered) * 0.99)] * 1e3,
            f"{name}_max_ms": ordered[-1] * 1e3}


class BenchLink:
    def __init__(self) -> None:
        self.sent = 0
        self.sizes: list[tuple[int, int]] = []

    def send(self, data: bytes) -> None:
        self.sent += len(data)

    def resize(self, rows: int, cols: int) -> None:
        self.sizes.append((rows, cols))


class BenchApp(App[None]):
    CSS = "TerminalPane { height: 1fr; }"

    def compose(self) -> ComposeResult:
        yield TerminalPane()


class Ticker:
    """Wakes every 5 ms and records how late each wake-up is."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self.running = True

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while self.running:
            due = loop.time() + TICK
            await asyncio.sleep(TICK)
            self.lags.append(loop.time() - due)


async def bench(total_mb: float, cols: int, rows: int, seed: int) -> dict[str, float]:
    chunks = generate(int(total_mb * 1_000_000), seed)
    total = sum(map(len, chunks))
    app = BenchApp()
    render_times: list[float] = []
    original = TerminalPane.render_lines

    def timed_render_lines(self: TerminalPane, crop: Region) -> list[Strip]:
        start = time.perf_counter()
        try:
            return original(self, crop)
        finally:
            render_times.append(time.perf_counter() - start)

    frame_times: list[float] = []
    original_frame = TerminalPane._frame

    def timed_frame(self: TerminalPane) -> None:
        start = time.perf_counter()
        try:
            original_frame(self)
        finally:
            frame_times.append(time.perf_counter() - start)

    TerminalPane.render_lines = timed_render_lines  # type: ignore[method-assign]
    TerminalPane._frame = timed_frame  # type: ignore[method-assign]
    async with app.run_test(size=(cols, rows)) as pilot:
        pane = app.query_one(TerminalPane)
        pane.attach(BenchLink(), "bench")
        pane.focus()
        await pilot.pause()
        ticker = Ticker()
        tick_task = asyncio.create_task(ticker.run())
        await asyncio.sleep(0.05)
        throttled = 0
        start = time.perf_counter()
        for chunk in chunks:
            pane.feed(chunk)
            await asyncio.sleep(0)  # one chunk per loop turn, as a gRPC reader would
            while pane.backlog > BACKLOG_MAX:
                throttled += 1
                await asyncio.sleep(0.001)
        fed = time.perf_counter()
        while pane.stats.drawn_bytes < total:  # noqa: ASYNC110 (polling the pane's counter)
            await asyncio.sleep(0.001)
        await pilot.pause()  # let the compositor paint the last frame
        end = time.perf_counter()
        ticker.running = False
        await tick_task
        frames = pane.stats.frames
        last = [pane.render_line(y).text.rstrip() for y in range(pane.content_size.height)]
    TerminalPane.render_lines = original  # type: ignore[method-assign]
    TerminalPane._frame = original_frame  # type: ignore[method-assign]
    elapsed = end - start
    return {
        "MB": total / 1e6, "seconds": elapsed, "MB/s": total / 1e6 / elapsed,
        "feed_s": fed - start, "frames": frames, "fps": frames / elapsed,
        **pct("frame", frame_times), **pct("render", render_times),
        **pct("lag", ticker.lags), "throttled": throttled,
        "nonblank_rows": sum(1 for line in last if line),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=float, default=100.0, help="megabytes to feed (1e6)")
    parser.add_argument("--size", default="120x38", help="app size COLSxROWS")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    cols, rows = (int(v) for v in args.size.lower().split("x"))
    result = asyncio.run(bench(args.mb, cols, rows, args.seed))
    width = max(map(len, result))
    print(f"terminal pane, {cols}x{rows} app, 64 KiB chunks from the event loop")
    for key, value in result.items():
        print(f"  {key:<{width}}  {value:10.2f}" if isinstance(value, float)
              else f"  {key:<{width}}  {value:10d}")
    ok = result["MB/s"] >= 20 and result["lag_max_ms"] <= 16
    print("target (>= 20 MB/s, loop lag <= 16 ms):", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
