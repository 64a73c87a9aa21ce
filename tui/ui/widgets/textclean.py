"""Text made safe to draw in a terminal, and errors as one line (no Textual: models use it)."""

from __future__ import annotations

import re
from functools import cache

__all__ = ["clean_controls", "one_line"]

_DEL = 0x7F


@cache
def _controls(keep: str) -> re.Pattern[str]:
    chars = "".join(chr(c) for c in (*range(0x20), _DEL) if chr(c) not in keep)
    return re.compile(f"[{re.escape(chars)}]")


def _picture(match: re.Match[str]) -> str:
    code = ord(match.group())
    return "\u2421" if code == _DEL else chr(0x2400 + code)


def clean_controls(text: str, keep: str = "", *, pictures: bool = False) -> str:
    """``text`` with its C0 control characters and DEL replaced, except those in ``keep``.

    Each becomes U+FFFD, or with ``pictures`` its Unicode control picture (``␊`` for a newline).
    """
    pattern = _controls(keep)
    return pattern.sub(_picture, text) if pictures else pattern.sub("\ufffd", text)


def one_line(exc: BaseException) -> str:
    """``exc`` as one line of text (its type name if it has no message)."""
    return " ".join(str(exc).split()) or type(exc).__name__
