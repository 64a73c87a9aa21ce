"""A long flood in the failed step's shell: the app's terminal, headless bxtui, buildx debug.

A cached failing build (the Dockerfile of ``bench_app.py``: its last ``RUN`` exits 3); the shell
is opened in the failed step by each tool, in a fresh real PTY of 140x45 that this script
drains continuously (reads of up to 64 KiB; only a window of the raw stream is kept, scanned
for markers):

- ``buildx``: ``docker-buildx debug --on=error --invoke /bin/sh build --progress=plain CTX``
  (buildx 0.13.1; busybox's ``ESC[6n`` is answered).
- ``headless``: ``bxtui build --progress=plain --invoke /bin/sh CTX``.
- ``app``: ``bxtui build CTX``, ``z`` (zoom) then ``f`` (the shell in the terminal pane); the
  screen is a pyte emulator until the prompt shows, then only the raw stream is scanned.

Then ``time sh -c 'yes LINE | head -c N'; echo END$((6*7))`` is typed; once its echo is back,
Enter is sent and the clock starts. The flood's wall time ends with the read that brings
``END42`` (all of the output has been delivered: written by buildx / headless bxtui, drawn by
the app). MB/s is N over that time. ``real`` is what busybox's ``time`` printed (the writer's
side: it ends once the rest fits in the buffers between it and us).

For the app, during the flood (from 1 s after Enter, every ``--probe-every`` s) the script
presses ctrl+] (focus back to the panes) or ``t`` (focus to the terminal) in turn and
measures the time until the footer shows the change (the key read, dispatched, the focus
moved and the frame written to the PTY); neither key reaches the shell. ``BXTUI_FRAME_STATS``
gives the event loop's lags over 16 ms with their times, so the largest lag inside the
flood's window is known, and when the app received each key (its key log), so the latency
splits into the key's arrival and its drawing. For bxtui and buildx, the CPU seconds of the
process (and for bxtui of its busiest threads) during the flood (``/proc``); ``drain_cpu_s``
is this script's own CPU meanwhile. The tools alternate, rotating the order; one untimed
warm-up run per tool first caches the build.

    .venv/bin/python bench/bench_flood.py [--reps 3] [--mb 100] [--only app ...]
        [--before TREE] [--probe-every S] [--json F]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_app import BUILDX, DOCKER_HOST, DOCKERFILE, Term, bxtui_command, tui_digest

REPO = Path(__file__).resolve().parent.parent
ROWS, COLS = 45, 140
PROMPT = re.compile(rb"(?m)[#$] (?:\x1b\[J)?$")
APP_PROMPT = "/work # "
LINE = "flood 0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ"
END = b"END42"
REAL = re.compile(rb"real\s+(?:(\d+)m\s*)?([\d.]+)s")
THREADS: list[dict[str, float]] = []
"""CPU seconds of the busiest threads during each flood (bxtui's; buildx's are Go's)."""


def flood_command(total: int, line: str) -> str:
    return f"time sh -c 'yes {line} | head -c {total}'; echo END$((6*7))"


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds per thread: ``main``, ``niced`` (bxtui's parsing thread), else by name."""
    out: dict[str, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            head, rest = (task / "stat").read_text().rsplit(")", 1)
        except OSError:
            continue
        fields = rest.split()
        name = ("main" if task.name == str(pid) else "niced" if int(fields[16]) > 0
                else head.split("(", 1)[1])
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return out


class Probe:
    """ctrl+] and t in turn during the flood, each timed until the app's footer shows it.

    ctrl+] gives the focus back to the panes (the footer lists ``Quit``), ``t`` returns it
    to the terminal (the footer says ``Back to panes``); neither reaches the shell.
    """

    KEYS = ((b"\x1d", b"Quit"), (b"t", b"Back to panes"))
    NAMES = {b"\x1d": "ctrl+right_square_bracket", b"t": "t"}

    def __init__(self, term: Term, every: float) -> None:
        self.term = term
        self.every = every
        self.next_at = 0.0
        self.sent_at = 0.0
        self.turn = 0
        self.latencies: list[float] = []
        self.sent: list[tuple[float, str]] = []
        """When each key was written, and Textual's name for it."""

    def start(self, t0: float) -> None:
        self.next_at = t0 + 1.0

    def step(self, now: float) -> None:
        term = self.term
        key, shown = self.KEYS[self.turn % 2]
        if self.sent_at:
            seen = term.markers.get(shown, 0.0)
            if seen:
                self.latencies.append(seen - self.sent_at)
                self.sent_at = 0.0
                self.turn += 1
                self.next_at = now + self.every
        elif now >= self.next_at:
            term.markers[shown] = 0.0
            self.sent_at = term.send(key)
            self.sent.append((self.sent_at, self.NAMES[key]))

    def finish(self) -> None:
        """After the flood: the terminal focused again (the last key counted if pending)."""
        if self.sent_at:
            self.latencies.append(time.perf_counter() - self.sent_at)
            _, shown = self.KEYS[self.turn % 2]
            self.term.wait(lambda: bool(self.term.markers.get(shown)), 30, shown.decode())
            self.turn += 1
        if self.turn % 2:
            self.term.markers[b"Back to panes"] = 0.0
            self.term.send(b"t")
            self.term.wait(lambda: bool(self.term.markers[b"Back to panes"]), 30, "t")


def flood(term: Term, total: int, line: str, probe: Probe | None = None,
          pid: int | None = None) -> dict[str, float]:
    """Type the flood, wait for its echo, Enter; seconds until END42 arrives."""
    cmd = flood_command(total, line)
    echo = cmd.encode()[-12:]
    term.raw.clear()
    term.send(cmd.encode())
    term.wait(lambda: echo in term.raw, 30, "the command's echo")
    term.markers = {END: 0.0}
    cpu0 = cpu_seconds(pid) if pid else 0.0
    own0 = time.process_time()
    threads0 = thread_cpu(pid) if pid else {}
    start = term.send(b"\r")
    if probe is not None:
        probe.start(start)
    deadline = start + 900
    while not term.markers[END]:
        now = time.perf_counter()
        if now > deadline or (term.closed and not term.alive()):
            term.kill()
            raise RuntimeError(f"the flood did not end; last output:\n{bytes(term.raw[-800:])!r}")
        term.pump(0.02)
        if probe is not None:
            probe.step(time.perf_counter())
    end = term.markers[END]
    if probe is not None:
        probe.finish()
    # busybox's time prints after the flood; END42 follows it
    tail = bytes(term.raw[-4096:])
    m = next(reversed(list(REAL.finditer(tail))), None)
    out = {"flood_s": end - start, "MB/s": total / 1e6 / (end - start),
           "real_s": (int(m[1] or 0) * 60 + float(m[2])) if m else float("nan"),
           "from": start, "to": end, "drain_cpu_s": time.process_time() - own0}
    if pid:
        out["cpu_s"] = cpu_seconds(pid) - cpu0
        threads = thread_cpu(pid)
        busy = sorted(((v - threads0.get(k, 0.0), k) for k, v in threads.items()), reverse=True)
        THREADS.append({k: round(v, 2) for v, k in busy[:5]})
    return out


def leave(term: Term, timeout: float = 60) -> None:
    """``exit`` the shell (and buildx's monitor console) and wait for the process to end."""
    term.raw.clear()
    term.send(b"exit\r")
    deadline = time.perf_counter() + timeout
    while term.alive():
        if time.perf_counter() > deadline:
            term.kill()
            raise RuntimeError("the process did not exit")
        term.pump(0.02)
        if term.raw.endswith(b"(buildx) "):
            term.raw.clear()
            term.send(b"exit\r")
    term.finish(5)


def run_shell(argv: list[str], env: dict[str, str], total: int, line: str,
              _every: float) -> dict[str, float]:
    term = Term(argv, env, rows=ROWS, cols=COLS)
    try:
        term.wait_raw(PROMPT, 120, "the shell prompt")
        pid = term.proc.pid
        result = flood(term, total, line, pid=pid)
        leave(term)
    except BaseException:
        term.kill()
        raise
    return result


def run_app(argv: list[str], env: dict[str, str], total: int, line: str,
            every: float) -> dict[str, float]:
    stats = Path(tempfile.mkdtemp(prefix="bxtui-bench-flood-")) / "frames.json"
    env = dict(env, BXTUI_FRAME_STATS=str(stats))
    term = Term(argv, env, screen=True, rows=ROWS, cols=COLS)
    try:
        term.wait_screen(["FAILED", "exit code 3"], 120, "FAILED and exit code 3")
        term.send(b"z")
        term.send(b"f")
        term.wait(lambda: APP_PROMPT in term.text(), 60, "the shell prompt")
        term.stream = None  # from now on only the raw stream is scanned
        probe = Probe(term, every)
        result = flood(term, total, line, probe, pid=term.proc.pid)
        term.raw.clear()
        term.send(b"exit\r")
        term.wait(lambda: b"exited with status" in term.raw, 60, "the shell to end")
        term.send(b"q")
        term.finish(60)
    except BaseException:
        term.kill()
        raise
    frames = json.loads(stats.read_text())
    shutil.rmtree(stats.parent, ignore_errors=True)
    lags = [lag for at, lag in frames.get("lag_log", []) if result["from"] <= at <= result["to"]]
    result["max_lag_ms"] = max(lags, default=0.0)
    result["lags_over_16ms"] = len(lags)
    lat = sorted(probe.latencies)
    result["key_ms_median"] = statistics.median(lat) * 1e3 if lat else float("nan")
    result["key_ms_max"] = lat[-1] * 1e3 if lat else float("nan")
    result["keys"] = len(lat)
    # when the app received each key (its key log, same clock): the rest is drawing it. The
    # log is matched in order and by name; the bench reads its clock after the write returns,
    # so a key can be logged a little before its sent_at (0 then).
    log = iter(frames.get("key_log", []))
    got = []
    for sent_at, name in probe.sent:
        for at, key in log:
            if key == name and at >= sent_at - 0.05:
                got.append(max(at - sent_at, 0.0))
                break
    result["key_in_ms_median"] = statistics.median(got) * 1e3 if got else float("nan")
    result["key_in_ms_max"] = max(got) * 1e3 if got else float("nan")
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--mb", type=float, default=100.0, help="megabytes of output (1e6)")
    ap.add_argument("--line", default=LINE, help="what yes repeats")
    ap.add_argument("--probe-every", type=float, default=1.0)
    ap.add_argument("--only", action="append", choices=["app", "buildx", "headless"])
    ap.add_argument("--tree", type=Path, default=REPO)
    ap.add_argument("--before", type=Path,
                    help="also run app and headless bxtui from this copy of the repository "
                         "(e.g. the branch point), as app@before and headless@before")
    ap.add_argument("--json")
    args = ap.parse_args()
    total = int(args.mb * 1e6)
    base_env = dict(os.environ, DOCKER_HOST=DOCKER_HOST, BUILDX_EXPERIMENTAL="1",
                    BUILDX_NO_DEFAULT_ATTESTATIONS="1", TERM="xterm-256color")
    base_env.pop("BXTUI_FRAME_STATS", None)
    ctx = tempfile.mkdtemp(prefix="bxtui-bench-flood-")
    Path(ctx, "Dockerfile").write_text(DOCKERFILE)
    kinds = [k for k in ("buildx", "headless", "app") if not args.only or k in args.only]
    tools: dict[str, tuple[str, list[str], dict[str, str]]] = {}
    if "buildx" in kinds:
        tools["buildx"] = ("buildx", [BUILDX, "debug", "--on=error", "--invoke", "/bin/sh",
                                      "build", "--progress=plain", ctx], base_env)
    for suffix, tree in (("", args.tree), ("@before", args.before)):
        if tree is None:
            continue
        env = dict(base_env)
        bxtui = bxtui_command(tree, env)
        if "headless" in kinds:
            tools["headless" + suffix] = (
                "headless", [*bxtui, "build", "--progress=plain", "--invoke", "/bin/sh", ctx], env)
        if "app" in kinds:
            tools["app" + suffix] = ("app", [*bxtui, "build", ctx], env)
    names = list(tools)
    runner = {"app": run_app, "buildx": run_shell, "headless": run_shell}
    results: dict[str, list[dict[str, float]]] = {n: [] for n in names}
    load = [os.getloadavg()[0]]
    try:
        for kind, argv, env in tools.values():  # warm-up: the build cached, buildx's server
            runner[kind](argv, env, 1000, args.line, args.probe_every)
        for rep in range(args.reps):
            for name in names[rep % len(names):] + names[:rep % len(names)]:
                kind, argv, env = tools[name]
                r = runner[kind](argv, env, total, args.line, args.probe_every)
                results[name].append(r)
                load.append(os.getloadavg()[0])
                shown = " ".join(f"{k} {v:.2f}" for k, v in r.items() if k not in ("from", "to"))
                print(f"rep {rep + 1} {name:15s} {shown}  (load {load[-1]:.1f})",
                      file=sys.stderr, flush=True)
                if THREADS and kind != "buildx":
                    print(f"      threads {THREADS[-1]}", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(ctx, ignore_errors=True)

    print(f"\n{args.mb:g} MB of `yes {args.line}`, {COLS}x{ROWS}, {args.reps} reps, "
          f"load {min(load):.1f}-{max(load):.1f}")
    summary: dict[str, dict[str, float]] = {}
    for name, runs in results.items():
        secs = [r["flood_s"] for r in runs]
        summary[name] = {"flood_s_median": statistics.median(secs), "flood_s_min": min(secs),
                         "MB/s_median": total / 1e6 / statistics.median(secs)}
        extra = ""
        if tools[name][0] == "app":
            summary[name]["key_ms_max"] = max(r["key_ms_max"] for r in runs)
            summary[name]["key_ms_median"] = statistics.median(r["key_ms_median"] for r in runs)
            summary[name]["max_lag_ms"] = max(r["max_lag_ms"] for r in runs)
            extra = (f"  key→shown median {summary[name]['key_ms_median']:.0f} ms, max "
                     f"{summary[name]['key_ms_max']:.0f} ms; loop lag max "
                     f"{summary[name]['max_lag_ms']:.0f} ms")
        print(f"{name:15s} flood {summary[name]['flood_s_median']:6.2f} s median "
              f"({summary[name]['flood_s_min']:.2f} min)  {summary[name]['MB/s_median']:5.2f} MB/s"
              + extra)
    if "buildx" in summary:
        base = summary["buildx"]["flood_s_median"]
        for name in names:
            if name != "buildx":
                print(f"{name} throughput / buildx: {base / summary[name]['flood_s_median']:.2f}x"
                      " (medians)")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "runs": results, "summary": summary, "mb": args.mb, "line": args.line,
            "tui_digest": tui_digest(args.tree),
            "before_digest": tui_digest(args.before) if args.before else None,
            "date": time.strftime("%Y-%m-%d %H:%M:%S"), "load": load}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
