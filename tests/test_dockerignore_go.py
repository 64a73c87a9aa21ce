"""Unusual .dockerignore patterns: the files sent agree with buildx on the same daemon."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.daemon

DOCKERFILE = "FROM busybox:local\nCOPY . /c\nRUN find /c | sort\n"
FILES = ("ax", "bx", "1x", "a.z", "az", "a\\z", "keep")


def _sent(run, ctx: Path) -> list[str]:  # type: ignore[no-untyped-def]
    res = run("build", "--progress=plain", "--no-cache", str(ctx))
    assert res.returncode == 0, res.stderr[-2000:]
    return sorted(line.split(" ", 2)[-1] for line in res.stderr.splitlines()
                  if " /c" in line and line.startswith("#") and "RUN" not in line
                  and "COPY" not in line)


@pytest.mark.parametrize("ignore", [
    "![z-a]\n[[:alpha:]]x\na\\z\n",      # lazy bad range; POSIX class; Go's \z
    "[[:digit:]]x\n\\Qa.z\\E\n",         # \Q..\E quoting
    "a\\x2ez\n",                         # a hex escape
])
def test_files_sent_agree_with_buildx(ignore: str, tmp_path: Path, run_bxtui,  # type: ignore[no-untyped-def]
                                      run_buildx) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    for name in FILES:
        (ctx / name).write_text(name)
    (ctx / ".dockerignore").write_text(ignore)
    ours = _sent(run_bxtui, ctx)
    assert ours == _sent(run_buildx, ctx)
    assert "/c/keep" in ours
