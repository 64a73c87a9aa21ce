"""PtyScreen.select_row: picking a row by its text in a real PTY (no daemon).

The program in the PTY is a tiny list drawn in a box like the app's panes: the cursor row in
reverse video, the arrow keys move it (stopping at the ends), ``q`` prints the choice.
"""

from __future__ import annotations

import os
import sys
import textwrap

import pytest
from ptyscreen import PtyScreen

LIST_APP = textwrap.dedent(r"""
    import os, sys, tty
    tty.setraw(0)
    items = [f"item {i:02d}" for i in range(20)]
    cur, keys = 10, 0
    def draw():
        out = ["\x1b[H\x1b[2J", "header item 00 elsewhere\r\n", "╭" + "─" * 12 + "╮\r\n"]
        for i, name in enumerate(items):
            body = f" {name}   "
            out.append("│" + (f"\x1b[7m{body}\x1b[0m" if i == cur else body) + " │\r\n")
        out.append("╰" + "─" * 12 + "╯")
        os.write(1, "".join(out).encode())
    draw()
    while True:
        data = os.read(0, 64)
        if data == b"q":
            break
        for key, step in ((b"\x1b[A", -1), (b"\x1b[B", 1)):
            for _ in range(data.count(key)):
                keys += 1
                cur = min(max(cur + step, 0), len(items) - 1)
        draw()
    os.write(1, f"\x1b[H\x1b[2JSELECTED {items[cur]} KEYS {keys}\r\n".encode())
""")


@pytest.fixture
def listing():  # type: ignore[no-untyped-def]
    run = PtyScreen([sys.executable, "-c", LIST_APP], dict(os.environ), rows=26, cols=40)
    run.wait_for(r"item 19")
    yield run
    run.close()


def test_moves_down_then_up_to_the_row_with_the_text(listing: PtyScreen) -> None:
    assert listing.select_row(r"│ item 14") == 2 + 14
    assert listing.select_row(r"│ item 03") == 2 + 3
    listing.send("q")
    listing.wait_for(r"SELECTED item 03 KEYS 15")  # 4 down, 11 up: no key more
    assert listing.wait_exit(10) == 0


def test_already_selected_row_sends_nothing(listing: PtyScreen) -> None:
    assert listing.select_row(r"item 10") == 2 + 10
    listing.send("q")
    listing.wait_for(r"SELECTED item 10 KEYS 0")


def test_text_on_two_rows_is_refused(listing: PtyScreen) -> None:
    with pytest.raises(AssertionError, match=r"'item 00' is on 2 rows"):
        listing.select_row(r"item 00")


def test_a_key_that_changes_nothing_fails_in_bounded_time(listing: PtyScreen) -> None:
    listing.select_row(r"│ item 19")
    # the text is there but can never be the cursor's: the next key changes nothing
    with pytest.raises(AssertionError, match=r"no change on screen"):
        listing.select_row(r"╰─", timeout=0.5)
