"""A hostile ``.dockerignore``: bxtui against ``docker buildx build`` uploading the same context.

Usage: .venv/bin/python bench/bench_ignore.py [--files N] [--depth D] [--lines L] [--reps R]
       [--before REV] [--sigterm] [--per-path] [--json PATH]

1. Writes (once per size) a context of ``--files`` small files (default 20,000) in 20 chains
   of ``--depth`` nested directories (default 30), some files with long hash-like names,
   and a ``.dockerignore`` of ``--lines`` hostile lines (default 50): stacked ``**``, many
   ``*`` in one name, classes. They are the shapes that made the old matcher (Python's
   backtracking ``re``) blow up, and they do exclude files: some are kept, some are not.
2. Builds it with each tool, alternating (buildx first on even repetitions), after a warm-up
   round per tool that is not counted; ``-f`` points at a Dockerfile elsewhere::

       FROM busybox:local
       ARG NONCE
       RUN --mount=type=bind,target=/ctx \\
           echo "bench nonce=$NONCE files=$(find /ctx -type f | wc -l)"

   A new ``NONCE`` per run: the step always runs. Every run's count must equal buildx's
   (both tools must send the same files). Per run: wall time and the daemon's
   ``transferring context`` time. Prints median and minimum walls and the bxtui/buildx ratio.
3. ``--before REV``: also runs bxtui as it was at ``REV`` (its ``tui`` package from git, on
   this interpreter), bounded by ``--before-timeout`` (a run that times out is killed and
   reported as such).
4. ``--sigterm``: starts each bxtui on the context, sends SIGTERM once the daemon asked for
   the context (plus ``--sigterm-after`` s, mid-walk), and reports how long it took to exit,
   its status and whether its private directory was left behind.
5. ``--per-path``: no daemon; the cost per path of the walk's matching
   (``matches_with_parent``, in walk order) with a typical ``.dockerignore`` over
   bench_context.py's tree layout, and with the hostile lines over this tree, for the
   current code and for ``--before REV`` (each in a subprocess, bounded by
   ``--before-timeout``).

Exit status 1 if a counted run failed or the tools sent different file counts.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from bench_context import _COUNT, DEFAULT_BUILDX, DEFAULT_HOST, DOCKERFILE  # noqa: E402

WORDS = ("src", "lib", "pkg", "mod", "cache", "build", "vendor", "node", "gen", "out")
STEMS = ("main", "util", "test", "data", "keep", "tmp", "index", "zeta")
EXTS = ("c", "h", "py", "o", "log", "tmp", "txt", "json")
TYPICAL_IGNORE = [
    ".git", "**/.git", "node_modules", "**/node_modules", "*.pyc", "**/*.pyc", "__pycache__",
    "**/__pycache__", "*.o", "**/*.log", "build/", "dist/", "*.swp", ".env", "!.env.example",
    "**/*.tmp", "coverage", ".venv", "docs/**/*.md", "!docs/**/README.md",
]
_TRANSFER = re.compile(r"^#\d+ transferring context: [0-9.]+\S* (?:([0-9.]+)s )?done$", re.M)
# Runs the bxtui of a source tree (argv[1]) instead of the installed one.
_BOOT = (
    "import sys; sys.meta_path[:] = [m for m in sys.meta_path if 'editable' not in repr(m)];"
    "sys.path.insert(0, sys.argv.pop(1)); sys.argv[0] = 'bxtui';"
    "from tui.cli import main; sys.exit(main())"
)


# --------------------------------------------------------------------------- the context


def dirs_of(depth: int) -> list[str]:
    """The 20 chains' directories, each chain ``depth`` levels deep."""
    out = []
    for t in range(20):
        parts = [f"t{t:02d}"]
        out.append(parts[0])
        for level in range(1, depth):
            parts.append(f"{WORDS[(t + level) % len(WORDS)]}{level:02d}")
            out.append("/".join(parts))
    return out


def files_of(files: int, depth: int) -> list[str]:
    """``files`` paths spread over the chains; one in 16 has a long hash-like name."""
    dirs = dirs_of(depth)
    out = []
    for i in range(files):
        d = dirs[i % len(dirs)]
        if i % 16 == 5:
            out.append(f"{d}/blob-{hashlib.sha256(str(i).encode()).hexdigest()}.bin")
        else:
            out.append(f"{d}/{STEMS[i % 7 % len(STEMS)]}{i:05d}.{EXTS[i % len(EXTS)]}")
    return out


def hostile_lines(lines: int, depth: int) -> list[str]:
    """``lines`` lines that backtracking matchers choke on; most exclude something."""
    out: list[str] = []
    n = 0
    while len(out) < lines:
        t = f"t{n % 20:02d}"
        stack = "**/" * (6 + n % 6)
        kind = n % 6
        if kind == 0:  # stacked **: fails late on every deep path of the chain
            out.append(f"{t}/{stack}nomatch.xyz")
        elif kind == 1:  # stacked **, then a class: excludes the chain's logs and tmps
            out.append(f"{t}/{stack}*.[lt][om][gp]")
        elif kind == 2:  # many * in one (long) name; every other one cannot match
            out.append(f"{t}/**/*" + "*".join("0123456789abcdef"[(n + k) % 16] for k in range(6))
                       + "*.bin" + ("x" if n % 4 else ""))
        elif kind == 3:  # classes, stars and a stack
            out.append(f"{t}/{stack}[a-m]*[0-9][0-9][0-9].[ch]")
        elif kind == 4:  # an exception below a stack: re-includes the keep files
            out.append(f"!{t}/{stack}keep*")
        else:  # directory name shapes across the stack
            word = WORDS[n % len(WORDS)]
            out.append(f"{t}*/{stack}{word}[0-9]*/**/{stack}*.o")
        n += 1
    return out


def ensure_context(base: Path, files: int, depth: int, lines: int) -> Path:
    """The context for these sizes (written once, then reused)."""
    ctx = base / f"ctx-{files}-{depth}-{lines}"
    marker = base / f"{ctx.name}.complete"
    if marker.exists():
        return ctx
    shutil.rmtree(ctx, ignore_errors=True)
    for d in dirs_of(depth):
        (ctx / d).mkdir(parents=True, exist_ok=True)
    for i, rel in enumerate(files_of(files, depth)):
        (ctx / rel).write_bytes(b"x" * (1 + i % 32))
    (ctx / ".dockerignore").write_text("\n".join(hostile_lines(lines, depth)) + "\n")
    marker.write_text("")
    return ctx


# --------------------------------------------------------------------------- builds


def before_tree(rev: str, work: Path) -> Path:
    """bxtui's ``tui`` package at ``rev``, extracted from git into ``work``."""
    dest = work / f"before-{rev}"
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "tui"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def run_build(cmd: list[str], ctx: Path, dockerfile: Path, env: dict[str, str],
              timeout: float) -> dict[str, Any]:
    """One build: wall time, transfer time, the file count printed, or a timeout."""
    nonce = uuid.uuid4().hex
    argv = [*cmd, "build", "--progress=plain", "-f", str(dockerfile),
            "--build-arg", f"NONCE={nonce}", str(ctx)]
    start = time.monotonic()
    try:
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:  # killed (SIGKILL) by subprocess.run
        return {"rc": None, "timed_out": True, "wall_s": round(time.monotonic() - start, 2),
                "files": None, "transfer_s": None}
    wall = time.monotonic() - start
    text = proc.stderr
    transfers = [float(t or 0) for t in _TRANSFER.findall(text)]
    count = next((int(m.group(2)) for m in _COUNT.finditer(text) if m.group(1) == nonce), None)
    return {"rc": proc.returncode, "timed_out": False, "wall_s": round(wall, 3),
            "files": count, "transfer_s": max(transfers) if transfers else None,
            "tail": "" if proc.returncode == 0 else text[-1500:]}


def sigterm_run(cmd: list[str], ctx: Path, dockerfile: Path, env: dict[str, str],
                after: float, timeout: float) -> dict[str, Any]:
    """Start a build, SIGTERM it once the context is being sent; how and when it ended."""
    private = Path(tempfile.mkdtemp(prefix="bench-ignore-tmp-"))
    argv = [*cmd, "build", "--progress=plain", "-f", str(dockerfile),
            "--build-arg", f"NONCE={uuid.uuid4().hex}", str(ctx)]
    proc = subprocess.Popen(argv, env={**env, "TMPDIR": str(private)}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:
        if "[internal] load build context" in line:
            break
    time.sleep(after)
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        rc: int | None = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        rc = None
    took = time.monotonic() - sent
    left = [p.name for p in private.glob("bxtui-*")]
    shutil.rmtree(private, ignore_errors=True)
    return {"rc": rc, "exit_after_s": round(took, 3), "left_behind": left}


# --------------------------------------------------------------------------- per path


def per_path_worker(src: str, which: str, files: int, depth: int, lines: int) -> None:
    """(Subprocess) time ``matches_with_parent`` over a tree's paths in walk order."""
    if src:
        sys.meta_path[:] = [m for m in sys.meta_path if "editable" not in repr(m)]
        sys.path.insert(0, src)
    else:
        sys.path.insert(0, str(ROOT))
    from tui.buildkit.fsync.patterns import PatternMatcher

    if which == "typical":
        from bench_context import _plan

        dirs, sized = _plan(20_000, 1 << 30, 1)
        paths = sorted({*dirs, *(p for p, _ in sized)})
        patterns = TYPICAL_IGNORE
    else:
        paths = sorted({*dirs_of(depth), *files_of(files, depth)})
        patterns = hostile_lines(lines, depth)
    pm = PatternMatcher(patterns)
    infos: dict[str, Any] = {}
    excluded = 0
    start = time.perf_counter()
    for p in paths:  # sorted: a directory comes before its children
        parent = p.rsplit("/", 1)[0] if "/" in p else None
        m, infos[p] = pm.matches_with_parent(p, infos.get(parent) if parent else None)
        excluded += m
    took = time.perf_counter() - start
    print(json.dumps({"paths": len(paths), "patterns": len(patterns), "excluded": excluded,
                      "ns_per_path": round(took / len(paths) * 1e9)}))


def per_path(args: argparse.Namespace, before: Path | None) -> dict[str, Any]:
    """Both trees, the current code and ``before`` alternating, ``--reps`` times each."""
    sources = [("now", "")] + ([("before", str(before))] if before else [])
    out: dict[str, Any] = {}
    for which in ("typical", "hostile"):
        for rep in range(args.reps):
            for label, src in sources if rep % 2 == 0 else sources[::-1]:
                key = f"{which}/{label}"
                if out.get(key, {}).get("timed_out_s"):
                    continue  # it never finished: once is enough
                cmd = [sys.executable, __file__, "--per-path-worker", src, which, "--files",
                       str(args.files), "--depth", str(args.depth), "--lines", str(args.lines)]
                try:
                    proc = subprocess.run(cmd, capture_output=True, text=True, check=True,
                                          timeout=args.before_timeout)
                except subprocess.TimeoutExpired:
                    out[key] = {"timed_out_s": args.before_timeout}
                    print(f"{key:16} did not finish in {args.before_timeout:.0f} s", flush=True)
                    continue
                res = json.loads(proc.stdout)
                entry = out.setdefault(key, {**res, "ns_per_path": []})
                entry["ns_per_path"].append(res["ns_per_path"])
                print(f"{key:16} {res}  load {os.getloadavg()[0]:.2f}", flush=True)
    for entry in out.values():
        if "ns_per_path" in entry:
            runs = entry.pop("ns_per_path")
            entry.update(ns_per_path_median=statistics.median(runs), ns_per_path_min=min(runs))
    return out


# --------------------------------------------------------------------------- driver


def _summary(runs: list[dict[str, Any]], tools: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for tool in tools:
        mine = [r for r in runs if r["tool"] == tool and r["rep"] >= 0 and r["rc"] == 0]
        walls = [r["wall_s"] for r in mine]
        xfers = [r["transfer_s"] for r in mine if r["transfer_s"] is not None]
        out[tool] = {
            "n": len(mine),
            "timed_out": sum(r["timed_out"] for r in runs if r["tool"] == tool),
            "wall_median_s": statistics.median(walls) if walls else None,
            "wall_min_s": min(walls) if walls else None,
            "transfer_median_s": statistics.median(xfers) if xfers else None,
        }
    bx, us = out.get("buildx", {}), out.get("bxtui", {})
    if bx.get("wall_median_s") and us.get("wall_median_s"):
        out["ratio_wall_median"] = round(us["wall_median_s"] / bx["wall_median_s"], 3)
        out["ratio_wall_min"] = round(us["wall_min_s"] / bx["wall_min_s"], 3)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=20_000)
    ap.add_argument("--depth", type=int, default=30)
    ap.add_argument("--lines", type=int, default=50)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--dir", type=Path, default=Path("/var/tmp/bxtui-bench-ignore"))
    ap.add_argument("--buildx", default=os.environ.get("BXTUI_BUILDX") or DEFAULT_BUILDX)
    ap.add_argument("--bxtui", default=str(Path(sys.executable).parent / "bxtui"))
    ap.add_argument("--before", metavar="REV", help="also run bxtui as it was at REV")
    ap.add_argument("--before-timeout", type=float, default=120)
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--sigterm", action="store_true")
    ap.add_argument("--sigterm-after", type=float, default=0.3)
    ap.add_argument("--per-path", action="store_true")
    ap.add_argument("--per-path-worker", nargs=2, metavar=("SRC", "WHICH"), help=argparse.SUPPRESS)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    if args.per_path_worker:
        per_path_worker(*args.per_path_worker, args.files, args.depth, args.lines)
        return 0
    env = dict(os.environ)
    env.setdefault("DOCKER_HOST", DEFAULT_HOST)
    env["BUILDX_NO_DEFAULT_ATTESTATIONS"] = "1"
    args.dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="work-", dir=args.dir))
    doc: dict[str, Any] = {"files": args.files, "depth": args.depth, "lines": args.lines,
                           "load_before": os.getloadavg()[0]}
    try:
        before = before_tree(args.before, work) if args.before else None
        if args.per_path:
            doc["per_path"] = per_path(args, before)
            print(json.dumps(doc, indent=2))
            if args.json:
                args.json.write_text(json.dumps(doc, indent=2))
            return 0
        ctx = ensure_context(args.dir, args.files, args.depth, args.lines)
        dockerfile = work / "df" / "Dockerfile"
        dockerfile.parent.mkdir()
        dockerfile.write_text(DOCKERFILE)
        tools: dict[str, tuple[list[str], float]] = {
            "buildx": ([args.buildx], args.timeout),
            "bxtui": ([args.bxtui], args.timeout),
        }
        if before is not None:
            tools["before"] = ([sys.executable, "-c", _BOOT, str(before)], args.before_timeout)
        names = list(tools)
        runs: list[dict[str, Any]] = []
        for rep in range(-1, args.reps):  # -1: the warm-up round
            order = names if rep % 2 == 0 else names[::-1]
            for tool in order:
                if tool == "before" and any(r["tool"] == "before" and r["timed_out"]
                                            for r in runs):
                    continue  # it never finished: once is enough
                cmd, limit = tools[tool]
                run = run_build(cmd, ctx, dockerfile, env, limit)
                run.update(tool=tool, rep=rep, load=os.getloadavg()[0])
                runs.append(run)
                print(f"rep {rep:2} {tool:6} wall {run['wall_s']:8.2f} s  transfer "
                      f"{run['transfer_s']} s  files {run['files']}  rc {run['rc']}"
                      + ("  TIMED OUT (killed)" if run["timed_out"] else "")
                      + f"  load {run['load']:.2f}", flush=True)
                if run["rc"] not in (0, None):
                    print(run["tail"], file=sys.stderr)
        doc["runs"] = runs
        doc["summary"] = _summary(runs, names)
        counted = [r for r in runs if r["tool"] in ("buildx", "bxtui")]
        counts = {r["files"] for r in counted}
        doc["same_file_count"] = len(counts) == 1 and None not in counts
        doc["files_sent"] = sorted(c for c in counts if c is not None)
        if args.sigterm:
            doc["sigterm"] = {}
            for tool in ("bxtui", "before") if before is not None else ("bxtui",):
                cmd, limit = tools[tool]
                res = sigterm_run(cmd, ctx, dockerfile, env, args.sigterm_after, limit)
                doc["sigterm"][tool] = res
                print(f"SIGTERM {tool}: {res}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({k: v for k, v in doc.items() if k != "runs"}, indent=2))
    if args.json:
        args.json.write_text(json.dumps(doc, indent=2))
    ok = doc["same_file_count"] and all(r["rc"] == 0 for r in counted if r["rep"] >= 0)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
