"""--shm-size, --ulimit, --cgroup-parent, --annotation and attestations beside buildx."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = pytest.mark.daemon

Run = Callable[..., subprocess.CompletedProcess[str]]

# The RUN writes what its container saw; the last stage exports only those files.
DOCKERFILE = (
    "FROM busybox:local AS run\n"
    "RUN mkdir /out && cat /proc/self/limits > /out/limits"
    " && df -k /dev/shm | tail -1 > /out/shm && cat /proc/self/cgroup > /out/cgroup\n"
    "FROM scratch\n"
    "COPY --from=run /out /\n")
FLAGS = ("--shm-size", "64m", "--ulimit", "nofile=1024:2048", "--ulimit", "core=0",
         "--cgroup-parent", "bxtuitest")


def _seen(run: Run, ctx: Path, dest: Path) -> dict[str, str]:
    res = run("build", "-q", "--no-cache", *FLAGS, "-o", f"type=local,dest={dest}", str(ctx))
    assert res.returncode == 0, res.stderr[-2000:]
    seen = {p.name: p.read_text() for p in dest.iterdir()}
    # each container has its own cgroup leaf under the parent
    seen["cgroup"] = re.sub(r"/buildkit/[0-9a-z]+$", "/buildkit/<id>", seen["cgroup"], flags=re.M)
    return seen


def test_run_sees_the_limits_buildx_gives(tmp_path: Path, run_bxtui: Run,
                                          run_buildx: Run) -> None:
    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    ours = _seen(run_bxtui, tmp_path, tmp_path / "ours")
    assert ours == _seen(run_buildx, tmp_path, tmp_path / "theirs")
    assert ours["shm"].split()[1] == "65536"  # 64m in KiB
    assert re.search(r"^Max open files +1024 +2048 ", ours["limits"], re.M)
    assert re.search(r"^Max core file size +0 +0 ", ours["limits"], re.M)
    assert all(":/bxtuitest/buildkit/<id>" in ln for ln in ours["cgroup"].splitlines())


@pytest.mark.parametrize("args", [
    ("--provenance=false",),                 # disabled: no attribute, a plain build
    ("--annotation", "org.example=1", "--annotation", "manifest:org.example.m=2"),
])
def test_accepted_as_buildx_accepts_them(args: tuple[str, ...], tmp_path: Path,
                                         run_bxtui: Run, run_buildx: Run) -> None:
    (tmp_path / "Dockerfile").write_text("FROM busybox:local\nRUN echo accepted\n")
    argv = ("build", "-q", *args, str(tmp_path))
    bx, ours = run_buildx(*argv), run_bxtui(*argv)
    assert bx.returncode == ours.returncode == 0, (bx.stderr, ours.stderr)
    assert ours.stdout == bx.stdout  # the same image: the Engine's exporter ignores annotations


def _error(res: subprocess.CompletedProcess[str]) -> str:
    text = res.stderr.strip().removeprefix("ERROR: ").removeprefix("failed to build: ")
    return " ".join(text.split())  # buildx spreads the attestation refusal over three lines


@pytest.mark.parametrize("args", [
    ("--ulimit", "bogus=1"),
    ("--ulimit", "nofile=x"),
    ("--ulimit", "nofile=10:5"),
    ("--sbom=true",),
    ("--attest", "type=provenance,mode=max"),
])
def test_refused_as_buildx_refuses_them(args: tuple[str, ...], tmp_path: Path,
                                        run_bxtui: Run, run_buildx: Run) -> None:
    (tmp_path / "Dockerfile").write_text("FROM busybox:local\n")
    argv = ("build", "-q", *args, str(tmp_path))
    bx, ours = run_buildx(*argv), run_bxtui(*argv)
    assert bx.returncode == ours.returncode == 1
    assert "Traceback" not in ours.stderr and len(ours.stderr.strip().splitlines()) == 1
    assert _error(ours) == _error(bx)
