"""Context upload: bxtui vs ``docker buildx build`` on the same daemon, alternating the tools.

Usage: .venv/bin/python bench/bench_context.py [--reps N] [--dir DIR] [--json PATH]

1. Generates (once; cached, with a manifest next to it) a deterministic tree of ~1 GiB in
   20,000 files under ``--dir`` (default /var/tmp/bxtui-bench/ctx): nested directories, many
   small files, some medium and a few large ones, content from ``random.Random(seed)``.
   Generation is not timed; the tree is read once before measuring so that both tools read
   it from the page cache.
2. Builds, with ``-f`` pointing at a Dockerfile in a separate directory, a single step that
   bind-mounts the whole context without copying it into a layer and counts its files::

       FROM busybox:local
       ARG NONCE
       RUN --mount=type=bind,target=/ctx \\
           echo "bench nonce=$NONCE files=$(find /ctx -type f | wc -l)"

   The count printed by the step must equal the tree's file count (so the whole tree arrived);
   ``NONCE`` differs on every run so the step always runs and the count is always checked.
3. For each repetition and each tool (order alternates: buildx first on even reps, bxtui first
   on odd ones): prune the daemon's build cache (``POST /build/prune?all=1`` on the Docker API
   socket), run the build (``cold``: the daemon holds no snapshot of the context), then run it
   again unchanged (``unchanged``: only metadata needs to travel).
4. Per run: wall time of the whole command, the daemon-reported transfer size and time (the
   last ``#N transferring context: SIZE TIME done`` line of the ``[internal] load build
   context`` vertex in ``--progress=plain`` output), peak RSS and CPU time of the client
   process (GNU ``/usr/bin/time``, else polling ``/proc/PID/status`` VmHWM).

Prints medians and minima per tool and mode and the bxtui/buildx ratios (goals: cold <= 1.1x,
unchanged <= 1.2x); ``--json PATH`` writes every run and the summary.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import http.client
import json
import os
import platform
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_HOST = "unix:///run/bxtui-daemon/docker.sock"
DEFAULT_BUILDX = "/var/lib/bxtui-daemon/tools/docker-buildx"
MANIFEST_VERSION = 1
GOALS = {"cold": 1.1, "unchanged": 1.2}
TOOLS = ("buildx", "bxtui")
MODES = ("cold", "unchanged")

DOCKERFILE = """\
FROM busybox:local
ARG NONCE
RUN --mount=type=bind,target=/ctx echo "bench nonce=$NONCE files=$(find /ctx -type f | wc -l)"
"""


# --------------------------------------------------------------------------- the tree


def _plan(n_files: int, total: int, seed: int) -> tuple[list[str], list[tuple[str, int]]]:
    """Directories (parents first) and (path, size) of every file; sizes sum to ``total``."""
    rnd = random.Random(seed)
    n_dirs = max(1, n_files // 25)
    dirs: list[tuple[str, int]] = [("", 0)]  # (path, depth); "" is the root
    for i in range(n_dirs):
        parent, depth = rnd.choice([d for d in dirs[-200:] if d[1] < 6] or [("", 0)])
        name = f"{parent}/d{i:04d}" if parent else f"d{i:04d}"
        dirs.append((name, depth + 1))
    n_large = max(1, n_files // 1250)  # 16 for 20,000 files
    n_medium = max(1, n_files // 50)  # 400
    n_small = n_files - n_large - n_medium
    sizes: list[int] = []
    for _ in range(n_small):  # log-uniform 0 B .. 64 KiB, a few empty: mean ~8 KiB
        sizes.append(0 if rnd.random() < 0.02 else int(2 ** rnd.uniform(4, 16)))
    for _ in range(n_medium):  # 128 KiB .. 2 MiB
        sizes.append(int(2 ** rnd.uniform(17, 21)))
    rest = total - sum(sizes)
    if rest < n_large:
        raise SystemExit(f"--size too small for {n_files} files (need more than {sum(sizes)})")
    weights = [rnd.uniform(1, 4) for _ in range(n_large)]
    large = [int(rest * w / sum(weights)) for w in weights]
    large[0] += rest - sum(large)
    sizes += large
    rnd.shuffle(sizes)
    exts = ("c", "h", "py", "txt", "json", "bin", "o", "md")
    files = []
    for i, size in enumerate(sizes):
        d = rnd.choice(dirs)[0]
        name = f"f{i:05d}.{exts[rnd.randrange(len(exts))]}"
        files.append((f"{d}/{name}" if d else name, size))
    return [d for d, _ in dirs[1:]], files


def _manifest_path(ctx: Path) -> Path:
    return ctx.parent / f"{ctx.name}.manifest.json"


def _scan(ctx: Path) -> tuple[int, int, int]:
    """(regular files, bytes, directories) under ctx."""
    n = size = ndirs = 0
    for dirpath, dirnames, filenames in os.walk(ctx):
        ndirs += len(dirnames)
        for f in filenames:
            st = os.lstat(os.path.join(dirpath, f))
            n += 1
            size += st.st_size
    return n, size, ndirs


def ensure_tree(ctx: Path, n_files: int, total: int, seed: int) -> dict[str, Any]:
    """Generate the tree unless a matching one is already there; return its manifest."""
    want = {"version": MANIFEST_VERSION, "files": n_files, "bytes": total, "seed": seed}
    mpath = _manifest_path(ctx)
    if mpath.exists() and ctx.is_dir():
        have: dict[str, Any] = json.loads(mpath.read_text())
        if all(have.get(k) == v for k, v in want.items()):
            n, size, ndirs = _scan(ctx)
            if (n, size, ndirs) == (have["files"], have["bytes"], have["dirs"]):
                return have
            print(f"tree {ctx} does not match its manifest; regenerating", file=sys.stderr)
    if ctx.exists():
        if not mpath.exists() and any(ctx.iterdir()):
            raise SystemExit(f"{ctx} exists, is not empty and was not generated by this script")
        shutil.rmtree(ctx)
    mpath.unlink(missing_ok=True)
    print(f"generating {n_files} files, {total / 1e9:.2f} GB under {ctx} ...", file=sys.stderr)
    t0 = time.perf_counter()
    dirs, files = _plan(n_files, total, seed)
    tmp = ctx.parent / f".{ctx.name}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for d in dirs:
        (tmp / d).mkdir()
    data = random.Random(seed ^ 0x5EED)
    block = 8 << 20
    for rel, size in files:
        with open(tmp / rel, "wb") as fh:
            left = size
            while left:
                n = min(left, block)
                fh.write(data.randbytes(n))
                left -= n
    # Fixed mtimes: the tree looks the same to both tools whenever it was generated.
    stamp = 1_700_000_000
    for rel, _ in files:
        os.utime(tmp / rel, (stamp, stamp))
    os.replace(tmp, ctx)
    n, size, ndirs = _scan(ctx)
    manifest = {**want, "dirs": ndirs, "largest": max(s for _, s in files)}
    assert (n, size) == (n_files, total), (n, size)
    mpath.write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"generated in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    return manifest


def preread(ctx: Path) -> float:
    """Read every file once (not timed) so both tools find the tree in the page cache."""
    t0 = time.perf_counter()
    buf = bytearray(1 << 20)
    for dirpath, _, filenames in os.walk(ctx):
        for f in filenames:
            with open(os.path.join(dirpath, f), "rb", buffering=0) as fh:
                while fh.readinto(buf):
                    pass
    return time.perf_counter() - t0


# --------------------------------------------------------------------------- the daemon


class _UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 300) -> None:
        super().__init__("docker", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self._path)
        self.sock = s


def docker_api(host: str, method: str, path: str) -> Any:
    u = urlparse(host)
    if u.scheme != "unix":
        raise SystemExit(f"only unix:// DOCKER_HOST is supported (got {host})")
    conn = _UnixHTTP(u.path)
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        body = resp.read()
    finally:
        conn.close()
    if resp.status >= 300:
        raise RuntimeError(f"{method} {path}: {resp.status} {body[:200]!r}")
    return json.loads(body) if body else None


def prune(host: str) -> int:
    """Remove all of the daemon's build cache; return the bytes reclaimed."""
    out = docker_api(host, "POST", "/build/prune?all=1")
    return int((out or {}).get("SpaceReclaimed") or 0)


# --------------------------------------------------------------------------- one run

_UNITS = {"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}
_VERTEX = re.compile(r"^#(\d+) (\[.*)$")
_TRANSFER = re.compile(
    r"^#(\d+) transferring context: ([0-9.]+)(B|kB|MB|GB|TB)(?: ([0-9.]+)s)? done$"
)
_COUNT = re.compile(r"bench nonce=(\S+) files=(\d+)")
_TIME_FMT = "%e %M %U %S"


def parse_output(text: str) -> dict[str, Any]:
    """The build context's transfer size/time and the file count printed by the step."""
    names: dict[str, str] = {}
    transfers: list[tuple[str, float, float]] = []
    count = nonce = None
    for line in text.splitlines():
        line = line.rstrip("\r")
        if m := _VERTEX.match(line):
            names.setdefault(m.group(1), m.group(2))
        elif m := _TRANSFER.match(line):
            size = float(m.group(2)) * _UNITS[m.group(3)]
            transfers.append((m.group(1), size, float(m.group(4) or 0.0)))
        if m := _COUNT.search(line):
            nonce, count = m.group(1), int(m.group(2))
    ctx = [t for t in transfers if names.get(t[0], "").startswith("[internal] load build context")]
    pick = ctx[-1] if ctx else (max(transfers, key=lambda t: t[1]) if transfers else None)
    return {
        "transfer_bytes": pick[1] if pick else None,
        "transfer_s": pick[2] if pick else None,
        "files_seen": count,
        "nonce_seen": nonce,
    }


_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def proc_cpu(pid: int | None) -> float | None:
    """utime+stime of a process in seconds (None if unknown or unreadable)."""
    if pid is None:
        return None
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    f = text[text.rindex(")") + 2 :].split()
    return (int(f[11]) + int(f[12])) / _TCK


def host_busy() -> float | None:
    """CPU seconds the whole machine spent not idle (all cores), from /proc/stat."""
    try:
        f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    return (sum(f[:8]) - f[3] - f[4]) / _TCK


def _poll_hwm(proc: subprocess.Popen[bytes]) -> int:
    """Fallback: poll /proc/PID/status for VmHWM (kB) until the process exits."""
    peak = 0
    status = f"/proc/{proc.pid}/status"
    while proc.poll() is None:
        try:
            with open(status) as fh:
                for line in fh:
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
                        break
        except OSError:
            pass
        time.sleep(0.02)
    return peak


def run_build(
    tool: str,
    argv: list[str],
    env: dict[str, str],
    log_path: Path,
    timeout: float,
    daemon_pid: int | None = None,
) -> dict[str, Any]:
    d0, h0 = proc_cpu(daemon_pid), host_busy()
    gnu_time = shutil.which("time", path="/usr/bin:/bin")
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        cmd = [gnu_time, "-f", _TIME_FMT, "-o", tf.name, *argv] if gnu_time else argv
        with open(log_path, "wb") as log:
            t0 = time.perf_counter()
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
            hwm = 0 if gnu_time else _poll_hwm(proc)
            try:
                rc = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                rc = -9
            wall = time.perf_counter() - t0
        d1, h1 = proc_cpu(daemon_pid), host_busy()
        rss_kb = hwm
        cpu = None
        if gnu_time:
            fields = (tf.read().strip().splitlines() or [""])[-1].split()
            if len(fields) == 4:
                rss_kb = int(fields[1])
                cpu = float(fields[2]) + float(fields[3])
    text = log_path.read_text("utf-8", "replace")
    daemon_cpu = d1 - d0 if d0 is not None and d1 is not None else None
    busy = h1 - h0 if h0 is not None and h1 is not None else None
    other = (busy - (cpu or 0.0) - (daemon_cpu or 0.0)) if busy is not None else None
    return {
        "tool": tool,
        "rc": rc,
        "wall_s": wall,
        "rss_mb": rss_kb / 1024,
        "cpu_s": cpu,
        "daemon_cpu_s": daemon_cpu,
        "host_busy_s": busy,
        "other_cpu_s": other,
        **parse_output(text),
        "log": str(log_path),
    }


# --------------------------------------------------------------------------- driver


def _bxtui_cmd() -> list[str]:
    script = Path(sys.executable).parent / "bxtui"
    return [str(script)] if script.exists() else [sys.executable, "-m", "tui"]


def _loadavg() -> float:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except OSError:
        return float("nan")


def _source_digest() -> str:
    """Digest of tui/**/*.py: identifies the (possibly uncommitted) bxtui code measured."""
    h = hashlib.sha256()
    for p in sorted((ROOT / "tui").rglob("*.py")):
        h.update(str(p.relative_to(ROOT)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()[:16]


def _git_head() -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        return out.stdout.strip() or None
    except OSError:
        return None


def _versions(host: str, buildx: str) -> dict[str, Any]:
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
    }
    try:
        v = docker_api(host, "GET", "/version")
        info["engine"] = v.get("Version")
        info["api"] = v.get("ApiVersion")
    except (OSError, RuntimeError) as exc:
        info["engine"] = f"? ({exc})"
    try:
        info["buildx"] = subprocess.run(
            [buildx, "version"], capture_output=True, text=True, timeout=20
        ).stdout.strip()
    except OSError as exc:
        info["buildx"] = f"? ({exc})"
    info["bxtui_head"] = _git_head()
    info["bxtui_tui_digest"] = _source_digest()
    return info


def _stats(values: list[float]) -> dict[str, float | None]:
    vals = [v for v in values if v is not None]
    if not vals:
        return {"median": None, "min": None, "max": None}
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals)}


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for mode in MODES:
        for tool in TOOLS:
            rs = [r for r in runs if r["mode"] == mode and r["tool"] == tool and r["ok"]]
            out[f"{tool}/{mode}"] = {
                "n": len(rs),
                **{
                    k: _stats([r[k] for r in rs])
                    for k in (
                        "wall_s",
                        "transfer_s",
                        "transfer_bytes",
                        "rss_mb",
                        "cpu_s",
                        "daemon_cpu_s",
                        "other_cpu_s",
                    )
                },
            }
    ratios: dict[str, Any] = {}
    for mode in MODES:
        a, b = out[f"bxtui/{mode}"], out[f"buildx/{mode}"]
        r: dict[str, Any] = {}
        for key in ("wall_s", "transfer_s", "rss_mb", "cpu_s"):
            x, y = a[key]["median"], b[key]["median"]
            r[key] = (x / y) if x is not None and y else None
        xm, ym = a["wall_s"]["min"], b["wall_s"]["min"]
        r["wall_s_min"] = (xm / ym) if xm is not None and ym else None
        r["goal"] = GOALS[mode]
        r["meets_goal"] = r["wall_s"] is not None and r["wall_s"] <= GOALS[mode]
        ratios[mode] = r
    out["ratios"] = ratios
    return out


def _fmt(v: float | None, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def _size(n: float | None) -> str:
    if n is None:
        return "-"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f}{unit}"
    return f"{n:.0f}B"


def print_table(summary: dict[str, Any], file: Any = sys.stdout) -> None:
    hdr = (
        f"{'mode':<10} {'tool':<7} {'n':>2}  {'wall med':>8} {'wall min':>8}  "
        f"{'xfer med':>8} {'xfer min':>8} {'size med':>9}  {'rss med':>7}  "
        f"{'cpu med':>7} {'daemon':>7} {'other':>7}"
    )
    print(hdr, file=file)
    print("-" * len(hdr), file=file)
    for mode in MODES:
        for tool in TOOLS:
            s = summary[f"{tool}/{mode}"]
            size = s["transfer_bytes"]["median"]
            med = {k: v["median"] for k, v in s.items() if isinstance(v, dict)}
            print(
                f"{mode:<10} {tool:<7} {s['n']:>2}  "
                f"{_fmt(med['wall_s'], '7.2f')}s {_fmt(s['wall_s']['min'], '7.2f')}s  "
                f"{_fmt(med['transfer_s'], '7.1f')}s {_fmt(s['transfer_s']['min'], '7.1f')}s "
                f"{_size(size):>9}  {_fmt(med['rss_mb'], '5.0f')}MB  "
                f"{_fmt(med['cpu_s'], '6.2f')}s {_fmt(med['daemon_cpu_s'], '6.2f')}s "
                f"{_fmt(med['other_cpu_s'], '6.2f')}s",
                file=file,
            )
    print(
        "(xfer: daemon-reported transfer time; cpu: client user+sys; daemon: dockerd CPU;\n"
        " other: rest of the machine's CPU during the run, i.e. noise)",
        file=file,
    )
    print(file=file)
    for mode in MODES:
        r = summary["ratios"][mode]
        verdict = "meets" if r["meets_goal"] else "MISSES"
        print(
            f"bxtui/buildx {mode:<9}: wall {_fmt(r['wall_s'], '.2f')}x median "
            f"({_fmt(r['wall_s_min'], '.2f')}x min), transfer {_fmt(r['transfer_s'], '.2f')}x, "
            f"rss {_fmt(r['rss_mb'], '.2f')}x, cpu {_fmt(r['cpu_s'], '.2f')}x "
            f"-- goal <= {r['goal']}x: {verdict}",
            file=file,
        )


def _daemon_pid(arg: str | None) -> int | None:
    for cand in ([arg] if arg else []) + ["/run/bxtui-daemon/dockerd.pid"]:
        if cand.isdigit():
            return int(cand)
        try:
            return int(Path(cand).read_text().strip())
        except (OSError, ValueError):
            continue
    return None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reps", type=int, default=3, help="repetitions (default 3)")
    p.add_argument("--dir", default="/var/tmp/bxtui-bench/ctx", help="context tree (cached)")
    p.add_argument("--files", type=int, default=20_000, help="files in the tree")
    p.add_argument("--size-mb", type=float, default=1024, help="tree size in MiB (default 1024)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", help="write runs and summary as JSON to this path")
    p.add_argument("--buildx", default=DEFAULT_BUILDX, help="docker-buildx binary")
    p.add_argument("--bxtui", help="bxtui command (default: bxtui next to this interpreter)")
    p.add_argument("--only", choices=TOOLS, help="run just one tool")
    p.add_argument("--timeout", type=float, default=300, help="per-run timeout in seconds")
    p.add_argument(
        "--daemon-pid",
        help="dockerd PID or pid file, for its CPU time (default /run/bxtui-daemon/dockerd.pid)",
    )
    p.add_argument(
        "--settle",
        type=float,
        default=1.0,
        help="seconds to wait after sync before each run (default 1)",
    )
    args = p.parse_args(argv)

    host = os.environ.get("DOCKER_HOST") or DEFAULT_HOST
    env = {**os.environ, "DOCKER_HOST": host, "NO_COLOR": "1", "BUILDKIT_COLORS": ""}
    env.pop("BUILDKIT_HOST", None)
    ctx = Path(args.dir).resolve()
    ctx.parent.mkdir(parents=True, exist_ok=True)
    total = int(args.size_mb * 1024 * 1024)
    manifest = ensure_tree(ctx, args.files, total, args.seed)
    dfdir = ctx.parent / f"{ctx.name}-dockerfile"
    dfdir.mkdir(exist_ok=True)
    (dfdir / "Dockerfile").write_text(DOCKERFILE)
    logs = ctx.parent / "logs"
    logs.mkdir(exist_ok=True)
    print(f"pre-reading the tree ... {preread(ctx):.1f}s", file=sys.stderr)

    commands = {
        "buildx": [args.buildx, "build", "--progress=plain"],
        "bxtui": (args.bxtui.split() if args.bxtui else _bxtui_cmd())
        + ["build", "--progress=plain"],
    }
    versions = _versions(host, args.buildx)
    print(
        f"engine {versions.get('engine')}, {versions.get('buildx')}, bxtui "
        f"{versions['bxtui_head']} (tui digest {versions['bxtui_tui_digest']}), "
        f"{versions['cpus']} cpus",
        file=sys.stderr,
    )

    daemon_pid = _daemon_pid(args.daemon_pid)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    seq = 0

    def one(tool: str, mode: str, rep: int, build_ctx: Path) -> dict[str, Any]:
        nonlocal seq
        seq += 1
        nonce = f"{stamp}-{seq}"
        argv = [
            *commands[tool],
            "-f",
            str(dfdir / "Dockerfile"),
            "--build-arg",
            f"NONCE={nonce}",
            str(build_ctx),
        ]
        os.sync()
        time.sleep(args.settle)
        load = _loadavg()
        r = run_build(
            tool, argv, env, logs / f"{stamp}-{seq:02d}-{tool}-{mode}.log", args.timeout, daemon_pid
        )
        r.update(mode=mode, rep=rep, nonce=nonce, loadavg_before=load)
        return r

    # Warm-up, not recorded: each tool once on a tiny context (process start, frontend, image).
    tiny = ctx.parent / "tiny-ctx"
    tiny.mkdir(exist_ok=True)
    (tiny / "x").write_text("x\n")
    for tool in TOOLS if not args.only else (args.only,):
        w = one(tool, "warmup", -1, tiny)
        if w["rc"] != 0 or w["files_seen"] != 1:
            print(f"warm-up of {tool} failed (rc {w['rc']}); see {w['log']}", file=sys.stderr)
            return 1

    runs: list[dict[str, Any]] = []
    t_start = time.perf_counter()
    for rep in range(args.reps):
        order: tuple[str, ...] = TOOLS if rep % 2 == 0 else TOOLS[::-1]
        if args.only:
            order = (args.only,)
        for tool in order:
            reclaimed = prune(host)
            for mode in MODES:
                r = one(tool, mode, rep, ctx)
                if mode == "cold":
                    r["pruned_bytes"] = reclaimed
                r["ok"] = (
                    r["rc"] == 0
                    and r["files_seen"] == manifest["files"]
                    and r["nonce_seen"] == r["nonce"]
                )
                runs.append(r)
                size = r["transfer_bytes"]
                print(
                    f"rep {rep} {tool:<6} {mode:<9} wall {r['wall_s']:6.2f}s  transfer "
                    f"{_size(size)} "
                    f"{_fmt(r['transfer_s'], '.1f')}s  rss {r['rss_mb']:.0f}MB  cpu "
                    f"{_fmt(r['cpu_s'], '.2f')}s  daemon {_fmt(r['daemon_cpu_s'], '.2f')}s  other "
                    f"{_fmt(r['other_cpu_s'], '.2f')}s  files {r['files_seen']}  load "
                    f"{r['loadavg_before']:.2f}" + ("" if r["ok"] else f"  FAILED ({r['log']})"),
                    file=sys.stderr,
                    flush=True,
                )
    elapsed = time.perf_counter() - t_start

    summary = summarize(runs)
    sys.stderr.flush()
    print()
    print(
        f"context: {manifest['files']} files, {manifest['dirs']} dirs, "
        f"{manifest['bytes'] / 1e9:.2f} GB; {args.reps} reps; measured in {elapsed:.0f}s"
    )
    print_table(summary)
    if args.json:
        doc = {
            "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "host": platform.node(),
            "versions": versions,
            "docker_host": host,
            "tree": {"dir": str(ctx), **manifest},
            "dockerfile": DOCKERFILE,
            "reps": args.reps,
            "elapsed_s": elapsed,
            "runs": runs,
            "summary": summary,
        }
        Path(args.json).write_text(json.dumps(doc, indent=1) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)
    failed = [r for r in runs if not r["ok"]]
    if failed:
        print(f"{len(failed)} run(s) failed or saw the wrong file count", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
