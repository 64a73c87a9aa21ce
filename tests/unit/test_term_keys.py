"""Textual key names and pasted text to PTY bytes."""

from __future__ import annotations

import pytest

from tui.ui.term.base import Modes
from tui.ui.term.keys import encode_key, encode_paste

NORMAL = Modes()
APP = Modes(app_cursor=True)


@pytest.mark.parametrize(("key", "char", "expected"), [
    ("a", "a", b"a"),
    ("A", "A", b"A"),
    ("shift+a", "A", b"A"),
    ("exclamation_mark", "!", b"!"),
    ("space", " ", b" "),
    ("é", "é", "é".encode()),
    ("enter", "\r", b"\r"),
    ("backspace", "\x7f", b"\x7f"),
    ("tab", "\t", b"\t"),
    ("shift+tab", None, b"\x1b[Z"),
    ("escape", "\x1b", b"\x1b"),
    ("ctrl+c", "\x03", b"\x03"),
    ("ctrl+c", None, b"\x03"),  # kitty keyboard protocol: no character
    ("ctrl+a", None, b"\x01"),
    ("ctrl+z", None, b"\x1a"),
    ("ctrl+d", "\x04", b"\x04"),
    ("ctrl+shift+c", None, b"\x03"),
    ("ctrl+left_square_bracket", None, b"\x1b"),
    ("ctrl+backslash", "\x1c", b"\x1c"),
    ("ctrl+at", None, b"\x00"),
    ("ctrl+underscore", None, b"\x1f"),
    ("alt+x", "x", b"\x1bx"),
    ("alt+shift+x", "X", b"\x1bX"),
    ("alt+ctrl+c", None, b"\x1b\x03"),
    ("alt+backspace", None, b"\x1b\x7f"),
    ("home", None, b"\x1b[H"),
    ("end", None, b"\x1b[F"),
    ("pageup", None, b"\x1b[5~"),
    ("pagedown", None, b"\x1b[6~"),
    ("insert", None, b"\x1b[2~"),
    ("delete", None, b"\x1b[3~"),
    ("f1", None, b"\x1bOP"),
    ("f4", None, b"\x1bOS"),
    ("f5", None, b"\x1b[15~"),
    ("f12", None, b"\x1b[24~"),
    ("shift+f1", None, b"\x1b[1;2P"),
    ("ctrl+f5", None, b"\x1b[15;5~"),
    ("ctrl+left", None, b"\x1b[1;5D"),
    ("shift+up", None, b"\x1b[1;2A"),
    ("alt+right", None, b"\x1b[1;3C"),
    ("ctrl+shift+delete", None, b"\x1b[3;6~"),
    ("<ignore>", None, b""),
])
def test_keys(key, char, expected):
    assert encode_key(key, char, NORMAL) == expected


@pytest.mark.parametrize(("key", "normal", "app"), [
    ("up", b"\x1b[A", b"\x1bOA"),
    ("down", b"\x1b[B", b"\x1bOB"),
    ("right", b"\x1b[C", b"\x1bOC"),
    ("left", b"\x1b[D", b"\x1bOD"),
    ("home", b"\x1b[H", b"\x1bOH"),
    ("end", b"\x1b[F", b"\x1bOF"),
    ("ctrl+up", b"\x1b[1;5A", b"\x1b[1;5A"),  # modified keys are CSI either way
])
def test_cursor_keys_follow_decckm(key, normal, app):
    assert encode_key(key, None, NORMAL) == normal
    assert encode_key(key, None, APP) == app


def test_paste_plain_and_bracketed():
    assert encode_paste("ls -l\nwc\n", NORMAL) == b"ls -l\rwc\r"
    assert encode_paste("a\r\nb", Modes(bracketed_paste=True)) == b"\x1b[200~a\rb\x1b[201~"


def test_paste_cannot_close_the_bracket_early():
    evil = "x\x1b[201~rm -rf /\n"
    out = encode_paste(evil, Modes(bracketed_paste=True))
    assert out.startswith(b"\x1b[200~") and out.endswith(b"\x1b[201~")
    assert out.count(b"\x1b[201~") == 1
