r"""Go (RE2) regexp syntax, as patternmatcher hands it to Go's ``regexp``, in Python's ``re``.

Only what a dockerignore pattern can put in the regexp differs: escapes a pattern's ``\x``
passes through (``\z`` is Go's end of text, ``\Q..\E`` quotes, ``\pL`` is a Unicode class,
``\Z`` is an error in Go) and POSIX classes inside brackets (``[[:alpha:]]``).  Anything Go
rejects raises :class:`GoRegexError` with Go's wording.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["GoRegexError", "to_python"]


class GoRegexError(ValueError):
    """Go's regexp package would not compile the expression."""


#: Go's ASCII classes (``[[:alpha:]]``), as Python class bodies.
POSIX: Final = {
    "alnum": "0-9A-Za-z", "alpha": "A-Za-z", "ascii": "\\x00-\\x7f", "blank": "\\t ",
    "cntrl": "\\x00-\\x1f\\x7f", "digit": "0-9", "graph": "!-~", "lower": "a-z",
    "print": " -~", "punct": "!-/:-@\\[-`{-~", "space": "\\t\\n\\v\\f\\r ", "upper": "A-Z",
    "word": "0-9A-Za-z_", "xdigit": "0-9A-Fa-f",
}
#: Escapes meaning the same in both engines (outside and inside classes).
_SAME: Final = frozenset("dDsSwWtnrfav")
_SAME_OUTSIDE: Final = frozenset("bBA")


def _escape_at(src: str, i: int, in_class: bool) -> tuple[str, int]:
    """Translate the escape at ``src[i]`` (a backslash); (python text, index after it)."""
    if i + 1 >= len(src):
        raise GoRegexError("trailing backslash at end of expression")
    ch = src[i + 1]
    if not ch.isalnum() and ch != "_":  # punctuation: a literal in both
        return re.escape(ch), i + 2
    if ch == "z" and not in_class:
        return r"\Z", i + 2
    if ch in _SAME or (ch in _SAME_OUTSIDE and not in_class):
        return "\\" + ch, i + 2  # compiled with re.ASCII: \d \s \w are ASCII as in Go
    if ch == "x":
        m = re.match(r"\{([0-9A-Fa-f]{1,6})\}|([0-9A-Fa-f]{2})", src[i + 2:])
        if m is None:
            raise GoRegexError(f"invalid escape sequence: `{src[i:i + 4]}`")
        code = int(m.group(1) or m.group(2), 16)
        return re.escape(chr(code)), i + 2 + m.end()
    if ch in "01234567":
        m = re.match(r"[0-7]{1,3}", src[i + 1:])
        assert m is not None
        if m.group(0) != "0" and len(m.group(0)) < 2:
            raise GoRegexError(f"invalid escape sequence: `\\{ch}`")
        return re.escape(chr(int(m.group(0), 8))), i + 1 + m.end()
    if ch == "Q" and not in_class:
        end = src.find("\\E", i + 2)
        literal = src[i + 2:] if end < 0 else src[i + 2:end]
        return re.escape(literal), len(src) if end < 0 else end + 2
    if ch in "pP":
        raise GoRegexError(f"Unicode classes (`\\{ch}`) are not supported by bxtui")
    raise GoRegexError(f"invalid escape sequence: `\\{ch}`")


def _class_at(src: str, i: int) -> tuple[str, int]:
    """Translate the bracket expression starting at ``src[i]`` (``[``)."""
    out = ["["]
    j = i + 1
    if j < len(src) and src[j] == "^":
        out.append("^")
        j += 1
    first = True
    prev: str | None = None  # the last single character, for range checks
    while True:
        if j >= len(src):
            raise GoRegexError(f"missing closing ]: `{src[i:]}`")
        ch = src[j]
        if ch == "]" and not first:
            out.append("]")
            return "".join(out), j + 1
        first = False
        if src.startswith("[:", j):
            end = src.find(":]", j + 2)
            name = src[j + 2:end] if end >= 0 else ""
            negate = name.startswith("^")
            body = POSIX.get(name.lstrip("^"))
            if end >= 0 and body is not None:
                if negate:
                    raise GoRegexError("negated POSIX classes are not supported by bxtui")
                out.append(body)
                j = end + 2
                prev = None
                continue
        if ch == "-" and prev is not None and j + 1 < len(src) and src[j + 1] != "]":
            hi_text, nj = (_escape_at(src, j + 1, True) if src[j + 1] == "\\"
                           else (re.escape(src[j + 1]), j + 2))
            hi = src[j + 1] if src[j + 1] != "\\" else _unescaped(hi_text)
            if hi is not None and hi < prev:
                raise GoRegexError(f"invalid character class range: `{prev}-{hi}`")
            out.append("-" + hi_text)
            j = nj
            prev = None
            continue
        if ch == "\\":
            text, j = _escape_at(src, j, True)
            out.append(text)
            prev = _unescaped(text)
            continue
        if ch == "[":
            out.append("\\[")
        else:
            out.append(re.escape(ch) if ch in "\\]^-" else ch)
        prev = ch
        j += 1


def _unescaped(text: str) -> str | None:
    """The single character a translated escape stands for, if it is one."""
    if len(text) == 1:
        return text
    if len(text) == 2 and text[0] == "\\" and not text[1].isalnum():
        return text[1]
    return None


def to_python(src: str) -> str:
    """The Python ``re`` equivalent of the Go regexp ``src`` (raises GoRegexError)."""
    out: list[str] = []
    i = 0
    while i < len(src):
        ch = src[i]
        if ch == "\\":
            text, i = _escape_at(src, i, False)
            out.append(text)
        elif ch == "[":
            text, i = _class_at(src, i)
            out.append(text)
        else:
            out.append(ch)
            i += 1
    return "".join(out)
