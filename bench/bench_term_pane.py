"""A 100 MB flood through the terminal pane, alone and in the real app; a 10 MB paste.

- ``pane`` (no daemon): a headless Textual app holding one ``TerminalPane`` attached to a
  local PTY running ``head -c N /dev/zero | tr '\\0' x | fold -w 100; echo END$((6*7))``,
  read as the app reads a process (64 KiB reads fed to the pane, reading held while more than
  8 MB wait to be parsed). Wall time from the spawn until the frame holding all the output
  is drawn (``END42`` is checked on the screen), MB/s of process output, the event loop's
  lateness (a 5 ms ticker: max, p99), RSS before attaching, after, and the peak (VmHWM).
- ``app`` (the daemon): ``bxtui build examples/fail-run`` in a 140x40 PTY, ``z`` then ``f``,
  then the same command in the failed step's shell; seconds from Enter until ``END42`` is on
  the screen (pyte), the app's CPU seconds and RSS (VmRSS/VmHWM) before and after.
- ``paste`` (the daemon, same app): a bracketed paste of ``--paste-mb`` MB of 100-byte lines
  written to the outer PTY while ``head -c N > /tmp/p`` runs in the shell: seconds until
  the pane shows it is pasting (Textual parses a paste one character at a time before the
  pane sees it) and until ``wc -c`` there shows every byte arrived (the pane sends a paste
  as fast as the shell echoes it).
- For both, the app's own 5 ms ticker (``BXTUI_FRAME_STATS``) gives the largest event-loop
  lag of the whole run and when it happened (seconds since the app started, ~ since spawn);
  ``*_from_s``/``*_to_s`` are the phases' windows since spawn. Run ``--mb 0`` or
  ``--paste-mb 0`` to see one phase's lag alone.

    .venv/bin/python bench/bench_term_pane.py [--mb 100] [--paste-mb 10] [--only pane|app]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import select
import sys
import tempfile
import time
from pathlib import Path

import ptyprocess
import pyte
from textual.app import App, ComposeResult

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tui.ui.widgets.terminal import TerminalPane  # noqa: E402

BXTUI = REPO / ".venv" / "bin" / "bxtui"
DOCKER_HOST = os.environ.get("DOCKER_HOST", "unix:///run/bxtui-daemon/docker.sock")
BACKLOG_LIMIT = 8 << 20
TICK = 0.005


def flood_command(total: int) -> str:
    return f"head -c {total} /dev/zero | tr '\\0' x | fold -w 100; echo END$((6*7))"


def status_kib(pid: int | str, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- the pane alone ---------------------------------------------------------------------------
class PaneApp(App[None]):
    CSS = "TerminalPane { height: 1fr; }"

    def compose(self) -> ComposeResult:
        yield TerminalPane()


class Reader:
    """A PTY process's output into the pane, held while the pane has much left to parse."""

    def __init__(self, pane: TerminalPane, argv: list[str], rows: int, cols: int) -> None:
        self.pane = pane
        self.proc = ptyprocess.PtyProcess.spawn(argv, dimensions=(rows, cols))
        self.loop = asyncio.get_running_loop()
        self.bytes = 0
        self.held = 0
        self.eof = asyncio.Event()
        self.loop.add_reader(self.proc.fd, self._readable)

    def send(self, data: bytes) -> None:
        os.write(self.proc.fd, data)

    def resize(self, rows: int, cols: int) -> None:
        self.proc.setwinsize(rows, cols)

    def _readable(self) -> None:
        try:
            data = os.read(self.proc.fd, 1 << 16)
        except OSError:
            data = b""
        if not data:
            self.loop.remove_reader(self.proc.fd)
            self.eof.set()
            return
        self.bytes += len(data)
        self.pane.feed(data)
        if self.pane.backlog > BACKLOG_LIMIT:
            self.held += 1
            self.loop.remove_reader(self.proc.fd)
            self.loop.create_task(self._resume())

    async def _resume(self) -> None:
        await self.pane.wait_backlog(BACKLOG_LIMIT)
        self.loop.add_reader(self.proc.fd, self._readable)


async def bench_pane(total: int, cols: int, rows: int) -> dict[str, float]:
    app = PaneApp()
    async with app.run_test(size=(cols, rows)) as pilot:
        pane = app.query_one(TerminalPane)
        pane.focus()
        await pilot.pause()
        lags: list[float] = []
        running = True

        async def ticker() -> None:
            loop = asyncio.get_running_loop()
            while running:
                due = loop.time() + TICK
                await asyncio.sleep(TICK)
                lags.append(loop.time() - due)

        tick = asyncio.create_task(ticker())
        rss_before = status_kib("self", "VmRSS")
        start = time.perf_counter()
        reader = Reader(pane, ["/bin/sh", "-c", flood_command(total)], *pane.pty_size)
        pane.attach(reader, "flood")
        await reader.eof.wait()
        while pane.stats.drawn_bytes < reader.bytes:  # noqa: ASYNC110 (the pane's counter)
            await asyncio.sleep(0.002)
        end = time.perf_counter()
        running = False
        await tick
        await pilot.pause()
        screen = "\n".join(pane.render_line(y).text for y in range(pane.content_size.height))
        reader.proc.terminate(force=True)
        lags.sort()
        return {
            "output_MB": reader.bytes / 1e6, "seconds": end - start,
            "MB/s": reader.bytes / 1e6 / (end - start), "frames": pane.stats.frames,
            "reads_held": reader.held,
            "loop_lag_p99_ms": lags[int(len(lags) * 0.99)] * 1e3,
            "loop_lag_max_ms": lags[-1] * 1e3,
            "rss_before_MiB": rss_before / 1024,
            "rss_after_MiB": status_kib("self", "VmRSS") / 1024,
            "rss_peak_MiB": status_kib("self", "VmHWM") / 1024,
            "end_marker_shown": float("END42" in screen),
        }


# -- the real app -----------------------------------------------------------------------------
class Screen:
    """The app in a PTY, its output drained into pyte; bounded waits."""

    def __init__(self, argv: list[str], env: dict[str, str], rows: int = 40,
                 cols: int = 140) -> None:
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.proc = ptyprocess.PtyProcess.spawn(argv, env=env, dimensions=(rows, cols))

    def text(self) -> str:
        return "\n".join(self.screen.display)

    def pump(self, timeout: float) -> None:
        if select.select([self.proc.fd], [], [], timeout)[0]:
            with contextlib.suppress(OSError):
                self.stream.feed(os.read(self.proc.fd, 1 << 16))

    def wait_for(self, pattern: str, timeout: float = 300) -> re.Match[str]:
        rx = re.compile(pattern, re.M)
        deadline = time.monotonic() + timeout
        while not (m := rx.search(self.text())):
            if time.monotonic() > deadline:
                raise SystemExit(f"{pattern!r} not on screen:\n{self.text()}")
            self.pump(0.05)
        return m

    def write_all(self, data: bytes) -> None:
        fd, view = self.proc.fd, memoryview(data)
        os.set_blocking(fd, False)
        try:
            while view:
                readable, writable, _ = select.select([fd], [fd], [], 0.2)
                if readable:
                    self.pump(0)
                if writable:
                    with contextlib.suppress(BlockingIOError):
                        view = view[os.write(fd, view[:1 << 16]):]
        finally:
            os.set_blocking(fd, True)


def bench_app(total: int, paste_mb: float) -> dict[str, float]:
    stats = Path(tempfile.mkdtemp(prefix="bxtui-bench-")) / "frames.json"
    env = dict(os.environ, DOCKER_HOST=DOCKER_HOST, TERM="xterm-256color",
               BXTUI_FRAME_STATS=str(stats))
    spawned = time.perf_counter()
    run = Screen([str(BXTUI), "build", str(REPO / "examples" / "fail-run")], env)
    pid = run.proc.pid
    out: dict[str, float] = {}
    try:
        run.wait_for(r"exit code 3")
        run.proc.write(b"z")
        run.proc.write(b"f")
        run.wait_for(r"/work # ")
        out["rss_before_MiB"] = status_kib(pid, "VmRSS") / 1024
        if total:
            cpu0 = cpu_seconds(pid)
            start = time.perf_counter()
            out["flood_from_s"] = start - spawned
            run.proc.write((flood_command(total) + "\r").encode())
            run.wait_for(r"END42")
            out["flood_to_s"] = time.perf_counter() - spawned
            out["flood_seconds"] = time.perf_counter() - start
            out["flood_MB/s"] = total * 1.02 / 1e6 / out["flood_seconds"]  # + the PTY's CRs
            out["flood_app_cpu_s"] = cpu_seconds(pid) - cpu0
            out["rss_after_flood_MiB"] = status_kib(pid, "VmRSS") / 1024
            out["rss_peak_after_flood_MiB"] = status_kib(pid, "VmHWM") / 1024
        if paste_mb:
            body = b"".join(b"%099d\n" % i for i in range(int(paste_mb * 10_000)))
            run.proc.write(b"clear\r")
            run.wait_for(r"^│/work # ")
            run.proc.write(b"head -c %d > /tmp/p; echo GOT$(wc -c < /tmp/p)\r" % len(body))
            run.wait_for(r"GOT\$\(wc")
            start = time.perf_counter()
            out["paste_from_s"] = start - spawned
            run.write_all(b"\x1b[200~" + body + b"\x1b[201~")
            out["paste_written_s"] = time.perf_counter() - start
            run.wait_for(r"pasting", timeout=900)
            out["paste_shown_s"] = time.perf_counter() - start
            run.wait_for(rf"GOT *{len(body)}\b", timeout=900)
            out["paste_MB"] = len(body) / 1e6
            out["paste_seconds"] = time.perf_counter() - start
            out["paste_to_s"] = time.perf_counter() - spawned
            out["rss_after_paste_MiB"] = status_kib(pid, "VmRSS") / 1024
            out["rss_peak_after_paste_MiB"] = status_kib(pid, "VmHWM") / 1024
        run.proc.write(b"exit\r")
        run.wait_for(r"exited with status 0")
        run.proc.write(b"q")
        while run.proc.isalive():
            run.pump(0.05)
    finally:
        if run.proc.isalive():
            run.proc.terminate(force=True)
    frames = json.loads(stats.read_text())
    out["max_loop_lag_ms"] = frames["max_loop_lag_ms"]
    out["max_loop_lag_at_s"] = frames["max_loop_lag_at_s"]  # since the app's start
    out["lags_over_16ms"] = frames["lags_over_16ms"]
    out["ticks_5ms"] = frames["ticks"]
    return out


def show(title: str, result: dict[str, float]) -> None:
    print(title)
    width = max(map(len, result))
    for key, value in result.items():
        print(f"  {key:<{width}}  {value:10.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=float, default=100.0, help="megabytes of output (1e6)")
    parser.add_argument("--paste-mb", type=float, default=10.0, help="0: no paste")
    parser.add_argument("--size", default="120x36", help="the pane app's size COLSxROWS")
    parser.add_argument("--only", choices=["pane", "app"])
    args = parser.parse_args()
    total = int(args.mb * 1_000_000)
    if args.only != "app":
        cols, rows = (int(v) for v in args.size.lower().split("x"))
        show(f"pane alone ({cols}x{rows}), local PTY", asyncio.run(bench_pane(total, cols, rows)))
    if args.only != "pane":
        show("real app (140x40, zoomed), failed step's shell on the daemon",
             bench_app(total, args.paste_mb))
    return 0


if __name__ == "__main__":
    sys.exit(main())
