"""The app on a cached failing build: launch to failure shown, keypress to shell prompt.

Each run is a fresh real PTY (140x40) against the same daemon, after one untimed warm-up run
per tool so every step but the failing one is cached; the tools alternate, rotating the order.

- ``app``: ``bxtui build CTX`` (the Textual app). Seconds from spawn until the screen shows
  both ``FAILED`` and ``exit code 3``; seconds from writing ``f`` until the shell's prompt is
  on the screen (in the terminal pane); then ``exit`` (until ``exited with status 0`` shows)
  and ``q``: seconds from ``q`` to the process ending, and from ``exit`` to the process
  ending (teardown, comparable to buildx's). The screen is a pyte emulator fed with every
  read; each time is that of the read which completed the match.
- ``buildx``: ``docker-buildx debug --on=error --invoke /bin/sh build --progress=plain CTX``,
  spawn to prompt (the raw stream; its shell's ESC[6n cursor query is answered), teardown.
- ``headless``: ``bxtui build --progress=plain --invoke /bin/sh CTX``, spawn to prompt,
  teardown (the same as ``bench_invoke.py``, at 140x40).

Peak RSS is the child's ``ru_maxrss`` from ``wait4`` (a detached buildx server is not
counted).  Then the import cost: ``-X importtime`` of ``tui.cli``, of ``tui.ui.app``, and of
what the app path loads (``tui.cli`` + ``tui.ui.run``), and whether the headless path
loads Textual.

    .venv/bin/python bench/bench_app.py [--reps 10] [--json out.json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import ptyprocess
import pyte

REPO = Path(__file__).resolve().parent.parent
PYTHON = REPO / ".venv" / "bin" / "python"
BXTUI = REPO / ".venv" / "bin" / "bxtui"
BUILDX = os.environ.get("BXTUI_BUILDX", "/var/lib/bxtui-daemon/tools/docker-buildx")
DOCKER_HOST = os.environ.get("DOCKER_HOST", "unix:///run/bxtui-daemon/docker.sock")
ROWS, COLS = 40, 140
# the headless shells' prompt, on the raw stream (busybox may clear after it: ESC [J)
PROMPT = re.compile(rb"(?m)^[^\n]*[#$] (?:\x1b\[[0-9;]*[A-Za-z])*$")
APP_PROMPT = re.compile(r"/work # ")  # the prompt inside the app's terminal pane
DOCKERFILE = (
    "FROM busybox:local\n"
    "WORKDIR /work\n"
    "RUN echo prepared > /work/prepared.txt\n"
    "RUN echo partial > /work/partial.txt && exit 3\n"
)
GOALS = {"failure_s": 0.6, "prompt_after_key_s": 0.15}


class Term:
    """A process in a PTY whose output is drained as it comes; every wait is bounded.

    ``screen=True`` feeds a pyte screen too (fine for small outputs); otherwise only the last
    ``keep`` bytes of the raw stream are kept.  ``last_read`` is when the latest read returned.
    """

    def __init__(self, argv: Sequence[str], env: dict[str, str], *, screen: bool = False,
                 keep: int = 1 << 16, rows: int = ROWS, cols: int = COLS) -> None:
        self.screen = pyte.Screen(cols, rows) if screen else None
        self.stream = pyte.ByteStream(self.screen) if self.screen is not None else None
        self.keep = keep
        self.raw = bytearray()
        self.nbytes = 0
        self.last_read = 0.0
        self.closed = False
        self.status: int | None = None
        self.rusage: object | None = None
        #: marker -> perf_counter of the read in which it first appeared in the raw stream
        self.markers: dict[bytes, float] = {}
        self.t0 = time.perf_counter()
        self.proc = ptyprocess.PtyProcess.spawn(list(argv), env=env, dimensions=(rows, cols),
                                                cwd=env.get("PYTHONPATH"))

    def text(self) -> str:
        assert self.screen is not None
        return "\n".join(self.screen.display)

    def pump(self, timeout: float) -> None:
        """Read all that is there (waiting at most ``timeout`` for the first byte)."""
        if self.closed:
            time.sleep(min(timeout, 0.01))
            return
        got = bytearray()
        wait = timeout
        while len(got) < (4 << 20) and select.select([self.proc.fd], [], [], wait)[0]:
            try:
                data = os.read(self.proc.fd, 1 << 16)
            except OSError:  # EIO: the child side is closed
                data = b""
            if not data:
                self.closed = True
                break
            got += data
            wait = 0
        if not got:
            return
        self.last_read = time.perf_counter()
        self.nbytes += len(got)
        if b"\x1b[6n" in got:  # a cursor-position query (busybox ash under buildx): answer it
            self.proc.write(b"\x1b[1;1R")
            got = got.replace(b"\x1b[6n", b"")
        if self.stream is not None:
            self.stream.feed(bytes(got))
        self.raw += got
        for marker in self.markers:
            if not self.markers[marker] and marker in self.raw[-(len(got) + len(marker)):]:
                self.markers[marker] = self.last_read
        if len(self.raw) > self.keep:
            del self.raw[:-self.keep]

    def wait(self, test: Callable[[], bool], timeout: float, what: str) -> float:
        """Pump until ``test()``; the time (perf_counter) of the read that satisfied it."""
        deadline = time.perf_counter() + timeout
        while not test():
            if time.perf_counter() > deadline or (self.closed and not self.alive()):
                tail = self.text() if self.screen is not None else bytes(self.raw[-800:])
                self.kill()
                raise RuntimeError(f"timed out waiting for {what}; last output:\n{tail!s}")
            self.pump(0.05)
        return self.last_read

    def wait_raw(self, pattern: re.Pattern[bytes], timeout: float, what: str) -> float:
        return self.wait(lambda: bool(pattern.search(self.raw)), timeout, what)

    def wait_screen(self, patterns: Sequence[str], timeout: float, what: str) -> float:
        def test() -> bool:
            text = self.text()
            return all(p in text for p in patterns)
        return self.wait(test, timeout, what)

    def send(self, data: bytes) -> float:
        self.proc.write(data)
        return time.perf_counter()

    def alive(self) -> bool:
        if self.status is not None:
            return False
        pid, status, ru = os.wait4(self.proc.pid, os.WNOHANG)
        if pid == 0:
            return True
        self._reaped(status, ru)
        return False

    def _reaped(self, status: int, ru: object) -> None:
        self.status = os.waitstatus_to_exitcode(status)
        self.rusage = ru
        self.proc.terminated = True  # ptyprocess must not wait for it again
        self.proc.exitstatus = self.status

    def finish(self, timeout: float) -> float:
        """Drain until the process has ended; the time it was reaped."""
        deadline = time.perf_counter() + timeout
        while self.alive():
            if time.perf_counter() > deadline:
                self.kill()
                raise RuntimeError("the process did not exit")
            self.pump(0.01)
        done = time.perf_counter()
        self.proc.close()
        return done

    def kill(self) -> None:
        if self.status is None:
            self.proc.kill(9)
            _, status, ru = os.wait4(self.proc.pid, 0)
            self._reaped(status, ru)
        self.proc.close()

    def peak_rss_mib(self) -> float:
        return getattr(self.rusage, "ru_maxrss", 0) / 1024

    def cpu_s(self) -> float:
        return getattr(self.rusage, "ru_utime", 0.0) + getattr(self.rusage, "ru_stime", 0.0)


def commands(ctx: str, bxtui: list[str]) -> dict[str, list[str]]:
    return {
        "app": [*bxtui, "build", ctx],
        "buildx": [BUILDX, "debug", "--on=error", "--invoke", "/bin/sh", "build",
                   "--progress=plain", ctx],
        "headless": [*bxtui, "build", "--progress=plain", "--invoke", "/bin/sh", ctx],
    }


def bxtui_command(tree: Path, env: dict[str, str]) -> list[str]:
    """The console script, or ``python -m tui`` from another tree (set on ``env``)."""
    if tree.resolve() == REPO:
        return [str(BXTUI)]
    env["PYTHONPATH"] = str(tree.resolve())
    return [str(PYTHON), "-m", "tui"]


THINK_S = 0.0
"""Seconds a user reads the failure before pressing ``f`` (``--think``)."""


def run_app(argv: list[str], env: dict[str, str]) -> dict[str, float]:
    term = Term(argv, env, screen=True)
    try:
        failed = term.wait_screen(["FAILED", "exit code 3"], 120, "FAILED and exit code 3")
        if THINK_S:
            until = time.perf_counter() + THINK_S
            term.wait(lambda: time.perf_counter() >= until, THINK_S + 5, "the reading time")
        key = term.send(b"f")
        prompt = term.wait(lambda: bool(APP_PROMPT.search(term.text())), 60, "the shell prompt")
        t_exit = term.send(b"exit\r")
        term.wait_screen(["exited with status 0"], 30, "the shell to end")
        t_q = term.send(b"q")
        gone = term.finish(60)
    except BaseException:
        term.kill()
        raise
    if term.status != 1:
        raise RuntimeError(f"bxtui app exited with status {term.status}, expected 1")
    return {"failure_s": failed - term.t0, "prompt_after_key_s": prompt - key,
            "shell_exit_s": t_q - t_exit, "quit_s": gone - t_q, "teardown_s": gone - t_exit,
            "rss_mib": term.peak_rss_mib(), "cpu_s": term.cpu_s()}


def run_shell(argv: list[str], env: dict[str, str]) -> dict[str, float]:
    """buildx debug / headless bxtui: spawn to prompt, ``exit`` to process end."""
    term = Term(argv, env)
    try:
        prompt = term.wait_raw(PROMPT, 120, "the shell prompt")
        t_exit = term.send(b"exit\r")
        deadline = time.perf_counter() + 60
        while term.alive():
            if time.perf_counter() > deadline:
                raise RuntimeError(f"{argv[0]} did not exit")
            term.pump(0.01)
            if term.raw.endswith(b"(buildx) "):  # buildx's monitor console: leave it too
                term.raw.clear()
                term.send(b"exit\r")
        gone = term.finish(5)
    except BaseException:
        term.kill()
        raise
    return {"prompt_s": prompt - term.t0, "teardown_s": gone - t_exit,
            "rss_mib": term.peak_rss_mib(), "cpu_s": term.cpu_s()}


# -- import cost -----------------------------------------------------------------------------
def importtime(code: str, env: dict[str, str]) -> list[tuple[int, int, int, str]]:
    """(self µs, cumulative µs, depth, module) per line of ``-X importtime``."""
    out = subprocess.run([str(PYTHON), "-X", "importtime", "-c", code], env=env,
                         cwd=env.get("PYTHONPATH", REPO),
                         capture_output=True, text=True, timeout=60, check=True).stderr
    rows = []
    for line in out.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if m:
            rows.append((int(m[1]), int(m[2]), len(m[3]) // 2, m[4]))
    return rows


def import_cost(code: str, env: dict[str, str], reps: int = 5) -> dict[str, object]:
    """Median over ``reps`` of the top-level cumulative µs of what ``code`` imports."""
    base = {r[3] for r in importtime("pass", env)}
    totals, last = [], []
    for _ in range(reps):
        last = [r for r in importtime(code, env) if r[3] not in base]
        totals.append(sum(cum for _, cum, depth, _ in last if depth == 0))
    top = sorted(((cum, mod) for _, cum, depth, mod in last if depth == 1), reverse=True)[:8]
    return {"total_ms": statistics.median(totals) / 1000, "min_ms": min(totals) / 1000,
            "top_ms": [(mod, round(cum / 1000, 1)) for cum, mod in top]}


def imports_report(env: dict[str, str]) -> dict[str, object]:
    report: dict[str, object] = {
        "tui.cli": import_cost("import tui.cli", env),
        "tui.ui.app": import_cost("import tui.ui.app", env),
        "tui.cli + tui.ui.run (app path)": import_cost("import tui.cli, tui.ui.run", env),
    }
    probe = subprocess.run([str(PYTHON), "-c",
                            "import tui.cli, sys; print('textual' in sys.modules)"],
                           env=env, cwd=env.get("PYTHONPATH", REPO), capture_output=True,
                           text=True, timeout=60)
    report["headless_imports_textual"] = probe.stdout.strip()
    return report


# -- report ----------------------------------------------------------------------------------
def tui_digest(tree: Path) -> str:
    h = hashlib.sha256()
    for p in sorted((tree / "tui").rglob("*.py")):
        h.update(p.relative_to(tree).as_posix().encode() + b"\0" + p.read_bytes())
    return h.hexdigest()[:16]


def med_min(runs: list[dict[str, float]], key: str) -> tuple[float, float]:
    values = [r[key] for r in runs]
    return statistics.median(values), min(values)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--json")
    ap.add_argument("--only", action="append", choices=["app", "buildx", "headless"],
                    help="run only these tools (repeatable)")
    ap.add_argument("--no-imports", action="store_true", help="skip the import-cost part")
    ap.add_argument("--think", type=float, default=0.0,
                    help="seconds between the failure shown and pressing f (a user reading)")
    ap.add_argument("--tree", type=Path, default=REPO,
                    help="run bxtui (python -m tui) and measure imports from this copy of the "
                         "repository instead of the checkout")
    args = ap.parse_args()
    global THINK_S
    THINK_S = args.think
    env = dict(os.environ, DOCKER_HOST=DOCKER_HOST, BUILDX_EXPERIMENTAL="1",
               BUILDX_NO_DEFAULT_ATTESTATIONS="1", TERM="xterm-256color")
    env.pop("BXTUI_FRAME_STATS", None)
    ctx = tempfile.mkdtemp(prefix="bxtui-bench-app-")
    try:
        Path(ctx, "Dockerfile").write_text(DOCKERFILE)
        every = commands(ctx, bxtui_command(args.tree, env))
        cmds = {k: v for k, v in every.items() if not args.only or k in args.only}
        runner = {"app": run_app, "buildx": run_shell, "headless": run_shell}
        for name, argv in cmds.items():  # warm the cache (and buildx's detached server)
            runner[name](argv, env)
        results: dict[str, list[dict[str, float]]] = {k: [] for k in cmds}
        names = list(cmds)
        for rep in range(args.reps):
            for name in names[rep % len(names):] + names[:rep % len(names)]:
                r = runner[name](cmds[name], env)
                results[name].append(r)
                shown = " ".join(f"{k} {v:.3f}" for k, v in r.items())
                print(f"rep {rep + 1:2d} {name:8s} {shown}", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(ctx, ignore_errors=True)

    summary: dict[str, dict[str, float]] = {}
    print(f"\n{'tool':9s} {'measure':22s} {'median':>9s} {'min':>9s}")
    for name, runs in results.items():
        summary[name] = {}
        for key in runs[0]:
            med, low = med_min(runs, key)
            summary[name][key + "_median"], summary[name][key + "_min"] = med, low
            unit = " MiB" if key == "rss_mib" else " s"
            print(f"{name:9s} {key:22s} {med:7.3f}{unit:2s} {low:7.3f}{unit}")
    print()
    verdicts = {}
    if "app" in summary:
        for key, goal in GOALS.items():
            med = summary["app"][key + "_median"]
            verdicts[key] = med <= goal
            print(f"app {key}: median {med:.3f} s, goal <= {goal} s: "
                  f"{'met' if med <= goal else 'MISSED'}")
    if "headless" in summary and "buildx" in summary:
        ratio = summary["headless"]["prompt_s_median"] / summary["buildx"]["prompt_s_median"]
        low = summary["headless"]["prompt_s_min"] / summary["buildx"]["prompt_s_min"]
        verdicts["headless_vs_buildx"] = ratio <= 1.0
        print(f"headless/buildx launch to prompt: {ratio:.2f}x median ({low:.2f}x min), "
              f"goal <= 1.0x: {'met' if ratio <= 1.0 else 'MISSED'}")

    imports = None if args.no_imports else imports_report(env)
    if imports is not None:
        print("\nimport cost (-X importtime, top-level cumulative, median of 5):")
        for what, cost in imports.items():
            if isinstance(cost, dict):
                tops = ", ".join(f"{m} {ms}" for m, ms in cost["top_ms"][:6])
                print(f"  {what:32s} {cost['total_ms']:6.1f} ms (min {cost['min_ms']:.1f})"
                      f"   largest: {tops}")
        print(f"  headless path imports textual: {imports['headless_imports_textual']}")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "runs": results, "summary": summary, "verdicts": verdicts, "imports": imports,
            "tui_digest": tui_digest(args.tree), "tree": str(args.tree),
            "date": time.strftime("%Y-%m-%d %H:%M:%S"),
            "loadavg": os.getloadavg(),
        }, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
