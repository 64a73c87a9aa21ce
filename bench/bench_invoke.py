"""Launch to shell prompt on a cached failing build: bxtui --invoke vs buildx debug --invoke.

Both run in a real PTY against the same daemon, alternating, after one warm-up build each so
every step is cached.  For each run: seconds from spawn to the shell's prompt, seconds from
``exit`` to the process ending (teardown; buildx returns to its monitor console first, which
is left with ``exit`` as soon as its prompt shows), and the client's peak RSS.

    .venv/bin/python bench/bench_invoke.py [--reps 10] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import select
import statistics
import sys
import tempfile
import time
from pathlib import Path

import ptyprocess

REPO = Path(__file__).resolve().parent.parent
BUILDX = os.environ.get("BXTUI_BUILDX", "/var/lib/bxtui-daemon/tools/docker-buildx")
DOCKER_HOST = os.environ.get("DOCKER_HOST", "unix:///run/bxtui-daemon/docker.sock")
# busybox may redraw its prompt and clear the rest of the screen after it (ESC [J)
PROMPT = re.compile(rb"(?m)^[^\n]*[#$] (?:\x1b\[[0-9;]*[A-Za-z])*$")
DOCKERFILE = (
    "FROM busybox:local\n"
    "WORKDIR /work\n"
    "RUN echo prepared > /work/prepared.txt\n"
    "RUN echo partial > /work/partial.txt && exit 3\n"
)


def commands(ctx: str) -> dict[str, list[str]]:
    return {
        "bxtui": [str(REPO / ".venv" / "bin" / "bxtui"), "build", "--progress=plain",
                  "--invoke", "/bin/sh", ctx],
        "buildx": [BUILDX, "debug", "--on=error", "--invoke", "/bin/sh", "build",
                   "--progress=plain", ctx],
        # the same without a detached (resident) buildx server: everything in one process
        "buildx-nodetach": [BUILDX, "debug", "--detach=false", "--on=error", "--invoke",
                            "/bin/sh", "build", "--progress=plain", ctx],
    }


def peak_rss_kib(pid: int) -> int:
    """VmHWM of the process and its children (buildx forks a server), in KiB."""
    total = 0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def one_run(argv: list[str], env: dict[str, str]) -> dict[str, float]:
    t0 = time.perf_counter()
    proc = ptyprocess.PtyProcess.spawn(argv, env=env, dimensions=(30, 100))
    buf = b""
    prompt_at = None
    deadline = t0 + 120
    while prompt_at is None:
        if time.perf_counter() > deadline:
            proc.terminate(force=True)
            raise RuntimeError(f"no prompt from {argv[0]}: {buf[-500:]!r}")
        r, _, _ = select.select([proc.fd], [], [], 0.05)
        if r:
            try:
                buf += os.read(proc.fd, 65536)
            except OSError:
                break
            # buildx's shell asks for the cursor position (ESC[6n); answer like a terminal
            if b"\x1b[6n" in buf:
                buf = buf.replace(b"\x1b[6n", b"")
                proc.write(b"\x1b[1;1R")
            if PROMPT.search(buf):
                prompt_at = time.perf_counter()
    rss = peak_rss_kib(proc.pid)
    t1 = time.perf_counter()
    proc.write(b"exit\r")
    tail = b""
    while True:
        r, _, _ = select.select([proc.fd], [], [], 0.05)
        if r:
            try:
                data = os.read(proc.fd, 65536)
            except OSError:
                break
            if not data:
                break
            tail = (tail + data)[-64:]
            # buildx returns to its monitor console after the shell exits: leave it too
            if tail.endswith(b"(buildx) "):
                tail = b""
                proc.write(b"exit\r")
        elif not proc.isalive():
            break
        elif time.perf_counter() - t1 > 60:
            proc.terminate(force=True)
            raise RuntimeError(f"{argv[0]} did not exit")
    proc.wait()
    t2 = time.perf_counter()
    return {"prompt_s": (prompt_at or t1) - t0, "teardown_s": t2 - t1, "rss_mib": rss / 1024}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--json")
    ap.add_argument("--tool", action="append", default=[],
                    help="NAME=COMMAND of another bxtui (e.g. before=/tmp/old/.venv/bin/bxtui)")
    ap.add_argument("--no-nodetach", action="store_true",
                    help="leave out buildx --detach=false")
    args = ap.parse_args()
    ctx = tempfile.mkdtemp(prefix="bxtui-bench-invoke-")
    Path(ctx, "Dockerfile").write_text(DOCKERFILE)
    env = dict(os.environ, DOCKER_HOST=DOCKER_HOST, BUILDX_EXPERIMENTAL="1", TERM="xterm",
               BUILDX_NO_DEFAULT_ATTESTATIONS="1")
    cmds = commands(ctx)
    if args.no_nodetach:
        del cmds["buildx-nodetach"]
    for spec in args.tool:
        name, _, cmd = spec.partition("=")
        cmds[name] = [*cmd.split(), *cmds["bxtui"][1:]]
    for argv in cmds.values():  # warm the cache (and buildx's server)
        one_run(argv, env)
    results: dict[str, list[dict[str, float]]] = {k: [] for k in cmds}
    for rep in range(args.reps):
        order = list(cmds)[rep % len(cmds):] + list(cmds)[:rep % len(cmds)]
        for name in order:
            results[name].append(one_run(cmds[name], env))
            print(f"rep {rep + 1} {name:16s} prompt {results[name][-1]['prompt_s']:.3f}s "
                  f"teardown {results[name][-1]['teardown_s']:.3f}s "
                  f"rss {results[name][-1]['rss_mib']:.0f} MiB", file=sys.stderr)
    print(f"\n{'tool':16s} {'prompt median':>14s} {'min':>7s} {'teardown median':>16s} "
          f"{'peak RSS':>9s}")
    summary = {}
    for name, runs in results.items():
        p = [r["prompt_s"] for r in runs]
        t = [r["teardown_s"] for r in runs]
        m = [r["rss_mib"] for r in runs]
        summary[name] = {"prompt_median": statistics.median(p), "prompt_min": min(p),
                         "teardown_median": statistics.median(t),
                         "rss_median_mib": statistics.median(m)}
        s = summary[name]
        print(f"{name:16s} {s['prompt_median']:13.3f}s {s['prompt_min']:6.3f}s "
              f"{s['teardown_median']:15.3f}s {s['rss_median_mib']:7.0f}MiB")
    ratio = summary["bxtui"]["prompt_median"] / summary["buildx"]["prompt_median"]
    print(f"\nbxtui/buildx launch-to-prompt (median): {ratio:.2f}x (goal <= 1.0x)")
    for name in summary:
        if name not in ("bxtui", "buildx"):
            other = summary[name]["prompt_median"] / summary["buildx"]["prompt_median"]
            print(f"{name}/buildx launch-to-prompt (median): {other:.2f}x")
    if args.json:
        Path(args.json).write_text(json.dumps({"runs": results, "summary": summary}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
