"""Soak: build -> failure -> container -> process -> done() cycles in one process (library API).

Each cycle builds ``examples/fail-run`` (cached but for the failing step) through
``DebugSession`` with its own client, runs a process in the failed step's final state, one
in another step's state (a step shell) and reads that step's files through a helper
container, then calls ``done()``.  After each cycle: open fds (``/proc/self/fd``), threads
(``/proc/self/task``), asyncio tasks, RSS (``VmRSS``), and the daemon's running builds.
Growth is reported against the state after cycle 5 (caches, lazily loaded modules and gRPC's
threads settle by then).

    .venv/bin/python bench/bench_soak.py [--cycles 50]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tui.buildkit.address import parse_address
from tui.buildkit.client import BuildkitClient
from tui.debug.engine.options import BuildOptions
from tui.debug.engine.session import DebugSession, Phase

REPO = Path(__file__).resolve().parent.parent
DOCKER_HOST = os.environ.get("DOCKER_HOST", "unix:///run/bxtui-daemon/docker.sock")


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def sample() -> dict[str, int]:
    gc.collect()
    return {"fds": len(os.listdir("/proc/self/fd")), "threads": len(os.listdir("/proc/self/task")),
            "tasks": len(asyncio.all_tasks()), "rss_kib": rss_kib()}


async def run_process(session: DebugSession, step: str | None) -> int:
    out = bytearray()
    shell = await session.open_shell(False, 24, 80, lambda _fd, data: out.extend(data), step=step)
    shell.send(b"ls /work >/dev/null; exit 3\r")
    code = await asyncio.wait_for(shell.wait(), 60)
    return code


async def cycle(endpoint: object) -> float:
    t = time.perf_counter()
    session = DebugSession(BuildOptions(context=str(REPO / "examples" / "fail-run")),
                           lambda: BuildkitClient.open(endpoint))  # type: ignore[arg-type]
    try:
        assert await session.wait_finished() is Phase.FAILED
        assert await run_process(session, None) == 3
        step = session.resolve_step("3")
        assert await run_process(session, step) == 3
        states = await session.browse(step)
        snap = await states[0].snapshot()
        assert snap.get("work/app.sh") is not None
    finally:
        await session.done()
    return time.perf_counter() - t


async def running_builds(endpoint: object) -> int:
    client = await BuildkitClient.open(endpoint)  # type: ignore[arg-type]
    try:
        return len(await client.active_builds())
    finally:
        await client.close()


async def main_async(cycles: int) -> int:
    endpoint = parse_address(DOCKER_HOST, "docker", "DOCKER_HOST")
    rows = []
    for i in range(1, cycles + 1):
        dt = await cycle(endpoint)
        s = sample()
        s["builds"] = await running_builds(endpoint)
        rows.append(s)
        print(f"cycle {i:3d}  {dt:5.2f} s  fds {s['fds']:4d}  threads {s['threads']:3d}  "
              f"tasks {s['tasks']:3d}  rss {s['rss_kib'] / 1024:6.1f} MiB  "
              f"running builds {s['builds']}", flush=True)
    first = rows[:5]
    base = rows[min(4, len(rows) - 1)]
    last = rows[-1]
    growth = (last["rss_kib"] - base["rss_kib"]) / base["rss_kib"] * 100

    def peak(part: list[dict[str, int]], key: str) -> int:
        return max(r[key] for r in part)

    def floor(part: list[dict[str, int]], key: str) -> int:
        return min(r[key] for r in part)

    # fds and threads come and go with gRPC's, the relay's and the thread pool's threads: a
    # leak shows as a rising floor, so the last 10 cycles' floor is held to the first 5's peak
    tail = rows[-10:]
    print("\ncycles 1-5 (floor..peak) -> last 10 cycles (floor..peak): "
          + ", ".join(f"{k} {floor(first, k)}..{peak(first, k)} -> "
                      f"{floor(tail, k)}..{peak(tail, k)}" for k in ("fds", "threads", "tasks")))
    print(f"RSS after cycle 5 -> after cycle {cycles}: {base['rss_kib'] / 1024:.1f} -> "
          f"{last['rss_kib'] / 1024:.1f} MiB ({growth:+.1f}%; goal < 10%); running builds at "
          f"the end: {last['builds']}")
    ok = (all(floor(tail, k) <= peak(first, k) for k in ("fds", "threads", "tasks"))
          and growth < 10 and last["builds"] == 0)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cycles", type=int, default=50)
    args = ap.parse_args()
    return asyncio.run(main_async(args.cycles))


if __name__ == "__main__":
    sys.exit(main())
