"""Textual key events and pasted text to the bytes a program in a PTY expects (xterm)."""

from __future__ import annotations

from tui.ui.term.base import Modes

__all__ = ["encode_key", "encode_paste"]

_PASTE_START, _PASTE_END = b"\x1b[200~", b"\x1b[201~"

# Keys whose unmodified form is CSI/SS3 + final: (final, uses SS3 in application cursor mode).
_CURSOR = {"up": b"A", "down": b"B", "right": b"C", "left": b"D", "home": b"H", "end": b"F"}
# Keys sent as CSI number ~ .
_TILDE = {"insert": 2, "delete": 3, "pageup": 5, "pagedown": 6, "f5": 15, "f6": 17, "f7": 18,
          "f8": 19, "f9": 20, "f10": 21, "f11": 23, "f12": 24}
# F1-F4 are SS3 P..S unmodified, CSI 1;m P..S with modifiers.
_SS3_F = {"f1": b"P", "f2": b"Q", "f3": b"R", "f4": b"S"}
_SIMPLE = {"enter": b"\r", "tab": b"\t", "backspace": b"\x7f", "escape": b"\x1b",
           "space": b" ", "shift+tab": b"\x1b[Z", "ctrl+at": b"\x00", "ctrl+space": b"\x00",
           "ctrl+backspace": b"\x08", "shift+enter": b"\r", "shift+space": b" ",
           "shift+backspace": b"\x7f", "shift+escape": b"\x1b"}
# ctrl + punctuation key names (Textual) to C0 bytes.
_CTRL_PUNCT = {"left_square_bracket": 0x1B, "backslash": 0x1C, "right_square_bracket": 0x1D,
               "circumflex_accent": 0x1E, "underscore": 0x1F, "minus": 0x1F, "question_mark": 0x7F,
               "at": 0x00, "space": 0x00}
_MODIFIER_BITS = {"shift": 1, "alt": 2, "ctrl": 4, "meta": 8, "super": 8}


def _split(key: str) -> tuple[frozenset[str], str]:
    """``"ctrl+shift+up"`` -> ({"ctrl", "shift"}, "up"); ``"ctrl++"`` style names are rare."""
    *mods, base = key.split("+")
    return frozenset(m for m in mods if m), base


def _csi_mod(mods: frozenset[str]) -> int:
    return 1 + sum(_MODIFIER_BITS.get(m, 0) for m in mods)


def _named(mods: frozenset[str], base: str, modes: Modes) -> bytes | None:
    """Cursor, editing and function keys (xterm encoding, modifiers as ``;m``)."""
    if base in _CURSOR:
        final = _CURSOR[base]
        if mods:
            return b"\x1b[1;%d" % _csi_mod(mods) + final
        return (b"\x1bO" if modes.app_cursor else b"\x1b[") + final
    if base in _TILDE:
        n = _TILDE[base]
        return b"\x1b[%d;%d~" % (n, _csi_mod(mods)) if mods else b"\x1b[%d~" % n
    if base in _SS3_F:
        return b"\x1b[1;%d" % _csi_mod(mods) + _SS3_F[base] if mods else b"\x1bO" + _SS3_F[base]
    return None


def _ctrl(base: str, character: str | None) -> bytes | None:
    """Ctrl + a letter or C0 punctuation: the C0 byte."""
    if len(base) == 1 and base.isascii() and base.isalpha():
        return bytes([ord(base.lower()) & 0x1F])
    if base in _CTRL_PUNCT:
        return bytes([_CTRL_PUNCT[base]])
    if character and len(character) == 1 and ord(character) < 0x20:
        return character.encode()
    return None


def encode_key(key: str, character: str | None, modes: Modes) -> bytes:
    """Bytes for a Textual key (``event.key``, ``event.character``); b"" if it has none."""
    if key in _SIMPLE:
        return _SIMPLE[key]
    mods, base = _split(key)
    named = _named(mods, base, modes)
    if named is not None:
        return named
    if "alt" in mods or "meta" in mods:
        rest = "+".join([*sorted(mods - {"alt", "meta"}), base])
        inner = encode_key(rest, character, modes)
        return b"\x1b" + inner if inner else b""
    if "ctrl" in mods:
        return _ctrl(base, character) or b""
    if character is not None and character.isprintable():
        return character.encode("utf-8", "surrogateescape")
    if character is not None and len(character) == 1 and ord(character) < 0x20:
        return character.encode()
    if not mods - {"shift"} and len(base) == 1:
        return (base.upper() if "shift" in mods else base).encode()
    return b""


def encode_paste(text: str, modes: Modes) -> bytes:
    """Pasted text; line breaks as CR; wrapped when the program enabled bracketed paste."""
    data = text.replace("\r\n", "\r").replace("\n", "\r").encode("utf-8", "surrogateescape")
    if modes.bracketed_paste:
        # A program must never see a paste end marker that the user pasted.
        data = data.replace(_PASTE_END, b"")
        return _PASTE_START + data + _PASTE_END
    return data
