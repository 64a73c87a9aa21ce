"""bxtui and `docker buildx build --progress=plain` agree on the same daemon.

Each example is built by both; the steps run, the failing step, its marked Dockerfile line, the
error and the exit code must match.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest
from conftest import EXAMPLES
from plainlog import PlainRun, parse_plain

pytestmark = pytest.mark.daemon

_REF_ID = re.compile(r"[0-9a-z-]+::[0-9a-z]+")


def _norm(text: str | None) -> str | None:
    # buildx 0.29 (the peer of Docker Engine 28) wraps the daemon's error in "failed to build: ";
    # 0.13 printed it as it came. A client difference: ours prints the daemon's error as 0.13 did.
    if text is not None and text.startswith("failed to build: "):
        text = text[len("failed to build: "):]
    return None if text is None else _REF_ID.sub("<ref>", text)


def _both(run_bxtui, run_buildx, *args: str) -> tuple[PlainRun, PlainRun, int, int]:  # type: ignore[no-untyped-def]
    bx = run_buildx("build", "--progress=plain", *args)
    ours = run_bxtui("build", "--progress=plain", *args)
    assert "Traceback" not in ours.stderr, ours.stderr
    return parse_plain(bx.stderr), parse_plain(ours.stderr), bx.returncode, ours.returncode


CASES = {
    "success": ("success", [], 0),
    "fail-run": ("fail-run", [], 1),
    "fail-stage": ("fail-stage", [], 1),
    "copy-missing": ("copy-missing", [], 1),
    "syntax-error": ("syntax-error", [], 1),
    "build-args": ("build-args", [], 1),
    "build-args-ok": (
        "build-args", ["--build-arg", "GREETING=hello", "--build-arg", "TARGET_NAME=world"], 0
    ),
    "secret-missing": ("secret", ["--no-cache"], 1),
    "secret-file": (
        "secret", ["--secret", f"id=token,src={EXAMPLES / 'secret' / 'token.txt'}"], 0
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_agrees_with_buildx(case: str, run_bxtui, run_buildx) -> None:  # type: ignore[no-untyped-def]
    example, extra, want_rc = CASES[case]
    bx, ours, bx_rc, our_rc = _both(run_bxtui, run_buildx, *extra, str(EXAMPLES / example))
    assert (bx_rc, our_rc) == (want_rc, want_rc)
    assert ours.steps() == bx.steps()
    assert ours.failed() == bx.failed()
    assert ours.marked_lines == bx.marked_lines
    assert ours.snippet_file == bx.snippet_file
    assert _norm(ours.final_error) == _norm(bx.final_error)
    if want_rc:
        assert ours.final_error and ours.final_error.startswith("failed to solve")
        assert ours.marked_lines or case == "secret-missing" or example == "syntax-error"


def test_secret_from_env_never_printed(run_bxtui) -> None:  # type: ignore[no-untyped-def]
    res = run_bxtui(
        "build", "--progress=plain", "--no-cache", "--secret", "id=token,env=BXTUI_TOKEN",
        str(EXAMPLES / "secret"), env={"BXTUI_TOKEN": "s3cr3t-value"},
    )
    assert res.returncode == 0, res.stderr
    assert "secret ok" in res.stderr
    assert "s3cr3t-value" not in res.stderr.replace('= "s3cr3t-value"', "")


def _logs(text: str, needle: str) -> list[str]:
    """Log lines (without the #N and time prefix) of the step whose name contains needle."""
    run = parse_plain(text)
    nums = [n for n, name in run.names.items() if needle in name]
    assert nums, f"no step containing {needle!r} in:\n{text}"
    out = []
    for line in text.splitlines():
        m = re.match(rf"^#{nums[0]} \d+\.\d+ (.*)$", line)
        if m:
            out.append(m.group(1))
    return out


def test_dockerignore_listing_matches(run_bxtui, run_buildx) -> None:  # type: ignore[no-untyped-def]
    args = ("build", "--progress=plain", "--no-cache", str(EXAMPLES / "dockerignore"))
    bx = run_buildx(*args)
    ours = run_bxtui(*args)
    assert bx.returncode == ours.returncode == 0, ours.stderr
    listing = _logs(ours.stderr, "find .")
    assert listing == _logs(bx.stderr, "find .")
    assert "./keep.log" in listing and "./drop.log" not in listing
    assert not any("secret" in x or x.endswith(".tmp") for x in listing)


def _make_tree(root: Path) -> None:
    (root / "empty" / "deeper-empty").mkdir(parents=True)
    (root / "a" / "b" / "c").mkdir(parents=True)
    (root / "a" / "b" / "c" / "deep.txt").write_text("deep\n")
    (root / "a" / "b.txt").write_text("sorts after a/b/ in fsutil order\n")
    (root / "a.txt").write_text("x" * 5000)
    (root / "run.sh").write_text("#!/bin/sh\necho run\n")
    (root / "run.sh").chmod(0o755)
    (root / "ro.txt").write_text("read only\n")
    (root / "ro.txt").chmod(0o444)
    os.symlink("a/b/c/deep.txt", root / "link-to-deep")
    os.symlink("/etc/passwd", root / "abs-link")
    os.symlink("missing-target", root / "dangling")
    (root / "logs").mkdir()
    for name in ("one.log", "keep.log", "two.log"):
        (root / "logs" / name).write_text(name)
    (root / "tmp").mkdir()
    (root / "tmp" / "junk.tmp").write_text("junk")
    (root / "tmp" / "keep.tmp").write_text("keep")
    (root / "sticky").mkdir()
    (root / "sticky").chmod(0o1777)
    (root / ".dockerignore").write_text("**/*.log\n!logs/keep.log\ntmp\n!tmp/keep.tmp\n")
    (root / "Dockerfile").write_text(
        "FROM busybox:local\n"
        "COPY . /ctx\n"
        "RUN cd /ctx && find . -mindepth 1 | sort | while read f; do "
        "stat -c '%n %A %s %u:%g' \"$f\"; "
        "[ -d \"$f\" ] || stat -c '  mtime %Y' \"$f\"; "
        "if [ -L \"$f\" ]; then echo \"  -> $(readlink \"$f\")\"; fi; done\n"
    )
    os.utime(root / "a.txt", (1_600_000_000, 1_600_000_000))
    assert stat.S_IMODE((root / "sticky").stat().st_mode) == 0o1777


def test_context_tree_arrives_as_buildx_sends_it(tmp_path: Path, run_bxtui, run_buildx) -> None:  # type: ignore[no-untyped-def]
    # Directory mtimes are left out: the daemon keeps them from its previous snapshot of a
    # context (keyed by the client's shared key), which differs between the two clients.
    _make_tree(tmp_path)
    args = ("build", "--progress=plain", "--no-cache", str(tmp_path))
    bx = run_buildx(*args)
    ours = run_bxtui(*args)
    assert bx.returncode == 0, bx.stderr
    assert ours.returncode == 0, ours.stderr
    listing = _logs(ours.stderr, "find .")
    assert listing == _logs(bx.stderr, "find .")
    text = "\n".join(listing)
    assert "./empty/deeper-empty drwxr-xr-x" in text
    assert "./run.sh -rwxr-xr-x" in text
    assert "  -> a/b/c/deep.txt" in text and "  -> /etc/passwd" in text
    assert "./logs/keep.log" in text and "./logs/one.log" not in text
    assert "./tmp/keep.tmp" in text and "./tmp/junk.tmp" not in text
    assert "./sticky drwxrwxrwt" in text
    assert "./a.txt -rw-r--r-- 5000 0:0\n  mtime 1600000000" in text
