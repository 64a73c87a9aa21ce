"""Exploring states on the real daemon: key to prompt in any step, the diff, reading states.

- ``step``: the app (``bxtui build CTX`` in a 140x40 PTY) on a cached failing build; once the
  failure shows (and ``--think`` seconds passed) ``Up`` selects the step before the failed
  one and, ``--cursor-think`` seconds later (the app starts the shell of the step the cursor
  rests on unseen after 0.05 s) and again at once, ``s`` opens a shell in its state:
  seconds from ``s`` to the prompt on the screen.
  The same run then presses ``f`` after the shell ends (the failed step's final state,
  whose shell the app starts in advance) for comparison.
- ``diff``: a failed RUN over a 20,000-file root (200 dirs x 100 files, built in the step
  before, cached) that adds, removes, rewrites and chmods files: seconds for
  ``Explorer.diffs()`` (helper container start, both walks, md5 of same-size candidates),
  and the wall time of ``bxtui build --progress=quiet --diff`` against the same build
  without ``--diff``.
- ``walk``: reading the 20,000-file state for the file browser (snapshot of the failed
  step's final root) and a 10,000-entry directory.

No peer: buildx can open only the failed step and has no diff or file browser.

    .venv/bin/python bench/bench_explore.py [--reps 5] [--think 1.0]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_app import BXTUI, DOCKER_HOST, Term

from tui.buildkit.address import parse_address
from tui.buildkit.client import BuildkitClient
from tui.debug.engine.explore import Explorer
from tui.debug.engine.options import DOCKERFILE_FRONTEND, BuildOptions
from tui.debug.engine.result import new_result_context

STEP_DOCKERFILE = (
    "FROM busybox:local\n"
    "WORKDIR /work\n"
    "RUN echo prepared > /work/prepared.txt\n"
    "RUN echo second > /work/second.txt\n"
    "RUN echo partial > /work/partial.txt && exit 3\n"
)
BIG_DOCKERFILE = (
    "FROM busybox:local\n"
    "RUN mkdir /big && cd /big && for d in $(seq 1 200); do mkdir d$d; "
    "for f in $(seq 1 100); do echo file $d $f > d$d/f$f; done; done "
    "&& mkdir /wide && cd /wide && for f in $(seq 1 10000); do echo $f > e$f; done\n"
    "RUN cd /big && echo changed > d1/f1 && echo 'file 2 2' > d2/f1 && rm d3/f3 "
    "&& chmod 600 d4/f4 && echo new > d5/new && exit 9\n"
)


def stats(xs: list[float]) -> str:
    return f"median {statistics.median(xs):.3f} s  min {min(xs):.3f}  max {max(xs):.3f}"


def bench_step(ctx: Path, reps: int, think: float,
               cursor_think: float) -> dict[str, list[float]]:
    env = dict(os.environ, DOCKER_HOST=DOCKER_HOST, TERM="xterm-256color")
    subprocess.run([str(BXTUI), "build", "--progress=quiet", str(ctx)], env=env,
                   capture_output=True, check=False)  # warm-up: everything but the failure
    out: dict[str, list[float]] = {"step_prompt_s": [], "final_prompt_s": []}
    for _ in range(reps):
        term = Term([str(BXTUI), "build", str(ctx)], env, screen=True)
        try:
            term.wait_screen(["FAILED", "exit code 3"], 120, "the failure")
            until = time.perf_counter() + think
            term.wait(lambda u=until: time.perf_counter() >= u, think + 5, "the reading time")
            term.send(b"\x1b[A")  # Up: the step before the failed one
            term.wait_screen(["↓out"], 10, "the cursor on the previous step")
            until = time.perf_counter() + cursor_think
            term.wait(lambda u=until: time.perf_counter() >= u, cursor_think + 5, "the step")
            key = term.send(b"s")
            prompt = term.wait(lambda t=term: "/work # " in t.text(), 30, "the step's prompt")
            out["step_prompt_s"].append(prompt - key)
            term.send(b"ls\r")
            term.wait_screen(["prepared.txt  second.txt"], 10, "the step's files")
            term.send(b"exit\r")
            term.wait(lambda t=term: "exited with status 0 ─╯" in t.text(), 30, "the shell's end")
            key = term.send(b"f")
            term.wait_screen(["shell: the final state"], 30, "the final state's shell")
            prompt = term.wait(lambda t=term: "/work # " in t.text().split("shell: the final")[-1],
                               30, "the final prompt")
            out["final_prompt_s"].append(prompt - key)
            term.send(b"exit\r")
            term.wait(lambda t=term: "exited with status 0 ─╯" in t.text(), 30, "the shell's end")
            term.send(b"q")
            term.finish(60)
        except BaseException:
            term.kill()
            raise
    return out


async def bench_diff(ctx: Path, reps: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"diff_s": [], "walk_20k_s": [], "walk_10k_dir_s": [],
                                   "changes": []}
    client = await BuildkitClient.open(parse_address(DOCKER_HOST, "docker", "bench"))
    try:
        for _ in range(reps + 1):
            opts = BuildOptions(context=str(ctx))
            rctx, _, err = await new_result_context(client, opts)
            assert rctx is not None and err is not None
            try:
                attrs = opts.frontend_opts(engine=True)
                x = Explorer(rctx, DOCKERFILE_FRONTEND, attrs, opts.local_dirs())
                t = time.perf_counter()
                diffs = await x.diffs()
                dt = time.perf_counter() - t
                n = sum(len(d.changes) for d in diffs)
                t = time.perf_counter()
                snap = await x.failed_exec_states("step")[0].snapshot()
                walk = time.perf_counter() - t
                t = time.perf_counter()
                wide = await x.failed_exec_states("step")[1].snapshot()
                wide_dt = time.perf_counter() - t
                assert len(snap) > 30_000 and len(wide.children("wide")) == 10_000
            finally:
                await rctx.done()
            if _ == 0:
                continue  # the first run builds the 20,000 files
            out["diff_s"].append(dt)
            out["walk_20k_s"].append(walk)
            out["walk_10k_dir_s"].append(wide_dt)
            out["changes"].append(float(n))
    finally:
        await client.close()
    return out


def bench_cli_diff(ctx: Path, reps: int) -> dict[str, list[float]]:
    env = dict(os.environ, DOCKER_HOST=DOCKER_HOST)
    out: dict[str, list[float]] = {"plain_s": [], "with_diff_s": []}
    for _ in range(reps):
        for key, extra in (("plain_s", []), ("with_diff_s", ["--diff"])):
            t = time.perf_counter()
            res = subprocess.run([str(BXTUI), "build", "--progress=quiet", *extra, str(ctx)],
                                 env=env, capture_output=True, text=True, check=False)
            out[key].append(time.perf_counter() - t)
            assert res.returncode == 1, res.stderr
            if extra:
                assert "--- /: 1 added, 1 removed, 3 changed" in res.stdout, res.stdout
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--think", type=float, default=1.0)
    ap.add_argument("--cursor-think", type=float, default=0.5,
                    help="seconds between moving the graph's cursor and pressing s")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        step_ctx = Path(tmp, "step")
        step_ctx.mkdir()
        (step_ctx / "Dockerfile").write_text(STEP_DOCKERFILE)
        big_ctx = Path(tmp, "big")
        big_ctx.mkdir()
        (big_ctx / "Dockerfile").write_text(BIG_DOCKERFILE)
        diff = asyncio.run(bench_diff(big_ctx, args.reps))
        cli = bench_cli_diff(big_ctx, args.reps)
        step = bench_step(step_ctx, args.reps, args.think, args.cursor_think)
        step0 = bench_step(step_ctx, args.reps, args.think, 0.0)
    print(f"any step, key s -> prompt, s {args.cursor_think} s after moving the cursor: "
          f"{stats(step['step_prompt_s'])}  (goal <= 0.3 s)")
    print(f"any step, key s -> prompt, s at once after moving the cursor:  "
          f"{stats(step0['step_prompt_s'])}")
    print(f"failed step, key f -> prompt (same runs):          {stats(step['final_prompt_s'])}")
    print(f"diff of a failed RUN over a 20,000-file root:       {stats(diff['diff_s'])}  "
          f"(goal <= 2 s; {int(diff['changes'][0])} changes)")
    print(f"walk of that root (30,000+ paths, file browser):    {stats(diff['walk_20k_s'])}")
    print(f"walk of the initial root (10,000-entry /wide):      {stats(diff['walk_10k_dir_s'])}")
    print(f"headless build, --progress=quiet:                   {stats(cli['plain_s'])}")
    print(f"headless build, --progress=quiet --diff:            {stats(cli['with_diff_s'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
