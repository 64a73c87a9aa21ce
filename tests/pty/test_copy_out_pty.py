"""The real `bxtui` app in a real PTY: ``o`` in the file browser copies out of the failed
step's final state (the proposed path, modes and links kept, overwriting only when asked)."""

from __future__ import annotations

import os
import re
import stat
import time
from pathlib import Path

import pytest
from conftest import EXAMPLES, bxtui_binary, wait_until
from ptyscreen import PtyScreen

pytestmark = pytest.mark.daemon

BAR = "\u2502"
BARS = "\u2502\u258c"
HEADER = re.compile(r"\d+/\d+ (final|initial) state")


def _cursor(run: PtyScreen, y: int, x0: int, x1: int) -> int | None:
    """The listing row drawn unlike the others (the browser's header row left out)."""
    display = run.screen.display
    border = display[y].rfind(BAR, 0, x0)
    top = bottom = y
    while top > 0 and display[top - 1][border] in BARS:
        top -= 1
    while bottom < run.rows - 1 and display[bottom + 1][border] in BARS:
        bottom += 1
    rows = [r for r in range(top, bottom + 1) if not HEADER.search(display[r])]
    looks = {r: tuple((c.bg, c.reverse) for c in (run.screen.buffer[r][x]
                                                   for x in range(x0, x1))) for r in rows}
    usual = max(set(looks.values()), key=list(looks.values()).count)
    odd = [r for r, look in looks.items() if look != usual]
    return odd[0] if len(odd) == 1 else None


def _select(run: PtyScreen, pattern: str, timeout: float = 30) -> None:
    """Arrow keys until the browser's cursor is on the row matching ``pattern``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        y, x0, x1 = run._row_of(pattern) or (None, 0, 0)
        if y is None:
            run.pump(0.2)
            continue
        cursor = _cursor(run, y, x0, x1)
        if cursor == y:
            return
        before = run.text(), cursor
        run.send("\x1b[A" if cursor is not None and cursor > y else "\x1b[B")
        while (run.text(), _cursor(run, y, x0, x1)) == before \
                and time.monotonic() < deadline:
            run.pump(0.2)
        run._settle()
    raise AssertionError(f"{pattern!r} not selected:\n{run.text()}")


def test_o_copies_a_file_and_a_link_out_of_the_final_state(docker_host: str,
                                                           tmp_path: Path) -> None:
    env = dict(os.environ, DOCKER_HOST=docker_host, TERM="xterm-256color", COLORTERM="truecolor")
    run = PtyScreen([bxtui_binary(), "build", str(EXAMPLES / "fail-changes")], env, rows=40,
                    cols=140, cwd=str(tmp_path))
    out = tmp_path / "bxtui-out" / "final-4" / "data"
    try:
        run.wait_for(r"exit code 7")
        run.send("b")
        run.wait_for(r"1/2 final state of \[4/4\]")
        _select(run, r"drwx.* data/")
        run.send("\r")
        run.wait_for(r"added\.txt")
        _select(run, r"-rw.* edit\.txt")
        run.send("o")
        run.wait_for(r"Copy /data/edit\.txt of the final state")
        run.wait_for(r"\./bxtui-out/final-4/data/edit\.txt")  # the proposed path
        run.send("\r")
        run.wait_for(r"Copied")
        assert (out / "edit.txt").read_text() == "old\nnew\n"
        assert stat.S_IMODE((out / "edit.txt").stat().st_mode) == 0o644
        assert stat.S_IMODE((tmp_path / "bxtui-out").stat().st_mode) == 0o700
        _select(run, r"lrw.* link")
        run.send("o")
        run.wait_for(r"Copy /data/link of the final state")
        run.send("\r")
        assert wait_until(lambda: os.path.islink(out / "link"), 30)
        assert os.readlink(out / "link") == "edit.txt"  # a link, not the file it names
        # again on edit.txt: it exists now, so the app asks; n keeps it
        (out / "edit.txt").write_text("mine")
        _select(run, r"-rw.* edit\.txt")
        run.send("o")
        run.wait_for(r"Copy /data/edit\.txt of the final state")
        run.send("\r")
        run.wait_for(r"already exists\. Overwrite it\? \(y/n\)")
        run.send("n")
        run.wait_for(r"kept: nothing copied")
        assert (out / "edit.txt").read_text() == "mine"
        run.send("o")
        run.wait_for(r"Copy /data/edit\.txt of the final state")
        run.send("\r")
        run.wait_for(r"Overwrite it\?")
        run.send("y")
        assert wait_until(lambda: (out / "edit.txt").read_text() == "old\nnew\n", 30)
        run.send("\x1b")
        run.wait_for(r"Failing step")
        run.send("q")
        assert run.wait_exit(timeout=30) == 1
        assert "Traceback" not in run.tail()
    finally:
        run.close()


def test_o_in_the_diff_copies_a_changed_and_a_removed_file(docker_host: str,
                                                           tmp_path: Path) -> None:
    env = dict(os.environ, DOCKER_HOST=docker_host, TERM="xterm-256color", COLORTERM="truecolor")
    run = PtyScreen([bxtui_binary(), "build", str(EXAMPLES / "fail-changes")], env, rows=40,
                    cols=140, cwd=str(tmp_path))
    try:
        run.wait_for(r"exit code 7")
        run.send("d")
        run.wait_for(r"4 added, 3 removed, 3 changed")
        run.select_row(r" edit\.txt +content")
        run.send("o")
        run.wait_for(r"\./bxtui-out/final-4/data/edit\.txt")
        run.send("\r")
        run.wait_for(r"Copied")
        changed = tmp_path / "bxtui-out" / "final-4" / "data" / "edit.txt"
        assert changed.read_text() == "old\nnew\n"
        run.select_row(r"D +gone\.txt {2}")
        run.send("o")  # removed by the step: from the initial state
        run.wait_for(r"\./bxtui-out/initial-4/data/gone\.txt")
        run.send("\r")
        gone = tmp_path / "bxtui-out" / "initial-4" / "data" / "gone.txt"
        assert wait_until(gone.exists, 30)
        assert gone.read_text() == "bye\n"
        run.send("q")
        assert run.wait_exit(timeout=30) == 1
        assert "Traceback" not in run.tail()
    finally:
        run.close()
