"""A Docker Engine over tcp:// with mutual TLS: bxtui vs buildx, alternating, same endpoint.

    eval "$(bash scripts/daemon.sh env 28)"   # BXTUI_TLS_HOST, BXTUI_TLS_CERT_PATH, BXTUI_BUILDX
    .venv/bin/python bench/bench_remote.py [--reps 5] [--files 2000] [--mib 50] [--json out.json]

1. Context upload: a deterministic tree (``--files`` files, ``--mib`` MiB in all), one copy per
   tool and transport (so each keeps its own context snapshot in the daemon).  Before every run
   each file's mtime changes, so the whole tree travels again (into the same snapshot: the
   daemon's cache does not grow).  The build bind-mounts the context and counts its files
   (checked), with ``--no-cache``.  Measured: wall time of the command and the daemon's
   ``transferring context: SIZE TIME`` line.  Both transports: ``tls`` (the TLS endpoint) and
   ``unix`` (the engine's socket, for the TLS cost); the client's CPU time (user + system).
2. Launch → prompt: ``bxtui build --invoke /bin/sh`` vs ``buildx debug --on=error --invoke
   /bin/sh build`` on a cached failing build, in a PTY, over the TLS endpoint
   (bench/bench_invoke.py's measurement).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench_invoke

REPO = Path(__file__).resolve().parent.parent
BXTUI = str(REPO / ".venv" / "bin" / "bxtui")
DOCKERFILE = (
    "FROM busybox:local\nARG NONCE\n"
    "RUN --mount=type=bind,target=/ctx echo \"nonce=$NONCE files=$(find /ctx -type f | wc -l)\"\n"
)
TRANSFER = re.compile(r"transferring context: ([\d.]+)([kMG]?B) ([\d.]+)s done")


def make_tree(root: Path, files: int, total: int, seed: int = 16) -> None:
    """``files`` files of random bytes summing to ``total``, 40 to a directory."""
    rnd = random.Random(seed)
    sizes = [rnd.randint(1, 2 * total // files) for _ in range(files)]
    scale = total / sum(sizes)
    for i, size in enumerate(sizes):
        d = root / f"d{i // 40:03d}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"f{i:05d}.bin").write_bytes(rnd.randbytes(max(1, int(size * scale))))


def touch_all(root: Path, stamp: float) -> None:
    """A new mtime on every file: the next build sends every file again."""
    for dirpath, _, names in os.walk(root):
        for name in names:
            os.utime(os.path.join(dirpath, name), (stamp, stamp))


def upload_run(tool: str, ctx: Path, dockerfile: Path, env: dict[str, str], files: int,
               buildx: str) -> dict[str, float]:
    nonce = os.urandom(6).hex()
    args = ["build", "--progress=plain", "--no-cache", "--build-arg", f"NONCE={nonce}",
            "-f", str(dockerfile), str(ctx)]
    argv = [BXTUI, *args] if tool == "bxtui" else [buildx, *args]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    res = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    out = res.stderr + res.stdout
    if res.returncode != 0 or f"nonce={nonce} files={files}" not in out:
        raise RuntimeError(f"{tool}: build failed or files missing:\n{out[-2000:]}")
    found = TRANSFER.findall(out)
    transfer_s = float(found[-1][2]) if found else float("nan")
    return {"wall_s": wall, "transfer_s": transfer_s, "client_cpu_s": cpu}


def summarize(name: str, runs: list[dict[str, float]], key: str) -> float:
    values = [r[key] for r in runs]
    med = statistics.median(values)
    print(f"  {name:14s} {key:12s} median {med:7.3f}s  min {min(values):7.3f}s  "
          f"runs {' '.join(f'{v:.2f}' for v in values)}")
    return med


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--mib", type=int, default=50)
    ap.add_argument("--prompt-reps", type=int, default=8)
    ap.add_argument("--json")
    args = ap.parse_args()
    host, certs = os.environ.get("BXTUI_TLS_HOST"), os.environ.get("BXTUI_TLS_CERT_PATH")
    unix_host = os.environ.get("DOCKER_HOST", "")
    buildx = os.environ.get("BXTUI_BUILDX", "")
    if not host or not certs or not unix_host.startswith("unix://") or not buildx:
        print("bench_remote: eval \"$(bash scripts/daemon.sh env 28)\" first", file=sys.stderr)
        return 2
    base = dict(os.environ, BUILDX_NO_DEFAULT_ATTESTATIONS="1", BUILDX_EXPERIMENTAL="1",
                TERM="xterm")
    envs = {"tls": base | {"DOCKER_HOST": host, "DOCKER_TLS_VERIFY": "1",
                           "DOCKER_CERT_PATH": certs},
            "unix": base | {"DOCKER_HOST": unix_host, "DOCKER_TLS_VERIFY": ""}}
    print(f"load average before: {os.getloadavg()}", file=sys.stderr)
    work = Path(tempfile.mkdtemp(prefix="bxtui-bench-remote-"))
    results: dict[str, list[dict[str, float]]] = {}
    try:
        dockerfile = work / "Dockerfile"
        dockerfile.write_text(DOCKERFILE)
        seed_tree = work / "seed"
        make_tree(seed_tree, args.files, args.mib << 20)
        configs = [(tool, tr) for tr in ("tls", "unix") for tool in ("buildx", "bxtui")]
        trees = {}
        for tool, tr in configs:
            trees[tool, tr] = work / f"ctx-{tool}-{tr}"
            shutil.copytree(seed_tree, trees[tool, tr])
        stamp = time.time() - 86400
        for tool, tr in configs:  # warm-up: each copy's first upload (not counted)
            upload_run(tool, trees[tool, tr], dockerfile, envs[tr], args.files, buildx)
        for rep in range(args.reps):
            order = configs[rep % 2:] + configs[:rep % 2] if rep % 2 else configs[::-1]
            for tool, tr in order:
                stamp += 1
                touch_all(trees[tool, tr], stamp)
                run = upload_run(tool, trees[tool, tr], dockerfile, envs[tr], args.files, buildx)
                results.setdefault(f"upload {tool} {tr}", []).append(run)
                print(f"rep {rep + 1} upload {tool:6s} {tr:4s} wall {run['wall_s']:.2f}s "
                      f"transfer {run['transfer_s']:.2f}s cpu {run['client_cpu_s']:.2f}s",
                      file=sys.stderr)
        # launch -> prompt over TLS
        ictx = work / "invoke"
        ictx.mkdir()
        (ictx / "Dockerfile").write_text(bench_invoke.DOCKERFILE)
        cmds = bench_invoke.commands(str(ictx))
        cmds = {"bxtui": [BXTUI, *cmds["bxtui"][1:]], "buildx": [buildx, *cmds["buildx"][1:]]}
        for argv in cmds.values():
            bench_invoke.one_run(argv, envs["tls"])
        for rep in range(args.prompt_reps):
            for name in (("bxtui", "buildx") if rep % 2 else ("buildx", "bxtui")):
                run = bench_invoke.one_run(cmds[name], envs["tls"])
                results.setdefault(f"prompt {name} tls", []).append(run)
                print(f"rep {rep + 1} prompt {name:6s} {run['prompt_s']:.3f}s", file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\ncontext: {args.files} files, {args.mib} MiB; reps {args.reps}; "
          f"load average after: {os.getloadavg()}")
    med: dict[str, float] = {}
    for name, runs in results.items():
        print(name)
        keys = ("wall_s", "transfer_s", "client_cpu_s") if name.startswith("upload") else \
            ("prompt_s",)
        for key in keys:
            med[f"{name} {key}"] = summarize(name.split(" ", 1)[1], runs, key)
    for tr in ("tls", "unix"):
        r = med[f"upload bxtui {tr} wall_s"] / med[f"upload buildx {tr} wall_s"]
        print(f"bxtui/buildx upload wall ({tr}, median): {r:.2f}x")
    r = med["prompt bxtui tls prompt_s"] / med["prompt buildx tls prompt_s"]
    print(f"bxtui/buildx launch -> prompt (tls, median): {r:.2f}x")
    if args.json:
        Path(args.json).write_text(json.dumps({"runs": results, "medians": med}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
