"""A real install: `python -m build`, then pip into a fresh venv and pipx, used with no checkout.

The sdist and wheel are built from a copy of the checkout (the build must not write into it);
the wheel goes into a venv of the system Python (no --system-site-packages) and into pipx
(PIPX_HOME in a temporary directory), both through pip's own configuration (the package
mirror). The installed ``bxtui`` then runs from a directory outside the checkout, with an
environment naming nothing of it: headless on the real daemon beside buildx, and the app in a
real PTY.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import REPO
from ptyscreen import PtyScreen

# daemon too: they need the set-up (pipx), so the daemon-free subset leaves them out
pytestmark = [pytest.mark.install, pytest.mark.daemon]

SYSTEM_PYTHON = "/usr/bin/python3"
VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
NOT_COPIED = shutil.ignore_patterns(".venv", ".git", "__pycache__", "*.egg-info", "build",
                                    "dist", ".mypy_cache", ".ruff_cache", ".pytest_cache", "out")
# what an installed module may never come from; no name of the checkout on sys.path either
CHECKOUT = str(REPO)
FAILING = "FROM busybox:local\nRUN echo install-check-out && exit 7\n"
FAILED_LINE = ('ERROR: failed to solve: process "/bin/sh -c echo install-check-out && exit 7" '
               "did not complete successfully: exit code: 7")

# Run inside an installed environment: import every module of the package, then say where
# everything came from.
PROBE = r"""
import importlib, importlib.metadata, importlib.resources, json, pkgutil, sys
import tui
names = [m.name for m in pkgutil.walk_packages(tui.__path__, "tui.")
         if not m.name.endswith("__main__")]
for name in names:
    importlib.import_module(name)
print(json.dumps({
    "tui": tui.__file__,
    "modules": len(names),
    "version": importlib.metadata.version("bxtui"),
    "tcss": importlib.resources.files("tui.ui").joinpath("bxtui.tcss").is_file(),
    "path": sys.path,
    "files": sorted(f for m in list(sys.modules.values()) if (f := getattr(m, "__file__", None))),
}))
"""


@dataclass(frozen=True)
class Installed:
    """One installed bxtui: its environment's prefix and its console script."""

    how: str
    prefix: Path
    bxtui: Path

    @property
    def python(self) -> Path:
        return self.prefix / "bin" / "python"


@dataclass(frozen=True)
class Dist:
    """What `python -m build` made, and the installs of its wheel."""

    sdist: Path
    wheel: Path
    installs: tuple[Installed, ...]
    outside: Path  # a directory outside the checkout: cwd, HOME and build context
    seconds: dict[str, float]


def _tool_env() -> dict[str, str]:
    """The environment for pip and pipx: ours (pip's mirror configuration) minus Python paths."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP"}}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if p and not p.startswith(CHECKOUT))
    return env


def _user_env(inst: Installed, outside: Path, docker_host: str) -> dict[str, str]:
    """A user's environment: their PATH with bxtui on it, a HOME of their own, their Docker."""
    return {"PATH": f"{inst.bxtui.parent}:/usr/bin:/bin", "HOME": str(outside / "home"),
            "LANG": "C.UTF-8", "TERM": "xterm-256color", "DOCKER_HOST": docker_host}


def _run(argv: list[str], env: dict[str, str], cwd: Path,
         timeout: float = 120) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True,
                         timeout=timeout, check=False)
    if res.returncode != 0:
        pytest.fail(f"{' '.join(argv)} exited {res.returncode}:\n{res.stdout}\n{res.stderr}",
                    pytrace=False)
    return res


def _start(argv: list[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    """Start ``argv`` with its output to ``log`` (no pipe to fill while another runs)."""
    with log.open("wb") as sink:
        return subprocess.Popen(argv, env=env, cwd=cwd, stdout=sink, stderr=subprocess.STDOUT)


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dist]:
    """Build sdist and wheel from a copy of the checkout; install the wheel with pip and pipx."""
    pipx = shutil.which("pipx", path="/usr/bin:/bin")
    if pipx is None:
        pytest.fail("pipx is not installed (Debian's pipx); run scripts/bootstrap.sh")
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        pytest.fail(f"{SYSTEM_PYTHON} is missing; run scripts/bootstrap.sh")
    root = tmp_path_factory.mktemp("install")
    src, out, outside = root / "src", root / "dist", root / "outside"
    shutil.copytree(REPO, src, ignore=NOT_COPIED, symlinks=True)
    (outside / "home").mkdir(parents=True)
    (outside / "ctx").mkdir()
    (outside / "ctx" / "Dockerfile").write_text(FAILING)
    env, seconds = _tool_env(), {}

    start = time.monotonic()
    _run([sys.executable, "-m", "build", "--outdir", str(out), str(src)], env, outside,
         timeout=300)
    seconds["build"] = time.monotonic() - start
    (sdist,), (wheel,) = out.glob("bxtui-*.tar.gz"), out.glob("bxtui-*.whl")

    # pip and pipx install side by side (each alone: see the report's timings)
    venv, pipx_home = root / "venv", root / "pipx"
    _run([SYSTEM_PYTHON, "-m", "venv", str(venv)], env, outside)
    pipx_env = dict(env, PIPX_HOME=str(pipx_home), PIPX_BIN_DIR=str(pipx_home / "bin"))
    start = time.monotonic()
    running = {
        "pip": _start([str(venv / "bin" / "pip"), "install", "-q", str(wheel)], env, outside,
                      root / "pip.log"),
        "pipx": _start([pipx, "install", str(wheel)], pipx_env, outside, root / "pipx.log"),
    }
    try:
        for name, proc in running.items():
            proc.wait(timeout=300)
            seconds[name] = time.monotonic() - start
            if proc.returncode != 0:
                log = (root / f"{name}.log").read_text(errors="replace")
                pytest.fail(f"{name} install exited {proc.returncode}:\n{log}", pytrace=False)
    finally:
        for proc in running.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    yield Dist(sdist, wheel, (
        Installed("pip", venv, venv / "bin" / "bxtui"),
        Installed("pipx", pipx_home / "venvs" / "bxtui", pipx_home / "bin" / "bxtui"),
    ), outside, seconds)
    print(f"\ninstall timings: {', '.join(f'{k} {v:.1f}s' for k, v in seconds.items())}; "
          f"wheel {wheel.stat().st_size / 1024:.0f} KiB")


def test_wheel_carries_the_package_and_nothing_else(dist: Dist) -> None:
    names = zipfile.ZipFile(dist.wheel).namelist()
    tops = {n.split("/", 1)[0] for n in names}
    assert tops == {"tui", f"bxtui-{VERSION}.dist-info"}
    # the generated protobuf modules, their sources and stubs, the stylesheet, the typed marker
    protos = sorted(p.name for p in (REPO / "tui/buildkit/proto").glob("*.proto"))
    assert protos
    for proto in protos:
        stem = proto.removesuffix(".proto")
        for suffix in (".proto", "_pb2.py", "_pb2.pyi", "_pb2_grpc.py"):
            assert f"tui/buildkit/proto/{stem}{suffix}" in names
    assert "tui/ui/bxtui.tcss" in names
    assert "tui/py.typed" in names
    # every module and data file of the checkout's package is in it
    tracked = {p.relative_to(REPO).as_posix() for p in (REPO / "tui").rglob("*")
               if p.is_file() and "__pycache__" not in p.parts and p.suffix in
               {".py", ".pyi", ".proto", ".tcss", ".typed"}}
    assert tracked - set(names) == set()
    assert not [n for n in names if n.endswith((".pyc", ".log")) or "__pycache__" in n]
    # the console script
    entry = zipfile.ZipFile(dist.wheel).read(f"bxtui-{VERSION}.dist-info/entry_points.txt")
    assert "bxtui = tui.cli:entry" in entry.decode()


def test_sdist_builds_and_leaves_out_the_project_tree(dist: Dist) -> None:
    with tarfile.open(dist.sdist) as tar:
        names = tar.getnames()
    base = f"bxtui-{VERSION}/"
    assert all(n.startswith(base) or n == base.rstrip("/") for n in names)
    inner = {n.removeprefix(base).split("/", 1)[0] for n in names if n != base.rstrip("/")}
    assert {"tui", "pyproject.toml", "README.md", "PKG-INFO"} <= inner
    assert not inner & {"tests", "bench", "scripts", "examples", "screenshots", ".ci"}
    # `python -m build` made the wheel from this sdist: both carry the same package files
    in_sdist = {n.removeprefix(base) for n in names if n.startswith(base + "tui/")}
    in_wheel = {n for n in zipfile.ZipFile(dist.wheel).namelist() if n.startswith("tui/")}
    assert in_wheel <= in_sdist


@pytest.mark.parametrize("how", ["pip", "pipx"])
def test_installed_package_imports_nothing_of_the_checkout(dist: Dist, how: str) -> None:
    inst = next(i for i in dist.installs if i.how == how)
    env = _user_env(inst, dist.outside, "unix:///nonexistent")
    res = _run([str(inst.python), "-c", PROBE], env, dist.outside)
    found = json.loads(res.stdout)
    prefix = str(inst.prefix.resolve())
    assert str(Path(found["tui"]).resolve()).startswith(prefix), found["tui"]
    assert found["modules"] > 50
    assert found["version"] == VERSION
    assert found["tcss"] is True
    assert not [p for p in found["path"] if p.startswith(CHECKOUT)]
    assert not [f for f in found["files"] if f.startswith(CHECKOUT)]
    # the test tools are not needed at run time (dev extras only)
    assert not [f for f in found["files"] if re.search(r"/(pyte|grpc_tools|pytest)/", f)]


@pytest.mark.parametrize("how", ["pip", "pipx"])
def test_installed_headless_build_fails_as_buildx_does(
        dist: Dist, how: str, docker_host: str, run_buildx) -> None:  # type: ignore[no-untyped-def]
    inst = next(i for i in dist.installs if i.how == how)
    env = _user_env(inst, dist.outside, docker_host)
    help_ = _run(["bxtui", "build", "--help"], env, dist.outside)
    assert help_.stdout.startswith("usage: bxtui build")
    if '"--version"' in (REPO / "tui" / "cli.py").read_text():
        assert _run(["bxtui", "--version"], env, dist.outside).stdout.strip() == \
            f"bxtui {VERSION}"
    ctx = str(dist.outside / "ctx")
    res = subprocess.run(["bxtui", "build", "--progress=plain", ctx], env=env,
                         cwd=dist.outside, capture_output=True, text=True, timeout=120,
                         check=False)
    peer = run_buildx("build", "--progress=plain", ctx, cwd=dist.outside)
    assert (res.returncode, peer.returncode) == (1, 1), res.stderr
    mine = res.stdout + res.stderr
    assert "Traceback" not in mine
    assert "install-check-out" in mine
    assert mine.rstrip().splitlines()[-1] == FAILED_LINE
    # buildx 0.29 (the peer of Docker Engine 28) wraps the daemon's error in "failed to build: "
    theirs = (peer.stdout + peer.stderr).rstrip().splitlines()[-1]
    assert theirs.replace("ERROR: failed to build: ", "ERROR: ", 1) == FAILED_LINE


def test_installed_app_shows_the_failure_and_quits(dist: Dist, docker_host: str) -> None:
    inst = next(i for i in dist.installs if i.how == "pipx")
    env = _user_env(inst, dist.outside, docker_host)
    run = PtyScreen([str(inst.bxtui), "build", str(dist.outside / "ctx")], env,
                    cwd=str(dist.outside))
    try:
        run.wait_for(r"FAILED")
        run.wait_for(r"exit code 7")
        run.wait_for(r"install-check-out")
        run.send("q")
        assert run.wait_exit(timeout=30) == 1
    finally:
        run.close()
