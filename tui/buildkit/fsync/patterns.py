r"""Dockerignore-style path patterns with the exact semantics of moby/patternmatcher.

A pattern list is evaluated in order and the last matching pattern wins; a leading ``!``
makes an exception. A path matches a pattern when the path itself or one of its parent
directories does. Patterns are translated to regular expressions the way patternmatcher
builds its Go regexps (``*`` and ``?`` never cross ``/``, ``**`` does, ``[...]`` classes and
``\\`` escapes pass through), including its exact/prefix/suffix shortcuts, so quirks match.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Sequence
from typing import Final

from tui.buildkit.fsync.goregex import GoRegexError, to_python

__all__ = [
    "MatchInfo",
    "Pattern",
    "PatternError",
    "PatternMatcher",
    "dedupe_paths",
    "go_clean",
    "go_glob_match",
]

# Characters Go's strings.TrimSpace removes (unicode.IsSpace).
_GO_SPACE: Final = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006" + (
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
# Characters patternmatcher escapes before handing the pattern to the regexp engine.
_REGEX_ESCAPED: Final = frozenset(".+()|{}$")
# Characters that make a pattern more than a plain path prefix (fsutil filter.go).
_PATTERN_CHARS: Final = frozenset("*[]?^\\")

_EXACT, _PREFIX, _SUFFIX, _REGEXP = range(4)

MatchInfo = tuple[bool, ...]
"""Per-pattern match results of a directory, passed down to its children."""


class PatternError(ValueError):
    """A pattern is malformed (Go's ``filepath.ErrBadPattern`` and friends)."""


def go_clean(path: str) -> str:
    """Lexically clean a '/'-separated path exactly like Go's ``filepath.Clean``."""
    if not path:
        return "."
    rooted = path[0] == "/"
    parts: list[str] = []
    for comp in path.split("/"):
        if not comp or comp == ".":
            continue
        if comp == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(comp)
    body = "/".join(parts)
    if rooted:
        return "/" + body
    return body or "."


def _check_class(p: str, i: int) -> int:
    """Validate a ``[...]`` class starting after ``[`` at ``i``; return the index after ``]``."""
    n = len(p)
    if i < n and p[i] == "^":
        i += 1
    nrange = 0
    while True:
        if i < n and p[i] == "]" and nrange > 0:
            return i + 1
        i = _check_class_char(p, i)  # lo
        if p[i] == "-":
            i = _check_class_char(p, i + 1)  # hi
        nrange += 1


def _check_class_char(p: str, i: int) -> int:
    """Go's getEsc: one (possibly escaped) class character; something must follow it."""
    n = len(p)
    if i >= n or p[i] in "-]":
        raise PatternError("syntax error in pattern")
    if p[i] == "\\":
        i += 1
        if i >= n:
            raise PatternError("syntax error in pattern")
    i += 1
    if i >= n:
        raise PatternError("syntax error in pattern")
    return i


def check_go_glob(pattern: str) -> None:
    """Raise :class:`PatternError` if Go's ``filepath.Match`` would reject ``pattern``."""
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            if i + 1 >= n:
                raise PatternError("syntax error in pattern")
            i += 2
        elif ch == "[":
            i = _check_class(pattern, i + 1)
        else:
            i += 1


def _glob_class(p: str, i: int, out: list[str]) -> int:
    """Translate a validated Go ``[...]`` class at ``i`` (after ``[``) into ``out``."""
    out.append("[")
    if p[i] == "^":
        out.append("^")
        i += 1
    while True:
        for part in range(2):  # lo, then hi after '-'
            if p[i] == "\\":
                i += 1
            out.append(re.escape(p[i]))
            i += 1
            if part or p[i] != "-":
                break
            out.append("-")
            i += 1
        if p[i] == "]":
            out.append("]")
            return i + 1


def _compile_glob(pattern: str) -> re.Pattern[str] | None:
    try:
        check_go_glob(pattern)
    except PatternError:
        return None
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "[":
            i = _glob_class(pattern, i + 1, out)
            continue
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        else:
            if ch == "\\":
                i += 1
            out.append(re.escape(pattern[i]))
        i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


_GLOB_CACHE: dict[str, re.Pattern[str] | None] = {}


def go_glob_match(pattern: str, name: str) -> bool:
    """Go ``filepath.Match`` on one name; malformed patterns match nothing."""
    if pattern not in _GLOB_CACHE:
        _GLOB_CACHE[pattern] = _compile_glob(pattern)
    rx = _GLOB_CACHE[pattern]
    return rx is not None and rx.match(name) is not None


class Pattern:
    """One compiled pattern (``!`` already stripped into :attr:`exclusion`)."""

    __slots__ = ("_kind", "_regex", "_source", "_suffix", "cleaned", "exclusion")

    def __init__(self, cleaned: str, exclusion: bool) -> None:
        self.cleaned = cleaned
        self.exclusion = exclusion
        self._regex: re.Pattern[str] | None = None
        self._source = ""
        self._suffix = ""
        self._kind = self._compile(cleaned)

    def __repr__(self) -> str:
        return f"Pattern({'!' if self.exclusion else ''}{self.cleaned!r})"

    def _compile(self, p: str) -> int:
        # Mirrors patternmatcher's compile(): same regex text, same shortcut detection.
        reg = ["^"]
        kind = _EXACT
        i = pos = 0
        n = len(p)
        while pos < n:
            ch = p[pos]
            pos += 1
            if ch == "*":
                if pos < n and p[pos] == "*":
                    pos += 1
                    if pos < n and p[pos] == "/":
                        pos += 1
                    if pos >= n:
                        if kind == _EXACT:
                            kind = _PREFIX
                        else:
                            reg.append(".*")
                            kind = _REGEXP
                    else:
                        reg.append("(?:.*/)?")
                        kind = _REGEXP
                    if i == 0:
                        kind = _SUFFIX
                else:
                    reg.append("[^/]*")
                    kind = _REGEXP
            elif ch == "?":
                reg.append("[^/]")
                kind = _REGEXP
            elif ch in _REGEX_ESCAPED:
                reg.append("\\" + ch)
            elif ch == "\\":
                # A trailing backslash never gets here: check_go_glob rejected it.
                reg.append("\\" + p[pos])
                pos += 1
                kind = _REGEXP
            else:
                reg.append(ch)
                if ch in "[]":
                    kind = _REGEXP
            i += 1
        if kind == _SUFFIX:
            self._suffix = p[2:]
        elif kind == _REGEXP:
            # Compiled on first use, as Go's patternmatcher does: a pattern the walk never
            # evaluates (an exception before anything matched) cannot fail the transfer.
            self._source = "".join(reg)
        return kind

    def _compiled(self) -> re.Pattern[str]:
        if self._regex is None:
            try:
                python = to_python(self._source) + r"\Z"
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # "possible nested set" FutureWarning
                    self._regex = re.compile(python, re.ASCII)
            except (GoRegexError, re.error) as exc:
                raise PatternError(f"bad pattern {self.cleaned!r}: {exc}") from None
        return self._regex

    def match(self, path: str) -> bool:
        """Whether ``path`` itself (no parent dirs) matches this pattern."""
        kind = self._kind
        if kind == _EXACT:
            return path == self.cleaned
        if kind == _REGEXP:
            return self._compiled().match(path) is not None
        if kind == _PREFIX:
            return path.startswith(self.cleaned[:-2])
        suffix = self._suffix
        if path.endswith(suffix):
            return True
        return suffix[0] == "/" and path == suffix[1:]

    def without_trailing_glob(self) -> str:
        """The pattern minus a trailing ``/**`` then ``/*`` (fsutil's prefix heuristic)."""
        s = self.cleaned
        if s.endswith("/**"):
            s = s[:-3]
        if s.endswith("/*"):
            s = s[:-2]
        return s


def _parents(path: str) -> list[str]:
    """Proper ancestors of ``path`` from the top: ``a/b/c`` -> ``a``, ``a/b``."""
    out = []
    idx = path.find("/")
    while idx != -1:
        out.append(path[:idx])
        idx = path.find("/", idx + 1)
    return out


class PatternMatcher:
    """An ordered pattern list; the last matching pattern decides."""

    __slots__ = ("_prefix_only_excl", "_prefix_only_incl", "exclusions", "patterns")

    def __init__(self, patterns: Iterable[str]) -> None:
        compiled: list[Pattern] = []
        self.exclusions = False
        for raw in patterns:
            p = raw.strip(_GO_SPACE)
            if not p:
                continue
            p = go_clean(p)
            exclusion = p[0] == "!"
            if exclusion:
                if len(p) == 1:
                    raise PatternError('illegal exclusion pattern: "!"')
                p = p[1:]
                self.exclusions = True
            check_go_glob(p)
            compiled.append(Pattern(p, exclusion))
        self.patterns: tuple[Pattern, ...] = tuple(compiled)
        self._prefix_only_incl = not any(
            not pat.exclusion and _PATTERN_CHARS.intersection(pat.without_trailing_glob())
            for pat in compiled
        )
        self._prefix_only_excl = not any(
            pat.exclusion and _PATTERN_CHARS.intersection(pat.without_trailing_glob())
            for pat in compiled
        )

    def __repr__(self) -> str:
        return f"PatternMatcher({list(self.patterns)!r})"

    def matches(self, path: str) -> bool:
        """Whether ``path`` (or a parent dir) is matched (``MatchesOrParentMatches``)."""
        matched = False
        parents: list[str] | None = None
        for pat in self.patterns:
            if pat.exclusion != matched:
                continue
            m = pat.match(path)
            if not m:
                if parents is None:
                    parents = _parents(path)
                m = any(pat.match(d) for d in parents)
            if m:
                matched = not pat.exclusion
        return matched

    def matches_with_parent(
        self, path: str, parent: MatchInfo | None
    ) -> tuple[bool, MatchInfo]:
        """Incremental match during a walk (``MatchesUsingParentResults``).

        ``parent`` is the :class:`MatchInfo` returned for the parent directory, or ``None``
        for a top-level path. A pattern the parent matched is taken as matched; otherwise
        only ``path`` itself is tested (and patterns skipped by the include/exclude state
        are recorded as not matched), exactly as upstream does.
        """
        matched = False
        info: list[bool] = []
        append = info.append
        for idx, pat in enumerate(self.patterns):
            m = parent is not None and parent[idx]
            if not m:
                if pat.exclusion != matched:
                    append(False)
                    continue
                m = pat.match(path)
                if not m and parent is None:
                    m = any(pat.match(d) for d in _parents(path))
            append(m)
            if m:
                matched = not pat.exclusion
        return matched, tuple(info)

    def could_include_below(self, directory: str) -> bool:
        """Include list: whether something below an unmatched ``directory`` may match.

        False only when every include is a plain path (optionally ending in ``/*`` or
        ``/**``) and none of them lies under ``directory``; the walker then prunes it.
        """
        if not self._prefix_only_incl:
            return True
        prefix = directory + "/"
        return any(
            not pat.exclusion and (pat.without_trailing_glob() + "/").startswith(prefix)
            for pat in self.patterns
        )

    def could_except_below(self, directory: str) -> bool:
        """Exclude list: whether an exception may re-include something below ``directory``.

        False (no ``!`` pattern could match inside the excluded directory) lets the walker
        prune it.
        """
        if not self._prefix_only_excl:
            return True
        if not self.exclusions:
            return False
        prefix = directory + "/"
        return any(
            pat.exclusion and (pat.without_trailing_glob() + "/").startswith(prefix)
            for pat in self.patterns
        )


def dedupe_paths(paths: Sequence[str]) -> list[str] | None:
    """Drop paths under the previously kept one, as fsutil's dedupePaths.

    Returns ``None`` if "." is present (meaning "no filter"). Expects sorted input for
    full effect, like upstream.
    """
    out: list[str] = []
    last = ""
    for s in paths:
        if s == ".":
            return None
        if s.startswith(last + "/"):
            continue
        out.append(s)
        last = s
    return out
