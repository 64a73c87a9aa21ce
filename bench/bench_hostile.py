"""Many small files: bxtui against ``docker buildx build`` uploading the same context.

Usage: .venv/bin/python bench/bench_hostile.py [--files N] [--reps R] [--json PATH]

Before each run the same directory gets all of its N small files rewritten (100
directories, files of 1 to 64 bytes): every mtime is new, so the daemon requests every
file again, and each client's previous snapshot of that directory has to be brought up to
date, the same work for both tools. Nothing is pruned (other users of the daemon keep their
cache). A first round per tool warms up and is not counted. The build bind-mounts the
context and counts its files (the Dockerfile sits in a separate directory, passed with
``-f``)::

    FROM busybox:local
    ARG NONCE
    RUN --mount=type=bind,target=/ctx echo "nonce=$NONCE files=$(find /ctx -type f | wc -l)"

Per run: the wall time of the command and the daemon's ``transferring context: SIZE TIME
done`` figure for the context. The tools alternate (buildx first on even repetitions).
Prints medians and the bxtui/buildx ratio; exit status 1 if a run failed or miscounted.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_HOST = "unix:///run/bxtui-daemon/docker.sock"
DEFAULT_BUILDX = "/var/lib/bxtui-daemon/tools/docker-buildx"
DOCKERFILE = (
    "FROM busybox:local\n"
    "ARG NONCE\n"
    'RUN --mount=type=bind,target=/ctx echo "nonce=$NONCE files=$(find /ctx -type f | wc -l)"\n'
)
_TRANSFER = re.compile(
    r"^#\d+ transferring context: ([0-9.]+)(B|kB|MB|GB) (?:([0-9.]+)s )?done$", re.M
)
_UNITS = {"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9}


def write_tree(root: Path, files: int) -> None:
    """(Re)write ``files`` small files in 100 directories, contents 1 to 64 bytes."""
    root.mkdir(parents=True, exist_ok=True)
    per_dir = max(1, files // 100)
    made = 0
    d = 0
    while made < files:
        sub = root / f"d{d:03d}"
        sub.mkdir(exist_ok=True)
        for i in range(min(per_dir, files - made)):
            (sub / f"f{i:05d}.txt").write_bytes(b"x" * (1 + (made + i) % 64))
        made += min(per_dir, files - made)
        d += 1


def run_once(tool: str, argv: list[str], ctx: Path, dockerfile: Path, files: int,
             env: dict[str, str], timeout: float) -> dict[str, Any]:
    """One build; its wall time, transfer figures and whether the count was right."""
    nonce = uuid.uuid4().hex
    cmd = [*argv, "build", "--progress=plain", "-f", str(dockerfile),
           "--build-arg", f"NONCE={nonce}", str(ctx)]
    start = time.monotonic()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    wall = time.monotonic() - start
    text = proc.stderr
    transfers = _TRANSFER.findall(text)
    size = secs = None
    if transfers:
        # the context is the biggest transfer (the Dockerfile and .dockerignore are tiny)
        num, unit, t = max(transfers, key=lambda m: float(m[0]) * _UNITS[m[1]])
        size, secs = float(num) * _UNITS[unit], float(t or 0)
    ok = proc.returncode == 0 and f"nonce={nonce} files={files}" in text
    return {"tool": tool, "rc": proc.returncode, "ok": ok, "wall_s": round(wall, 3),
            "transfer_bytes": size, "transfer_s": secs,
            "tail": "" if ok else text[-2000:]}


def main() -> int:
    """Run the benchmark; 0 when every run succeeded with the right count."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--buildx", default=os.environ.get("BXTUI_BUILDX") or DEFAULT_BUILDX)
    ap.add_argument("--bxtui", default=str(Path(sys.executable).parent / "bxtui"))
    ap.add_argument("--dir", type=Path, default=Path("/var/tmp"))
    ap.add_argument("--timeout", type=float, default=900)
    args = ap.parse_args()
    env = dict(os.environ)
    env.setdefault("DOCKER_HOST", DEFAULT_HOST)
    env["BUILDX_NO_DEFAULT_ATTESTATIONS"] = "1"
    tools = {"buildx": [args.buildx], "bxtui": [args.bxtui]}
    work = Path(tempfile.mkdtemp(prefix="bxtui-bench-hostile-", dir=args.dir))
    runs: list[dict[str, Any]] = []
    try:
        dockerfile = work / "df" / "Dockerfile"
        dockerfile.parent.mkdir()
        dockerfile.write_text(DOCKERFILE)
        ctx = work / "ctx"
        for rep in range(-1, args.reps):  # -1: the warm-up round
            order = ["buildx", "bxtui"] if rep % 2 == 0 else ["bxtui", "buildx"]
            for tool in order:
                write_tree(ctx, args.files)
                subprocess.run(["sync"], check=False)
                run = run_once(tool, tools[tool], ctx, dockerfile, args.files, env,
                               args.timeout)
                run["rep"] = rep
                runs.append(run)
                print(f"rep {rep:2} {tool:6} wall {run['wall_s']:7.2f} s  transfer "
                      f"{run['transfer_s']} s  {run['transfer_bytes']} B  ok={run['ok']}",
                      flush=True)
                if not run["ok"]:
                    print(run["tail"], file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    summary: dict[str, Any] = {}
    for tool in tools:
        mine = [r for r in runs if r["tool"] == tool and r["ok"] and r["rep"] >= 0]
        if mine:
            summary[tool] = {
                "wall_median_s": statistics.median(r["wall_s"] for r in mine),
                "transfer_median_s": statistics.median(r["transfer_s"] or 0 for r in mine),
            }
    if "buildx" in summary and "bxtui" in summary:
        for key in ("wall_median_s", "transfer_median_s"):
            base = summary["buildx"][key]
            summary[f"ratio_{key}"] = round(summary["bxtui"][key] / base, 3) if base else None
    print(json.dumps({"files": args.files, **summary}, indent=2))
    if args.json:
        args.json.write_text(json.dumps({"files": args.files, "runs": runs,
                                         "summary": summary}, indent=2))
    return 0 if all(r["ok"] for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
