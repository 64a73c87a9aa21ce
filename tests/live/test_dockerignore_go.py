"""Unusual .dockerignore patterns: the files sent (or the error) agree with buildx on the daemon."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from plainlog import parse_plain

pytestmark = pytest.mark.daemon

DOCKERFILE = "FROM busybox:local\nCOPY . /c\nRUN find /c | sort\n"
FILES = ("ax", "bx", "1x", "a.z", "az", "a\\z", "keep")
Run = Callable[..., subprocess.CompletedProcess[str]]
CANCELED = "failed to solve: Canceled: context canceled"


def _sent(run, ctx: Path) -> list[str]:  # type: ignore[no-untyped-def]
    res = run("build", "--progress=plain", "--no-cache", str(ctx))
    assert res.returncode == 0, res.stderr[-2000:]
    return sorted(line.split(" ", 2)[-1] for line in res.stderr.splitlines()
                  if " /c" in line and line.startswith("#") and "RUN" not in line
                  and "COPY" not in line)


def _context(tmp_path: Path, ignore: bytes, names: tuple[str, ...] = FILES) -> Path:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    for name in names:
        (ctx / name).write_text("x")
    (ctx / ".dockerignore").write_bytes(ignore)
    return ctx


@pytest.mark.parametrize("ignore", [
    "![z-a]\n[[:alpha:]]x\na\\z\n",      # lazy bad range; POSIX class; Go's \z
    "[[:digit:]]x\n\\Qa.z\\E\n",         # \Q..\E quoting
    "a\\x2ez\n",                         # a hex escape
    "\\pLx\na\\_z\n",                    # a Unicode class; Go allows \_
])
def test_files_sent_agree_with_buildx(ignore: str, tmp_path: Path, run_bxtui: Run,
                                      run_buildx: Run) -> None:
    ctx = _context(tmp_path, ignore.encode())
    ours = _sent(run_bxtui, ctx)
    assert ours == _sent(run_buildx, ctx)
    assert "/c/keep" in ours


def test_undecodable_names_agree_with_buildx(tmp_path: Path, run_bxtui: Run,
                                             run_buildx: Run) -> None:
    # Go's regexp reads each undecodable byte as U+FFFD (so does ours: never an encode error);
    # both such names are left out, so BuildKit 0.25, which refuses them, gets none either.
    names = (os.fsdecode(b"caf\xe9"), os.fsdecode(b"caf\xe8x"), "cafe", "keep")
    ctx = _context(tmp_path, b"caf\xe9*\n", names)
    ours = _sent(run_bxtui, ctx)
    assert ours == _sent(run_buildx, ctx) == [
        "/c", "/c/.dockerignore", "/c/Dockerfile", "/c/cafe", "/c/keep"]


def _error(res: subprocess.CompletedProcess[str]) -> str:
    err = parse_plain(res.stderr).final_error or ""
    return err.removeprefix("failed to build: ")  # buildx 0.29 (Docker Engine 28) adds it


@pytest.mark.parametrize("ignore", [
    "!\n",                 # refused up front: the DiffCopy call fails (BuildKit 0.13)
    "*.log\na[\n",         # a filepath.Match syntax error, up front too
    "keep\n![z-a]\n",      # a regexp Go refuses, found while sending (on "keep")
    "keep\n!\\C\n",        # RE2's any-byte escape: Go refuses it
])
def test_bad_patterns_fail_as_buildx_fails(ignore: str, tmp_path: Path, run_bxtui: Run,
                                           run_buildx: Run) -> None:
    ctx = _context(tmp_path, ignore.encode())
    (ctx / "Dockerfile").write_text("FROM scratch\nCOPY . /c\n")  # the context alone
    args = ("build", "--progress=plain", "--no-cache", str(ctx))
    # BuildKit 0.13 sometimes answers a refused transfer with "Canceled: context canceled"
    # instead of the refusal, to buildx as much as to bxtui (seen in CI, also with the
    # builds one after the other and nothing but the context to load): that pair is not a
    # comparison, and is asked again (at most three times). The builds run one after the
    # other: two at once would share vertices.
    for _ in range(3):
        bx, ours = run_buildx(*args), run_bxtui(*args)
        if CANCELED not in bx.stderr + ours.stderr:
            break
    assert "Traceback" not in ours.stderr, ours.stderr
    assert bx.returncode == ours.returncode == 1
    assert "pattern" in _error(bx), bx.stderr[-2000:]
    assert _error(ours) == _error(bx)
