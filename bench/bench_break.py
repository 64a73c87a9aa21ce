"""Breakpoint pause → prompt on a cached build: ``bxtui --break 4`` vs the failure shells.

All in a real PTY against the same daemon, alternating, after one warm-up each so every
step is cached.  ``bxtui-break``: ``--break 4 --invoke /bin/sh`` pauses before step 4 (its
initial state) and gives a shell; ``exit`` continues the build, which then fails at step 4.
For reference on the same Dockerfile: ``bxtui --invoke /bin/sh`` (shell in the failed step)
and the peer ``buildx debug --on=error --invoke /bin/sh build`` (which has no breakpoints).
Per run: spawn → prompt, ``exit`` → process end (for --break: the rest of the build too),
peak RSS.  Uses bench_invoke's PTY runner.  Then, in-process through the session: ``n`` on
a cached step (paused before step 3 → paused after it).

    .venv/bin/python bench/bench_break.py [--reps 8]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench_invoke import BUILDX, DOCKER_HOST, DOCKERFILE, REPO, one_run


def commands(ctx: str) -> dict[str, list[str]]:
    bxtui = str(REPO / ".venv" / "bin" / "bxtui")
    return {
        "bxtui-break": [bxtui, "build", "--progress=plain", "--break", "4", "--invoke",
                        "/bin/sh", ctx],
        "bxtui-failure": [bxtui, "build", "--progress=plain", "--invoke", "/bin/sh", ctx],
        "buildx-failure": [BUILDX, "debug", "--on=error", "--invoke", "/bin/sh", "build",
                           "--progress=plain", ctx],
    }


async def next_times(ctx: str, reps: int) -> list[float]:
    """Seconds from ``n`` (paused before the cached step 3) to the pause after it."""
    from tui.debug.engine.launch import BuilderAddress
    from tui.debug.engine.options import BuildOptions
    from tui.debug.model.pause import Resume

    out = []
    for _ in range(reps):
        session = BuilderAddress().session(BuildOptions(context=ctx))
        session.set_breakpoints(["3"])
        try:
            first = await session.wait_paused()
            assert first is not None
            t0 = time.perf_counter()
            session.resume(Resume.NEXT)
            after = await session.wait_paused()
            out.append(time.perf_counter() - t0)
            assert after is not None and after.where.value == "after"
            session.resume(Resume.CONTINUE)
            await session.wait_finished()
        finally:
            await session.done()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=8)
    args = ap.parse_args()
    ctx = tempfile.mkdtemp(prefix="bxtui-bench-break-")
    Path(ctx, "Dockerfile").write_text(DOCKERFILE)
    env = dict(os.environ, DOCKER_HOST=DOCKER_HOST, BUILDX_EXPERIMENTAL="1", TERM="xterm",
               BUILDX_NO_DEFAULT_ATTESTATIONS="1")
    cmds = commands(ctx)
    for argv in cmds.values():  # warm the cache
        one_run(argv, env)
    results: dict[str, list[dict[str, float]]] = {k: [] for k in cmds}
    for rep in range(args.reps):
        order = list(cmds)[rep % len(cmds):] + list(cmds)[:rep % len(cmds)]
        for name in order:
            r = one_run(cmds[name], env)
            results[name].append(r)
            print(f"rep {rep + 1} {name:15s} prompt {r['prompt_s']:.3f}s "
                  f"exit {r['teardown_s']:.3f}s rss {r['rss_mib']:.0f} MiB", file=sys.stderr)
    print(f"\n{'run':15s} {'prompt median':>14s} {'min':>7s} {'exit median':>12s} {'RSS':>7s}")
    for name, runs in results.items():
        p = [r["prompt_s"] for r in runs]
        print(f"{name:15s} {statistics.median(p):13.3f}s {min(p):6.3f}s "
              f"{statistics.median(r['teardown_s'] for r in runs):11.3f}s "
              f"{statistics.median(r['rss_mib'] for r in runs):5.0f}MiB")
    os.environ["DOCKER_HOST"] = DOCKER_HOST
    nexts = asyncio.run(next_times(ctx, args.reps))
    print(f"\n`n` on a cached step (in-process session), median {statistics.median(nexts):.3f}s "
          f"min {min(nexts):.3f}s max {max(nexts):.3f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
