"""Start-up: a cached build of a small Dockerfile, bxtui --progress=plain against buildx.

Every tool builds the same four-line Dockerfile (cached after one untimed warm-up) with
``--progress=plain``, output to /dev/null.  Runs alternate between the tools (the first one
rotates); each run's wall time is spawn to exit, its CPU is the child's user+sys from
``wait4``.  ``--loop N`` also times N builds in a row per tool (a CI loop).  The machine's
other busy CPU during the runs (``/proc/stat`` minus the child) is printed as the noise
indicator.

    .venv/bin/python bench/bench_startup.py [--reps 15] [--loop 81] [--json out.json]
        [--tool before=/path/to/old/bxtui]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUILDX = os.environ.get("BXTUI_BUILDX", "/var/lib/bxtui-daemon/tools/docker-buildx")
DOCKER_HOST = os.environ.get("DOCKER_HOST", "unix:///run/bxtui-daemon/docker.sock")
DOCKERFILE = (
    "FROM busybox:local\n"
    "WORKDIR /app\n"
    "RUN echo hello > /app/hello.txt\n"
    'CMD ["cat", "/app/hello.txt"]\n'
)


def busy_jiffies() -> int:
    """All CPUs' busy time so far, in clock ticks (/proc/stat)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    values = [int(v) for v in fields]
    return sum(values) - values[3] - values[4]  # minus idle and iowait


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """(wall s, child CPU s, other busy CPU s) of one run; raises if it failed."""
    tick = os.sysconf("SC_CLK_TCK")
    busy0 = busy_jiffies()
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        try:
            os.execvpe(argv[0], argv, env)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    busy = (busy_jiffies() - busy0) / tick
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{argv[0]} failed with status {status}")
    cpu = usage.ru_utime + usage.ru_stime
    return wall, cpu, max(0.0, busy - cpu)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--loop", type=int, default=0, help="also N builds in a row per tool")
    ap.add_argument("--tool", action="append", default=[],
                    help="NAME=COMMAND of another bxtui (e.g. before=/tmp/old/.venv/bin/bxtui)")
    ap.add_argument("--json")
    args = ap.parse_args()

    ctx = Path(tempfile.mkdtemp(prefix="bxtui-bench-startup-"))
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    env = dict(os.environ, DOCKER_HOST=DOCKER_HOST, BUILDX_NO_DEFAULT_ATTESTATIONS="1")
    tools: dict[str, list[str]] = {
        "buildx": [BUILDX, "build", "--progress=plain", str(ctx)],
        "bxtui": [str(REPO / ".venv" / "bin" / "bxtui"), "build", "--progress=plain", str(ctx)],
    }
    for spec in args.tool:
        name, _, cmd = spec.partition("=")
        tools[name] = [*cmd.split(), "build", "--progress=plain", str(ctx)]
    for argv in tools.values():  # warm-up: every step cached afterwards
        run_once(argv, env)

    names = list(tools)
    runs: dict[str, list[tuple[float, float, float]]] = {n: [] for n in names}
    for rep in range(args.reps):
        order = names[rep % len(names):] + names[:rep % len(names)]
        for name in order:
            runs[name].append(run_once(tools[name], env))
    loops: dict[str, float] = {}
    for name in names if args.loop else ():
        t0 = time.perf_counter()
        for _ in range(args.loop):
            run_once(tools[name], env)
        loops[name] = time.perf_counter() - t0

    base = statistics.median(w for w, _, _ in runs["buildx"])
    print(f"{args.reps} runs per tool, load average {os.getloadavg()[0]:.1f} at the end")
    print(f"{'tool':8} {'wall med':>9} {'wall min':>9} {'cpu med':>8} {'other':>6} {'ratio':>6}"
          + ("  loop" if loops else ""))
    summary = {}
    for name in names:
        walls = [w for w, _, _ in runs[name]]
        med = statistics.median(walls)
        row = {
            "wall_median": med, "wall_min": min(walls),
            "cpu_median": statistics.median(c for _, c, _ in runs[name]),
            "other_median": statistics.median(o for _, _, o in runs[name]),
            "ratio": med / base,
        }
        if name in loops:
            row["loop_total"] = loops[name]
        summary[name] = row
        print(f"{name:8} {med:9.3f} {row['wall_min']:9.3f} {row['cpu_median']:8.3f} "
              f"{row['other_median']:6.2f} {row['ratio']:6.2f}"
              + (f"  {loops[name]:.1f} s" if name in loops else ""))
    if args.json:
        Path(args.json).write_text(json.dumps({"runs": runs, "summary": summary,
                                               "loop": args.loop}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
