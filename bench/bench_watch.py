"""--watch latency on the real daemon: file saved -> change seen -> rebuild's outcome known.

Engine level (DebugSession.watcher + reload), default debounce (0.3 s). No peer: buildx 0.13
has no watch mode. Usage: DOCKER_HOST=... bench/bench_watch.py [--reps N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import statistics
import tempfile
import time
from pathlib import Path

from tui.buildkit.address import parse_address
from tui.buildkit.client import BuildkitClient
from tui.debug.engine.options import BuildOptions
from tui.debug.engine.session import DebugSession

DOCKERFILE = ("FROM busybox:local\nCOPY answer.txt /answer.txt\n"
              'RUN echo {token} && test "$(cat /answer.txt)" = good\n')


async def one(host: str) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as d:
        ctx = Path(d)
        (ctx / "Dockerfile").write_text(DOCKERFILE.format(token=secrets.token_hex(6)))
        (ctx / "answer.txt").write_text("bad\n")

        async def connect() -> BuildkitClient:
            return await BuildkitClient.open(parse_address(host, "docker", "bench"))

        session = DebugSession(BuildOptions(context=d), connect)
        watcher = session.watcher()
        try:
            await session.wait_finished()
            async with contextlib.aclosing(watcher.changes()) as changes:
                nxt = asyncio.ensure_future(anext(changes))
                await watcher.watching.wait()
                t0 = time.perf_counter()
                (ctx / "answer.txt").write_text("good\n")
                await nxt
                seen = time.perf_counter() - t0
                await session.reload()
                await session.wait_finished()
                return seen, time.perf_counter() - t0
        finally:
            await session.done()


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    host = os.environ["DOCKER_HOST"]
    rows = [await one(host) for _ in range(args.reps)]
    print(f"load {os.getloadavg()[0]:.1f}, {args.reps} reps")
    for i, name in enumerate(("save -> change seen", "save -> rebuild outcome")):
        vals = [r[i] for r in rows]
        print(f"{name}: median {statistics.median(vals):.3f} s, min {min(vals):.3f} s")


if __name__ == "__main__":
    asyncio.run(main())
