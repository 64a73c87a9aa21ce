r"""Go regexps (what patternmatcher hands to Go's ``regexp``) run by RE2, in linear time.

Go's ``regexp`` implements the RE2 syntax and never backtracks; google-re2 runs the same
expressions in time linear in the text, whatever they are. The differences a dockerignore
pattern can reach are handled here: ``\C`` (any byte) exists only in RE2 and is refused as
Go refuses it, and a text that is not UTF-8 (surrogate escapes in a Python ``str``) reads as
U+FFFD, as Go's decoder reads each invalid byte (in patterns too: Go's ``text/scanner``
turns them into U+FFFD before the regexp sees them).
"""

from __future__ import annotations

import codecs
from collections.abc import Sequence
from typing import Final

import re2

__all__ = ["GoRegex", "GoRegexError", "RegexSet", "go_utf8"]

_RUNE_ERROR: Final = "bxtui.go-rune-error"


def _rune_error(exc: UnicodeError) -> tuple[bytes, int]:
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    # bytes: the UTF-8 encoder takes only ASCII text from an error handler
    return "\ufffd".encode() * (exc.end - exc.start), exc.end


codecs.register_error(_RUNE_ERROR, _rune_error)


def go_utf8(text: str) -> bytes:
    """``text`` in UTF-8, each surrogate escape (an undecodable byte) as U+FFFD."""
    return text.encode("utf-8", _RUNE_ERROR)


def _options() -> re2.Options:
    opts = re2.Options()
    opts.log_errors = False  # errors are raised, never printed to stderr
    return opts


_OPTIONS: Final = _options()
#: RE2's wording where Go's differs (regexp/syntax error codes).
_GO_WORDS: Final = {
    "missing ]": "missing closing ]",
    "missing )": "missing closing )",
    "trailing \\": "trailing backslash at end of expression",
}


class GoRegexError(ValueError):
    """Go's regexp package would not compile the expression (worded as Go words it)."""


def _go_error(re2_text: str) -> GoRegexError:
    code, sep, expr = re2_text.partition(": ")
    code = _GO_WORDS.get(code, code)
    return GoRegexError(f"error parsing regexp: {code}: `{expr}`" if sep else
                        f"error parsing regexp: {code}")


def _has_any_byte_escape(source: str) -> bool:
    r"""Whether ``source`` has a ``\C`` outside ``\Q..\E`` (in a class RE2 refuses it too)."""
    i, n = 0, len(source)
    while i < n - 1:
        if source[i] != "\\":
            i += 1
        elif source[i + 1] == "C":
            return True
        elif source[i + 1] == "Q":
            end = source.find("\\E", i + 2)
            if end < 0:
                return False
            i = end + 2
        else:
            i += 2
    return False


def _compile(source: str) -> re2._Regexp:
    if _has_any_byte_escape(source):
        raise GoRegexError("error parsing regexp: invalid escape sequence: `\\C`")
    try:
        return re2.compile(go_utf8(source), _OPTIONS)
    except re2.error as exc:
        text = exc.args[0] if exc.args else ""
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        raise _go_error(str(text)) from None


class GoRegex:
    """One Go regexp, matched against whole texts."""

    __slots__ = ("_rx",)

    def __init__(self, source: str) -> None:
        """Raise :class:`GoRegexError` if Go's ``regexp.Compile`` would refuse ``source``."""
        self._rx = _compile(source)

    def fullmatch(self, text: bytes) -> bool:
        """Whether the expression matches all of ``text`` (UTF-8, see :func:`go_utf8`)."""
        return self._rx.fullmatch(text) is not None


class _Chunk:
    """Up to :data:`_CHUNK` expressions matched together as one RE2 set.

    RE2 refuses to build a set whose DFA would not fit its memory budget, and a set whose
    DFA runs out of memory while matching reports no match at all, which its always-matching
    first member (the canary) reveals: either way the chunk's expressions then run one by
    one, still in linear time.
    """

    __slots__ = ("_each", "_set", "first")

    def __init__(self, first: int, each: Sequence[GoRegex], sources: Sequence[str]) -> None:
        self.first = first
        self._each = each
        self._set: re2.Set | None = _compile_set(sources)

    def matching(self, text: bytes) -> list[int]:
        """Positions (in the chunk) of the expressions matching all of ``text``."""
        found = self._set.Match(text) if self._set is not None else None
        if found:
            return [i - 1 for i in found if i]
        return [i for i, rx in enumerate(self._each) if rx.fullmatch(text)]


_CHUNK: Final = 128


def _compile_set(sources: Sequence[str]) -> re2.Set | None:
    """An RE2 set of the canary then ``sources``; None if RE2 cannot build it."""
    rset = re2.Set.FullMatchSet(_OPTIONS)
    try:
        rset.Add(b"(?s:.*)")
        for source in sources:
            rset.Add(go_utf8(source))
        rset.Compile()
    except re2.error:
        return None
    return rset


class RegexSet:
    """Which of several Go regexps match a whole text, in time linear in the text.

    The expressions run together as RE2 sets (one DFA walk over the text per
    :data:`_CHUNK` expressions).
    """

    __slots__ = ("_chunks",)

    def __init__(self, sources: Sequence[str]) -> None:
        """Raise :class:`GoRegexError` if Go would refuse one of ``sources``."""
        each = [GoRegex(s) for s in sources]
        self._chunks = [
            _Chunk(at, each[at:at + _CHUNK], sources[at:at + _CHUNK])
            for at in range(0, len(sources), _CHUNK)
        ]

    def matching(self, text: bytes) -> list[int]:
        """Indices (into the sources) of the expressions matching all of ``text`` (UTF-8)."""
        if len(self._chunks) == 1:
            return self._chunks[0].matching(text)
        return [chunk.first + i for chunk in self._chunks for i in chunk.matching(text)]
