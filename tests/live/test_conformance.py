"""What the client decides before the daemon does (the Dockerfile's lookup, outputs): as buildx.

Each case runs `docker buildx build` and bxtui on the same daemon and compares the outcome.
"""

from __future__ import annotations

import re
import stat
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.daemon

# The RUN prints "<word>-2": the header line shows the unexpanded "$((1+1))", so finding
# "<word>-2" proves the step ran from this very Dockerfile.
DOCKERFILE = "FROM busybox:local\nRUN echo {word}-$((1+1))\n"
_MOUNT = re.compile(r"/buildkit-mount\d+/")


def _error(res: subprocess.CompletedProcess[str]) -> str | None:
    """The last ``ERROR:`` line, without buildx 0.29's ``failed to build:`` wrapper."""
    lines = [ln[len("ERROR: "):] for ln in res.stderr.splitlines() if ln.startswith("ERROR: ")]
    if not lines:
        return None
    return _MOUNT.sub("/buildkit-mount/", lines[-1].removeprefix("failed to build: "))


def _both(run_bxtui, run_buildx, *args: str, **kw: object):  # type: ignore[no-untyped-def]
    argv = ("build", "--progress=plain", "--no-cache", *args)
    bx = run_buildx(*argv, **kw)
    ours = run_bxtui(*argv, **kw)
    assert "Traceback" not in ours.stderr, ours.stderr
    return bx, ours


def _ran(res: subprocess.CompletedProcess[str], word: str) -> bool:
    return any(re.match(rf"^#\d+ \d+\.\d+ {word}-2$", ln) for ln in res.stderr.splitlines())


@pytest.mark.parametrize("explicit", [False, True], ids=["default", "-f ctx/Dockerfile"])
def test_lowercase_dockerfile_is_found(explicit: bool, tmp_path: Path, run_bxtui,  # type: ignore[no-untyped-def]
                                       run_buildx) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "dockerfile").write_text(DOCKERFILE.format(word="lower"))
    args = ["-f", str(ctx / "Dockerfile")] if explicit else []
    bx, ours = _both(run_bxtui, run_buildx, *args, str(ctx))
    assert bx.returncode == 0, bx.stderr
    assert ours.returncode == 0, ours.stderr
    assert _ran(bx, "lower") and _ran(ours, "lower")


def test_dockerfile_from_stdin(tmp_path: Path, run_bxtui, run_buildx) -> None:  # type: ignore[no-untyped-def]
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(DOCKERFILE.format(word="context"))  # not this one
    results = {}
    for tool, run in (("buildx", run_buildx), ("bxtui", run_bxtui)):
        private = tmp_path / f"tmp-{tool}"
        private.mkdir()
        res = run("build", "--progress=plain", "--no-cache", "-f", "-", str(ctx),
                  input=DOCKERFILE.format(word="stdin"), env={"TMPDIR": str(private)})
        assert res.returncode == 0, res.stderr
        assert _ran(res, "stdin") and not _ran(res, "context")
        results[tool] = sorted(p.name for p in private.iterdir())
    # Ours is removed at exit (buildx 0.13 leaves its "dockerfileNNN" directory behind).
    assert results["bxtui"] == []


def test_dockerfile_outside_the_context(tmp_path: Path, run_bxtui, run_buildx) -> None:  # type: ignore[no-untyped-def]
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "Build.df").write_text(DOCKERFILE.format(word="outside"))
    bx, ours = _both(run_bxtui, run_buildx, "-f", str(other / "Build.df"), str(ctx))
    assert bx.returncode == 0, bx.stderr
    assert ours.returncode == 0, ours.stderr
    assert _ran(bx, "outside") and _ran(ours, "outside")


@pytest.mark.parametrize("case", ["no Dockerfile", "-f missing file", "-f a directory"])
def test_missing_dockerfile_is_the_frontends_error(case: str, tmp_path: Path, run_bxtui,  # type: ignore[no-untyped-def]
                                                    run_buildx) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "sub").mkdir()
    args = {"no Dockerfile": [], "-f missing file": ["-f", str(ctx / "missing.df")],
            "-f a directory": ["-f", str(ctx / "sub")]}[case]
    bx, ours = _both(run_bxtui, run_buildx, *args, str(ctx))
    assert bx.returncode == ours.returncode == 1, ours.stderr
    err = _error(ours)
    assert err is not None and err.startswith("failed to solve: failed to read dockerfile"), err
    assert err == _error(bx)


def test_missing_dockerfile_directory(tmp_path: Path, run_bxtui, run_buildx) -> None:  # type: ignore[no-untyped-def]
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    missing = tmp_path / "nope"
    bx, ours = _both(run_bxtui, run_buildx, "-f", str(missing / "Dockerfile"), str(ctx))
    assert bx.returncode == ours.returncode == 1
    # buildx: "resolve : lstat DIR: no such file or directory", before the daemon is asked
    assert f"lstat {missing}: no such file or directory" in (_error(bx) or "")
    assert ours.stderr.strip().splitlines() == [
        f"ERROR: failed to read dockerfile: lstat {missing}: no such file or directory"
    ]


def test_local_output_directories_are_private(tmp_path: Path, run_bxtui,  # type: ignore[no-untyped-def]
                                              run_buildx) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox:local\nRUN echo secret > /out.txt\n")
    modes = {}
    for tool, run in (("buildx", run_buildx), ("bxtui", run_bxtui)):
        dest = tmp_path / tool / "a" / "b"
        res = run("build", "--progress=plain", "-o", f"type=local,dest={dest}", str(ctx))
        assert res.returncode == 0, res.stderr
        assert (dest / "out.txt").read_text() == "secret\n"
        modes[tool] = [stat.S_IMODE(p.stat().st_mode)
                       for p in (tmp_path / tool, dest.parent, dest)]
    assert modes["bxtui"] == modes["buildx"] == [0o700] * 3


def test_tar_output_into_a_missing_directory(tmp_path: Path, run_bxtui,  # type: ignore[no-untyped-def]
                                             run_buildx) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox:local\n")
    dest = tmp_path / "missing" / "out.tar"
    bx, ours = _both(run_bxtui, run_buildx, "-o", f"type=tar,dest={dest}", str(ctx))
    assert bx.returncode == ours.returncode == 1
    assert f"{dest}: no such file or directory" in (_error(bx) or "")
    assert ours.stderr.strip().splitlines() == [
        f"ERROR: failed to open {dest}: no such file or directory"
    ]


def _rawjson_digests(text: str) -> dict[str, str]:
    """Step name → vertex digest from buildx's ``--progress=rawjson`` (indented documents)."""
    import json

    dec = json.JSONDecoder()
    out: dict[str, str] = {}
    i = 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return out
        doc, i = dec.raw_decode(text, i)
        for v in doc.get("vertexes") or ():
            out[v["name"]] = v["digest"]


async def test_step_digests_are_buildx_s(tmp_path: Path, docker_host: str, run_buildx) -> None:  # type: ignore[no-untyped-def]
    """The same Dockerfile gives the same LLB: every step's digest is the one buildx's has.

    (A step reading the context differs by build: the local source names its session.) On a
    Docker Engine buildx asks the frontend to resolve images from the engine's store
    first (``image-resolve-mode=local``); a different mode changes the image op's digest and,
    with it, every step's, so concurrent builds by the two only share steps by cache key.
    """
    from tui.buildkit.address import parse_address
    from tui.buildkit.client import BuildkitClient
    from tui.debug.engine.build import run_dockerfile_build
    from tui.debug.engine.options import BuildOptions

    (tmp_path / "Dockerfile").write_text(
        "FROM busybox:local\nRUN echo digest\nRUN echo check\n")
    bx = run_buildx("build", "--progress=rawjson", str(tmp_path))
    assert bx.returncode == 0, bx.stderr[-2000:]
    theirs = {n: d for n, d in _rawjson_digests(bx.stderr).items() if n.startswith("[")
              and not n.startswith("[internal]")}
    ours: dict[str, str] = {}

    def on_status(resp) -> None:  # type: ignore[no-untyped-def]
        for v in resp.vertexes:
            if v.name in theirs:
                ours[v.name] = v.digest

    client = await BuildkitClient.open(parse_address(docker_host, "docker", "test"))
    try:
        await run_dockerfile_build(client, BuildOptions(str(tmp_path)), on_status)
    finally:
        await client.close()
    assert sorted(theirs) == ["[1/3] FROM docker.io/library/busybox:local",
                              "[2/3] RUN echo digest", "[3/3] RUN echo check"]
    assert ours == theirs
