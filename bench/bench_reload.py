"""Reload on the demo (examples/fail-run, copied): key to failure shown, bxtui and buildx.

Both tools stay open side by side in real PTYs (140x40) on the same daemon; the reps
alternate between them (the order rotates), after one untimed warm-up build each, so every
step but the failing one is cached.

- ``bxtui r``: in the app, ``r`` is written; the time until the screen (a pyte emulator fed
  with every read) shows the new failure: ``exit code 3`` and the reload's
  ``↻ Dockerfile …`` line, with ``Reloading…`` seen in the stream since the key.
- ``bxtui restart``: what reloading cost before ``r``: ``q``, then a fresh ``bxtui build``
  until ``exit code 3`` shows (close + start).
- ``buildx reload``: ``docker-buildx debug --on=error --invoke /bin/sh build`` (0.13.1's
  monitor): ``Ctrl-a c`` to the ``(buildx)`` prompt, then ``reload``; the time from the
  ``reload`` line until the new build's ``ERROR: process`` line (failure shown), and until
  the new shell's prompt.

    .venv/bin/python bench/bench_reload.py [--reps 10] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import select
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import ptyprocess

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "support"))
from ptyscreen import PtyScreen  # noqa: E402

BXTUI = REPO / ".venv" / "bin" / "bxtui"
BUILDX = os.environ.get("BXTUI_BUILDX", "/var/lib/bxtui-daemon/tools/docker-buildx")
DOCKER_HOST = os.environ.get("DOCKER_HOST", "unix:///run/bxtui-daemon/docker.sock")
ROWS, COLS = 40, 140
SHOWN = re.compile(r"exit code 3")
CHANGES = re.compile(r"↻ Dockerfile")
#: A shell's prompt on buildx's raw stream (busybox may clear after it: ESC [J).
PROMPT = rb"(?m)^[^\n]*[#$] (?:\x1b\[[0-9;]*[A-Za-z])*$"


class App:
    """bxtui's app in a PTY."""

    def __init__(self, ctx: str, env: dict[str, str]) -> None:
        self.ctx, self.env = ctx, env
        self.run = self._spawn()

    def _spawn(self) -> PtyScreen:
        run = PtyScreen([str(BXTUI), "build", self.ctx], self.env, rows=ROWS, cols=COLS)
        run.wait_for(SHOWN.pattern, timeout=120)
        return run

    def reload(self) -> float:
        run = self.run
        start = len(run.raw)
        t0 = time.perf_counter()
        run.send("r")
        deadline = t0 + 120
        while True:
            text = run.text()
            if b"Reloading" in run.raw[start:] and SHOWN.search(text) and CHANGES.search(text):
                return time.perf_counter() - t0
            if time.perf_counter() > deadline or not run.pump(0.5):
                raise SystemExit(f"bxtui: no failure after r\n{run.text()}")

    def restart(self) -> float:
        t0 = time.perf_counter()
        self.run.send("q")
        self.run.wait_exit(timeout=60)
        self.run = self._spawn()
        return time.perf_counter() - t0

    def close(self) -> None:
        self.run.send("q")
        self.run.wait_exit(timeout=60)


class Buildx:
    """buildx's monitor in a PTY (raw stream; its shell's cursor query is answered)."""

    def __init__(self, ctx: str, env: dict[str, str]) -> None:
        argv = [BUILDX, "debug", "--detach=false", "--on=error", "--invoke", "/bin/sh", "build",
                "--progress=plain", ctx]
        self.proc = ptyprocess.PtyProcess.spawn(argv, env=env, dimensions=(ROWS, COLS))
        self.buf = bytearray()
        self.until(PROMPT, 0, 120)

    def until(self, rx: bytes, start: int, limit: float) -> float:
        deadline = time.perf_counter() + limit
        pattern = re.compile(rx)
        while not pattern.search(self.buf, start):
            left = deadline - time.perf_counter()
            if left <= 0:
                Path("/tmp/reload_bx.log").write_bytes(self.buf)
                raise SystemExit(f"buildx: {rx!r} not seen (its output: /tmp/reload_bx.log)")
            r, _, _ = select.select([self.proc.fd], [], [], min(left, 0.5))
            if r:
                try:
                    data = os.read(self.proc.fd, 1 << 16)
                except OSError:
                    Path("/tmp/reload_bx.log").write_bytes(self.buf)
                    raise SystemExit("buildx ended: /tmp/reload_bx.log") from None
                self.buf += data
                if b"\x1b[6n" in data:
                    os.write(self.proc.fd, b"\x1b[1;1R")
        return time.perf_counter()

    def reload(self) -> tuple[float, float]:
        start = len(self.buf)
        os.write(self.proc.fd, b"\x01c")
        self.until(rb"\(buildx\) ", start, 30)
        start = len(self.buf)
        t0 = time.perf_counter()
        os.write(self.proc.fd, b"reload\n")
        shown = self.until(rb"ERROR: process", start, 40)
        prompt = self.until(PROMPT, start, 60)
        return shown - t0, prompt - t0

    def close(self) -> None:
        os.write(self.proc.fd, b"\x01c")
        self.until(rb"\(buildx\) ", len(self.buf) - 200, 30)
        os.write(self.proc.fd, b"exit\n")
        deadline = time.monotonic() + 30
        while self.proc.isalive() and time.monotonic() < deadline:
            r, _, _ = select.select([self.proc.fd], [], [], 0.2)
            if r:
                try:
                    os.read(self.proc.fd, 1 << 16)
                except OSError:
                    break
        if self.proc.isalive():
            self.proc.terminate(force=True)


def summary(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3),
            "max": round(max(values), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--json")
    parser.add_argument("--buildx", action="store_true",
                        help="also time buildx 0.13.1's monitor reload (it hung here: README)")
    args = parser.parse_args()
    env = dict(os.environ, DOCKER_HOST=DOCKER_HOST, BUILDX_EXPERIMENTAL="1", TERM="xterm",
               BUILDX_NO_DEFAULT_ATTESTATIONS="1")
    tmp = tempfile.mkdtemp(prefix="bxtui-bench-reload-")
    try:
        ctx = os.path.join(tmp, "fail-run")
        shutil.copytree(REPO / "examples" / "fail-run", ctx)
        load0 = os.getloadavg()
        App(ctx, env).close()  # the warm-up builds
        if args.buildx:
            Buildx(ctx, env).close()
        times: dict[str, list[float]] = {"bxtui r": [], "bxtui restart": [],
                                         "buildx reload (failure)": [],
                                         "buildx reload (prompt)": []}
        for rep in range(args.reps):
            # one tool open at a time (buildx 0.13.1's reload hung with bxtui's build open)
            tools = ("app", "buildx") if rep % 2 == 0 else ("buildx", "app")
            for tool in tools if args.buildx else ("app",):
                if tool == "app":
                    app = App(ctx, env)
                    try:
                        times["bxtui r"].append(app.reload())
                        times["bxtui restart"].append(app.restart())
                    finally:
                        app.close()
                else:
                    buildx = Buildx(ctx, env)
                    try:
                        shown, prompt = buildx.reload()
                        times["buildx reload (failure)"].append(shown)
                        times["buildx reload (prompt)"].append(prompt)
                    finally:
                        buildx.close()
        out = {"reps": args.reps, "load_before": [round(x, 2) for x in load0],
               "load_after": [round(x, 2) for x in os.getloadavg()],
               **{name: summary(v) for name, v in times.items() if v}}
        print(json.dumps(out, indent=2))
        if args.json:
            Path(args.json).write_text(json.dumps(out, indent=2))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
