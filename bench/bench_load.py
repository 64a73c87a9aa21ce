"""Load: N failing builds at once against one daemon, each opening a shell in its failed step.

Each project is its own context (a unique marker file, a step that fails after writing a
unique file, ``--no-cache`` so the daemon really works); every ``bxtui build --progress=quiet
--invoke`` runs a script in the failed step's final state that prints what it sees, then
exits.  Checked: each shell sees only its own files, all exit with the build's status, and
the daemon's running list is empty afterwards.  Timed: each build alone, then all at once;
the same for ``docker buildx build`` (the peer, no shell) to show what the daemon itself
costs under that load.

    .venv/bin/python bench/bench_load.py [--builds 8] [--reps 3]
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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tui.buildkit.address import parse_address  # noqa: E402
from tui.buildkit.client import BuildkitClient  # noqa: E402

BXTUI = REPO / ".venv" / "bin" / "bxtui"
BUILDX = os.environ.get("BXTUI_BUILDX", "/var/lib/bxtui-daemon/tools/docker-buildx")
DOCKER_HOST = os.environ.get("DOCKER_HOST", "unix:///run/bxtui-daemon/docker.sock")
DOCKERFILE = (
    "FROM busybox:local\n"
    "WORKDIR /work\n"
    "COPY marker-{n}.txt .\n"
    "RUN for i in $(seq 1 300); do echo line $i; done > /work/log-{n}.txt "
    "&& echo made-{n} > /work/made-{n}.txt && exit 3\n"
)
SCRIPT = "ls /work; cat /work/marker-*.txt; exit 0\n"


def make_projects(root: Path, count: int) -> list[Path]:
    out = []
    for n in range(count):
        ctx = root / f"p{n}"
        ctx.mkdir()
        (ctx / "Dockerfile").write_text(DOCKERFILE.format(n=n))
        (ctx / f"marker-{n}.txt").write_text(f"marker {n}\n")
        out.append(ctx)
    return out


def run_bxtui(ctx: Path) -> tuple[float, int, str]:
    env = dict(os.environ, DOCKER_HOST=DOCKER_HOST)
    t = time.perf_counter()
    res = subprocess.run([str(BXTUI), "build", "--progress=quiet", "--no-cache", "--invoke",
                          "/bin/sh", str(ctx)], input=SCRIPT, env=env, capture_output=True,
                         text=True, timeout=300, check=False)
    return time.perf_counter() - t, res.returncode, res.stdout


def run_buildx(ctx: Path) -> tuple[float, int, str]:
    env = dict(os.environ, DOCKER_HOST=DOCKER_HOST, BUILDX_NO_DEFAULT_ATTESTATIONS="1")
    t = time.perf_counter()
    res = subprocess.run([BUILDX, "build", "--progress=quiet", "--no-cache", str(ctx)],
                         env=env, capture_output=True, text=True, timeout=300, check=False)
    return time.perf_counter() - t, res.returncode, ""


def check_isolation(n: int, out: str) -> None:
    """The shell of project n saw its own marker and files, no other project's."""
    words = out.split()
    own = {f"marker-{n}.txt", f"log-{n}.txt", f"made-{n}.txt"}
    assert own <= set(words), (n, out)
    others = [w for w in words if w.startswith(("marker-", "log-", "made-")) and w not in own]
    assert not others, (n, others)
    assert f"marker {n}" in out, (n, out)


def running_builds() -> int:
    async def go() -> int:
        client = await BuildkitClient.open(parse_address(DOCKER_HOST, "docker", "DOCKER_HOST"))
        try:
            return len(await client.active_builds())
        finally:
            await client.close()

    return asyncio.run(go())


def measure(tool: str, projects: list[Path], check: bool) -> tuple[list[float], list[float]]:
    fn = run_bxtui if tool == "bxtui" else run_buildx
    alone = []
    for ctx in projects:
        dt, code, out = fn(ctx)
        assert code == 1, (tool, ctx, code)
        alone.append(dt)
    with ThreadPoolExecutor(len(projects)) as pool:
        results = list(pool.map(fn, projects))
    together = []
    for n, (dt, code, out) in enumerate(results):
        assert code == 1, (tool, n, code)
        if check:
            check_isolation(n, out)
        together.append(dt)
    return alone, together


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--builds", type=int, default=8)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        projects = make_projects(Path(tmp), args.builds)
        rows: dict[str, list[float]] = {}
        for _ in range(args.reps):
            for tool in ("bxtui", "buildx"):
                alone, together = measure(tool, projects, tool == "bxtui")
                rows.setdefault(f"{tool} alone", []).append(statistics.median(alone))
                rows.setdefault(f"{tool} together", []).append(statistics.median(together))
                rows.setdefault(f"{tool} together max", []).append(max(together))
    left = running_builds()
    print(f"{args.builds} failing --no-cache builds, {args.reps} reps; medians of the per-build "
          "wall times (bxtui: build + a shell in the failed step; buildx: build only)")
    for key, values in rows.items():
        print(f"  {key:22s} {statistics.median(values):6.2f} s  "
              f"(reps: {', '.join(f'{v:.2f}' for v in values)})")
    slow_b = statistics.median(rows["bxtui together"]) / statistics.median(rows["bxtui alone"])
    slow_x = statistics.median(rows["buildx together"]) / statistics.median(rows["buildx alone"])
    print(f"  slowdown under load: bxtui {slow_b:.2f}x, buildx {slow_x:.2f}x")
    print(f"  every shell saw only its own files: yes; running builds afterwards: {left}")
    return 0 if left == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
