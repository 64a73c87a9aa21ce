"""A wide, log-heavy build: ~450 vertices, ~800,000 log lines, buildx --progress=plain vs the app.

The generated Dockerfile has ``--stages`` stages ``FROM busybox:local AS sN`` (default 8), each
with ``--steps`` ``RUN`` steps (default 55) that print ``--lines`` numbered lines (default
1,820: a third to stdout, a third to stderr, a third to stdout again; every line names its
stage and step, so no two steps are alike and none is merged), and a final stage that copies
one small file from each stage, so every stage is built.  Every run uses ``--no-cache``.

Tools, alternating (the first one rotates each rep), after one untimed warm-up each:

- ``buildx``: ``docker-buildx build --progress=plain --no-cache CTX``, its output to a file.
  Wall time: spawn to process exit.
- ``app``: ``bxtui build --no-cache CTX`` in a real PTY (140x40) with ``BXTUI_FRAME_STATS``.
  The output is drained continuously and only searched (no emulator) for ``SUCCEEDED``.
  Wall time: spawn to the read that showed ``SUCCEEDED``; ``--linger`` seconds later (default
  2) ``q`` is sent, so that what the app does after the build is measured apart from the quit.

Per run: wall time, the client's CPU (user+sys) and peak RSS from ``wait4`` (for the app
including its teardown after ``q``), dockerd's CPU (its own plus reaped children, the ``runc``
processes, from ``/proc/PID/stat``) and containerd's, and the app's frame statistics: the
worst loop lag per phase (starting: mount to first paint; building; after the build until
``q``; closing), when it began, and how much of it was the loop thread's own CPU time and how
much waiting for a CPU (``runq``); and per phase the most CPU time the loop spent within one
5 ms tick (``max_tick_cpu``: the lag an idle machine would show).

    .venv/bin/python bench/bench_wide.py [--reps 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_app import BUILDX, DOCKER_HOST, REPO, Term, bxtui_command, tui_digest

DAEMON_PID = Path("/run/bxtui-daemon/dockerd.pid")
GOALS = {"wall_ratio": 1.05, "cpu_ratio": 3.0, "rss_mib": 300, "frame_ms": 50}
TIMEOUT = 1800.0


def dockerfile(stages: int, steps: int, lines: int) -> str:
    third = lines // 3
    out = []
    for s in range(1, stages + 1):
        out.append(f"FROM busybox:local AS s{s}")
        for r in range(1, steps + 1):
            tag = f"s{s} r{r:02d}"
            run = (f"seq 1 {third} | sed 's/^/{tag} out /' && "
                   f"seq {third + 1} {2 * third} | sed 's/^/{tag} err /' >&2 && "
                   f"seq {2 * third + 1} {lines} | sed 's/^/{tag} out /'")
            if r == steps:
                run += f" && echo {tag} > /s{s}.done"
            out.append(f"RUN {run}")
        out.append("")
    out.append("FROM busybox:local")
    out += [f"COPY --from=s{s} /s{s}.done /done/" for s in range(1, stages + 1)]
    return "\n".join(out) + "\n"


def proc_cpu_s(pid: int) -> float:
    """utime + stime + cutime + cstime of ``pid``, in seconds (0 if it cannot be read)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def daemon_pids() -> dict[str, int]:
    """dockerd (from its pid file) and its containerd child, when readable."""
    try:
        dockerd = int(DAEMON_PID.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return {}
    pids = {"dockerd": dockerd}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            comm, rest = stat.read_text().rsplit(")", 1)
        except OSError:
            continue
        if comm.endswith("(containerd") and int(rest.split()[1]) == dockerd:
            pids["containerd"] = int(stat.parent.name)
    return pids


def busy_s() -> float:
    """All CPUs' non-idle time so far, from /proc/stat (for the noise column)."""
    f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(f[:8]) - f[3] - f[4]) / os.sysconf("SC_CLK_TCK")


def run_buildx(ctx: str, env: dict[str, str], logdir: Path) -> dict[str, float]:
    log = logdir / "buildx.log"
    with log.open("wb") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen([BUILDX, "build", "--progress=plain", "--no-cache", ctx],
                                env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        deadline = t0 + TIMEOUT
        while True:
            pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                proc.wait()
                raise RuntimeError("buildx timed out")
            time.sleep(0.005)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"buildx failed ({proc.returncode}); see {log}")
    with log.open("rb") as f:
        nlines = sum(1 for _ in f)
    return {"wall_s": wall, "cpu_s": ru.ru_utime + ru.ru_stime, "rss_mib": ru.ru_maxrss / 1024,
            "output_lines": nlines}


def run_app(ctx: str, env: dict[str, str], logdir: Path, bxtui: list[str],
            linger: float) -> dict[str, float]:
    stats = logdir / "frames.json"
    stats.unlink(missing_ok=True)
    term = Term([*bxtui, "build", "--no-cache", ctx], dict(env, BXTUI_FRAME_STATS=str(stats)))
    term.markers = {b"SUCCEEDED": 0.0, b"FAILED": 0.0}
    try:
        done = term.wait(lambda: any(term.markers.values()), TIMEOUT, "SUCCEEDED")
        if term.markers[b"FAILED"]:
            raise RuntimeError(f"the build failed: {bytes(term.raw[-2000:])!r}")
        if linger:  # the view stays open: what runs after the build is not hidden by the quit
            until = time.perf_counter() + linger
            term.wait(lambda: time.perf_counter() >= until, linger + 5, "the linger time")
        t_q = term.send(b"q")
        gone = term.finish(120)
    except BaseException:
        term.kill()
        raise
    if term.status != 0:
        raise RuntimeError(f"bxtui exited with status {term.status}")
    frames = json.loads(stats.read_text()) if stats.exists() else {}
    return {"wall_s": done - term.t0, "quit_s": gone - t_q, "cpu_s": term.cpu_s(),
            "rss_mib": term.peak_rss_mib(), "pty_mb": term.nbytes / 1e6,
            **{k: float(v) for k, v in frames.items() if isinstance(v, int | float)},
            **{f"mark_{k}_s": float(v) for k, v in frames.get("marks_s", {}).items()}}


def measured(fn, *args) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Run one build, adding the daemon's and the machine's CPU during it."""
    pids = daemon_pids()
    before = {k: proc_cpu_s(p) for k, p in pids.items()}
    busy0 = busy_s()
    r = fn(*args)
    busy = busy_s() - busy0
    for k, p in pids.items():
        r[f"{k}_cpu_s"] = proc_cpu_s(p) - before[k]
    r["machine_busy_s"] = busy
    return r


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--stages", type=int, default=8)
    ap.add_argument("--steps", type=int, default=55)
    ap.add_argument("--lines", type=int, default=1820, help="log lines per RUN step")
    ap.add_argument("--linger", type=float, default=2.0,
                    help="seconds the app stays open after SUCCEEDED before q")
    ap.add_argument("--json")
    ap.add_argument("--no-warmup", action="store_true")
    ap.add_argument("--tree", type=Path, default=REPO,
                    help="run bxtui (python -m tui) from this copy of the repository")
    args = ap.parse_args()
    env = dict(os.environ, DOCKER_HOST=DOCKER_HOST, BUILDX_NO_DEFAULT_ATTESTATIONS="1",
               TERM="xterm-256color")
    env.pop("BXTUI_FRAME_STATS", None)
    bxtui = bxtui_command(args.tree, env)
    tmp = Path(tempfile.mkdtemp(prefix="bxtui-bench-wide-"))
    ctx = tmp / "ctx"
    ctx.mkdir()
    text = dockerfile(args.stages, args.steps, args.lines)
    (ctx / "Dockerfile").write_text(text)
    runs = args.stages * args.steps
    print(f"{runs} RUN steps, {runs * args.lines:,} log lines, Dockerfile {len(text):,} bytes",
          file=sys.stderr)
    tools = {"buildx": lambda: run_buildx(str(ctx), env, tmp),
             "app": lambda: run_app(str(ctx), env, tmp, bxtui, args.linger)}
    results: dict[str, list[dict[str, float]]] = {k: [] for k in tools}
    try:
        if not args.no_warmup:
            for name, fn in tools.items():
                t = time.perf_counter()
                fn()
                print(f"warm-up {name} {time.perf_counter() - t:.1f}s", file=sys.stderr)
        names = list(tools)
        for rep in range(args.reps):
            for name in names[rep % 2:] + names[:rep % 2]:
                subprocess.run(["sync"], check=False)
                time.sleep(1)
                r = measured(tools[name])
                results[name].append(r)
                shown = " ".join(f"{k} {v:.2f}" for k, v in r.items())
                print(f"rep {rep + 1} {name:6s} {shown}", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    keys = ["wall_s", "cpu_s", "rss_mib", "dockerd_cpu_s", "containerd_cpu_s", "machine_busy_s"]
    summary: dict[str, dict[str, float]] = {}
    print(f"\n{'tool':7s} " + " ".join(f"{k:>16s}" for k in keys) + "   (median / min)")
    for name, rs in results.items():
        summary[name] = {}
        cells = []
        for k in keys:
            values = [r.get(k, 0.0) for r in rs]
            summary[name][k + "_median"] = statistics.median(values)
            summary[name][k + "_min"] = min(values)
            cells.append(f"{statistics.median(values):8.2f}/{min(values):7.2f}")
        print(f"{name:7s} " + " ".join(f"{c:>16s}" for c in cells))
    app = results["app"]
    frame_keys = ["max_frame_ms", "max_frame_cpu_ms", "mean_frame_ms", "max_loop_lag_ms",
                  "max_loop_lag_at_s"]
    for phase in ("starting", "building", "after", "closing"):
        frame_keys += [f"max_loop_lag_{phase}_{k}" for k in ("ms", "at_s", "cpu_ms", "runq_ms")]
        frame_keys += [f"max_tick_cpu_{phase}_ms", f"max_tick_cpu_{phase}_at_s"]
    frame_keys += ["mark_mounted_s", "mark_painted_s", "mark_finished_s", "mark_shown_s",
                   "mark_closing_s", "lags_over_16ms", "frames", "ticks", "quit_s", "pty_mb"]
    print("\napp per run: " + "; ".join(
        ", ".join(f"{k} {r.get(k, float('nan')):g}" for k in frame_keys) for r in app))

    s_app, s_bx = summary["app"], summary["buildx"]
    wall_ratio = s_app["wall_s_median"] / s_bx["wall_s_median"]
    cpu_ratio = s_app["cpu_s_median"] / s_bx["cpu_s_median"]
    # while the view is open (the quit's own stall is closing's, reported beside quit_s)
    open_phases = ("starting", "building", "after")
    worst_frame = max(max(r.get("max_frame_ms", 0.0),
                          *(r.get(f"max_loop_lag_{p}_ms", 0.0) for p in open_phases))
                      for r in app)
    verdicts = {
        "wall": (wall_ratio, wall_ratio <= GOALS["wall_ratio"], f"<= {GOALS['wall_ratio']}x"),
        "cpu": (cpu_ratio, cpu_ratio <= GOALS["cpu_ratio"], f"<= {GOALS['cpu_ratio']}x"),
        "rss": (max(r["rss_mib"] for r in app), max(r["rss_mib"] for r in app)
                <= GOALS["rss_mib"], f"<= {GOALS['rss_mib']} MiB"),
        "frames": (worst_frame, worst_frame <= GOALS["frame_ms"],
                   f"<= {GOALS['frame_ms']} ms (frames; loop lag starting, building, after)"),
    }
    print()
    for k, (value, ok, goal) in verdicts.items():
        print(f"{k:7s} {value:8.2f}  goal {goal}: {'met' if ok else 'MISSED'}")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "runs": results, "summary": summary,
            "verdicts": {k: {"value": v, "met": ok, "goal": g} for k, (v, ok, g) in
                         verdicts.items()},
            "sizes": {"stages": args.stages, "steps": args.steps, "lines": args.lines},
            "linger_s": args.linger,
            "tui_digest": tui_digest(args.tree), "tree": str(args.tree),
            "date": time.strftime("%Y-%m-%d %H:%M:%S"), "loadavg": os.getloadavg(),
        }, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
