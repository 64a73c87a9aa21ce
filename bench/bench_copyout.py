"""Copy-out of a 10 MB / 1,000-file directory from a failed step's final state (headless).

The build (cached after the first run): ``/data`` gets ``--files`` files (default 1,000) of
``--size`` bytes (default 10,240: 10 MB in all) from /dev/urandom in 10 directories, then the
RUN fails after touching them, so ``/data`` is read from the failed step's *final* state (a
container mount only: no gateway ReadFile can reach it).  Timed, alternating, per rep:

- ``tar-only``: the transport's floor: ``tar -cf - .`` of ``/data`` in the toolbox helper,
  output counted and discarded (one process, the same helper container as the copies).
- ``copy-out``: :meth:`DebugSession.copy_out` of ``/data`` to a fresh host directory
  (probe, tar stream, host writer thread, rename into place); the first copy, which also
  starts the helper container, is reported apart.
- ``host tar -x``: a peer for the host side only: GNU ``tar -xf`` of the same archive (captured
  once from the helper) into a fresh directory, against ``writer-only``: bxtui's host writer
  (:func:`tui.debug.engine.untar.write_tree`) on the same bytes, in a thread as in a copy.
- ``cli``: wall time of ``bxtui build --progress=quiet --copy-out final:/data=DEST CTX``
  against the same command without ``--copy-out`` but with ``--invoke true`` (both keep the
  failed build open and release it): the difference is what a user waits for the copy.

No peer: buildx cannot copy files out of a failed step's state.

    .venv/bin/python bench/bench_copyout.py [--reps 5] [--files 1000] [--size 10240]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_app import BXTUI, DOCKER_HOST

from tui.debug.engine.launch import BuilderAddress
from tui.debug.engine.options import BuildOptions
from tui.debug.engine.untar import ChunkPipe, write_tree
from tui.debug.model.outcome import Failed, StateKind


def dockerfile(files: int, size: int) -> str:
    per = max(1, files // 10)
    return (
        "FROM busybox:local\n"
        f"RUN for d in 0 1 2 3 4 5 6 7 8 9; do mkdir -p /data/d$d; i=0; while [ $i -lt {per} ];"
        f" do head -c {size} /dev/urandom > /data/d$d/f$i; i=$((i+1)); done; done\n"
        "RUN touch /data/d0/f0 && echo failed > /data/status && exit 1\n")


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def bench_session(ctx: Path, reps: int, out: Path) -> dict[str, list[float]]:
    os.environ["DOCKER_HOST"] = DOCKER_HOST
    session = BuilderAddress().session(BuildOptions(context=str(ctx)))
    times: dict[str, list[float]] = {"first": [], "tar-only": [], "copy-out": [],
                                     "copy-out cpu": [], "writer-only": [], "host tar -x": []}
    try:
        session.start()
        assert isinstance(await session.wait_finished(), Failed)
        t0 = time.perf_counter()
        report = await session.copy_out("/data", str(out / "first"))
        times["first"].append(time.perf_counter() - t0)
        print(f"first copy: {times['first'][0]:.3f} s ({report.summary()})")
        files = await session._copy_source(StateKind.FINAL, None)
        helper, key = await files.explorer.helper_for(files.spec)
        for i in range(reps):
            for kind in (("tar-only", "copy-out") if i % 2 == 0 else ("copy-out", "tar-only")):
                t0, c0 = time.perf_counter(), _cpu()
                if kind == "tar-only":
                    n = 0

                    def count(fd: int, data: bytes) -> None:
                        nonlocal n
                        n += len(data)

                    proc = await helper.spawn(["tar", "-C", helper.path(key, "data"), "-cf",
                                               "-", "."], count)
                    assert await proc.wait() == 0 and n > 0
                else:
                    await session.copy_out("/data", str(out / f"r{i}"))
                    times["copy-out cpu"].append(_cpu() - c0)
                times[kind].append(time.perf_counter() - t0)
        archive = bytearray()
        proc = await helper.spawn(["tar", "-C", helper.path(key), "-cf", "-", "./data"],
                                  lambda fd, data: archive.extend(data) if fd == 1 else None)
        assert await proc.wait() == 0
        (out / "data.tar").write_bytes(archive)
        for i in range(reps):
            for kind in (("writer-only", "host tar -x") if i % 2 == 0
                         else ("host tar -x", "writer-only")):
                dest = out / f"{kind.replace(' ', '')}{i}"
                t0 = time.perf_counter()
                if kind == "host tar -x":
                    dest.mkdir()
                    await asyncio.to_thread(subprocess.run, ["tar", "-C", str(dest), "-xf",
                                                             str(out / "data.tar")], check=True)
                else:
                    pipe = ChunkPipe()
                    for j in range(0, len(archive), 1 << 16):
                        pipe.feed(bytes(archive[j:j + (1 << 16)]))
                    pipe.end()
                    await asyncio.to_thread(write_tree, pipe, "data", str(dest), False)
                times[kind].append(time.perf_counter() - t0)
    finally:
        await session.done()
    return times


def bench_cli(ctx: Path, reps: int, out: Path) -> dict[str, list[float]]:
    env = dict(os.environ, DOCKER_HOST=DOCKER_HOST)
    times: dict[str, list[float]] = {"cli --invoke true": [], "cli --copy-out": []}
    for i in range(reps):
        order = ("cli --invoke true", "cli --copy-out") if i % 2 == 0 else \
            ("cli --copy-out", "cli --invoke true")
        for kind in order:
            extra = ["--invoke", "true"] if kind == "cli --invoke true" else \
                ["--copy-out", f"final:/data={out}/cli{i}"]
            t0 = time.perf_counter()
            res = subprocess.run([BXTUI, "build", "--progress=quiet", *extra, str(ctx)],
                                 env=env, capture_output=True, text=True, timeout=300,
                                 stdin=subprocess.DEVNULL)
            times[kind].append(time.perf_counter() - t0)
            assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr[-1000:]
    return times


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--size", type=int, default=10240)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-copyout-") as tmp:
        ctx = Path(tmp) / "ctx"
        ctx.mkdir()
        (ctx / "Dockerfile").write_text(dockerfile(args.files, args.size))
        out = Path(tmp) / "out"
        print(f"load average before: {os.getloadavg()}")
        times = asyncio.run(bench_session(ctx, args.reps, out))
        times.update(bench_cli(ctx, args.reps, out))
        size = sum(f.stat().st_size for f in (out / "first").rglob("*") if f.is_file())
        print(f"load average after: {os.getloadavg()}")
        print(f"copied tree: {size / 1e6:.1f} MB")
        for kind, values in times.items():
            if values:
                med = statistics.median(values)
                rate = f", {size / med / 1e6:.0f} MB/s" if "cpu" not in kind \
                    and not kind.startswith("cli") else ""
                print(f"{kind:20s} median {med:.3f} s (min {min(values):.3f}, "
                      f"max {max(values):.3f}, n={len(values)}{rate})")
        shutil.rmtree(out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
