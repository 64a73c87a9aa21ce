"""Retry → exit code on a cached failing build: ``bxtui --retry CMD`` beside ``--invoke CMD``.

Both headless (stdin /dev/null, stdout/stderr piped) against the same daemon, alternating,
after one warm-up build each so every step is cached.  For each run: seconds from spawn to
the process's exit (launch → exit code), and for the retry/invoke part alone, seconds from
the failure's ``ERROR:`` line to the ``exited with status`` line (the container's create,
start, run and exit as the user waits for it).  buildx has no retry; its ``debug --invoke``
panics without a terminal on stdin (buildx 0.13.1), so its launch → prompt in a PTY is
``bench_invoke.py``'s figure.

    .venv/bin/python bench/bench_retry.py [--reps 10] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOCKER_HOST = os.environ.get("DOCKER_HOST", "unix:///run/bxtui-daemon/docker.sock")
DOCKERFILE = (
    "FROM busybox:local\n"
    "WORKDIR /work\n"
    "RUN echo prepared > /work/prepared.txt\n"
    "RUN echo partial > /work/partial.txt && exit 3\n"
)
CMD = "test -e prepared.txt && ! test -e partial.txt"


def commands(ctx: str) -> dict[str, list[str]]:
    bxtui = str(REPO / ".venv" / "bin" / "bxtui")
    return {
        "retry": [bxtui, "build", "--progress=plain", "--retry", CMD, ctx],
        "invoke": [bxtui, "build", "--progress=plain", "--invoke", f"args=sh,args=-c,args={CMD}",
                   "--initial", ctx],
    }


def one_run(argv: list[str], env: dict[str, str]) -> dict[str, float]:
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    failed_at = exited_at = None
    lines = []
    for line in proc.stderr:
        now = time.perf_counter()
        lines.append(line)
        if failed_at is None and line.startswith("ERROR:"):
            failed_at = now
        if "exited with status" in line:
            exited_at = now
    proc.wait(timeout=120)
    end = time.perf_counter()
    out: dict[str, float] = {"total": end - t0, "rc": float(proc.returncode)}
    if failed_at is not None and exited_at is not None:
        out["retry"] = exited_at - failed_at
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--json")
    args = ap.parse_args()
    env = dict(os.environ, DOCKER_HOST=DOCKER_HOST)
    with tempfile.TemporaryDirectory(prefix="bxtui-bench-retry-") as ctx:
        Path(ctx, "Dockerfile").write_text(DOCKERFILE)
        tools = commands(ctx)
        for argv in tools.values():  # warm-up: every step cached afterwards
            one_run(argv, env)
        results: dict[str, list[dict[str, float]]] = {name: [] for name in tools}
        for _ in range(args.reps):
            for name, argv in tools.items():
                results[name].append(one_run(argv, env))
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, reps {args.reps}")
    for name, runs in results.items():
        rcs = sorted({int(r["rc"]) for r in runs})
        total = statistics.median(r["total"] for r in runs)
        part = [r["retry"] for r in runs if "retry" in r]
        retry = f", failure → exit status {statistics.median(part):.3f} s" if part else ""
        print(f"{name:8} launch → exit {total:.3f} s (min {min(r['total'] for r in runs):.3f})"
              f"{retry}, exit codes {rcs}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
