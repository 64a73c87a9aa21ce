r"""Dockerignore-style path patterns with the exact semantics of moby/patternmatcher.

A pattern list is evaluated in order and the last matching pattern wins; a leading ``!``
makes an exception. A path matches a pattern when the path itself or one of its parent
directories does. Patterns are translated to regular expressions the way patternmatcher
builds its Go regexps (``*`` and ``?`` never cross ``/``, ``**`` does, ``[...]`` classes and
``\\`` escapes pass through), including its exact/prefix/suffix shortcuts, so quirks match.
The regexps run on RE2 (as Go's, they never backtrack): matching is linear in the path
whatever the patterns, and all the regexps of a list are matched in one pass.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from typing import Final

from tui.buildkit.fsync.goregex import GoRegex, GoRegexError, RegexSet, go_utf8

__all__ = [
    "BAD_PATTERN",
    "MatchInfo",
    "MatchKind",
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

MatchInfo = frozenset[int]
"""The patterns (indices) a directory matched, passed down to its children."""
_NOTHING: Final[MatchInfo] = frozenset()


BAD_PATTERN: Final = "syntax error in pattern"
"""Go's ``filepath.ErrBadPattern``: also what patternmatcher reports for a bad regexp."""


class PatternError(ValueError):
    """A pattern is malformed (Go's ``filepath.ErrBadPattern`` and friends).

    The message is Go's; ``reason`` says more where Go's is the bare :data:`BAD_PATTERN`
    for a pattern Go's regexp refuses (Go's regexp error, which patternmatcher drops).
    """

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason


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
        raise PatternError(BAD_PATTERN)
    if p[i] == "\\":
        i += 1
        if i >= n:
            raise PatternError(BAD_PATTERN)
    i += 1
    if i >= n:
        raise PatternError(BAD_PATTERN)
    return i


def check_go_glob(pattern: str) -> None:
    """Raise :class:`PatternError` if Go's ``filepath.Match`` would reject ``pattern``."""
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            if i + 1 >= n:
                raise PatternError(BAD_PATTERN)
            i += 2
        elif ch == "[":
            i = _check_class(pattern, i + 1)
        else:
            i += 1


def _glob_char(ch: str) -> str:
    """One character as an RE2 literal (an undecodable byte reads as U+FFFD, as in Go)."""
    if ch.isascii() and ch.isalnum():
        return ch
    return f"\\x{{{_rune(ch):x}}}"


def _glob_class(p: str, i: int, out: list[str]) -> int:
    """Translate a validated Go ``[...]`` class at ``i`` (after ``[``) into ``out``.

    A reversed range (``z-a``) matches nothing in Go, so it is left out; a class left
    empty matches no character (or, negated, any character).
    """
    negated = p[i] == "^"
    i += negated
    ranges: list[str] = []
    while True:
        bounds: list[str] = []
        for part in range(2):  # lo, then hi after '-'
            if p[i] == "\\":
                i += 1
            bounds.append(p[i])
            i += 1
            if part or p[i] != "-":
                break
            i += 1
        lo, hi = bounds[0], bounds[-1]
        if _rune(lo) <= _rune(hi):
            ranges.append(f"{_glob_char(lo)}-{_glob_char(hi)}")
        if p[i] == "]":
            break
    if not ranges:
        ranges, negated = [r"\x{0}-\x{10ffff}"], not negated
    out.append(f"[{'^' if negated else ''}{''.join(ranges)}]")
    return i + 1


def _rune(ch: str) -> int:
    """The rune Go decodes for ``ch`` (an undecodable byte is U+FFFD)."""
    code = ord(ch)
    return 0xFFFD if 0xD800 <= code <= 0xDFFF else code


def _compile_glob(pattern: str) -> GoRegex | None:
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
            out.append(_glob_char(pattern[i]))
        i += 1
    return GoRegex("".join(out))


_GLOB_CACHE: dict[str, GoRegex | None] = {}


def go_glob_match(pattern: str, name: str) -> bool:
    """Go ``filepath.Match`` on one name, in linear time; malformed patterns match nothing.

    Differs from Go only on undecodable bytes written literally in the pattern: each reads as
    U+FFFD, so it matches any undecodable byte (Go compares literal bytes exactly).
    """
    if pattern not in _GLOB_CACHE:
        _GLOB_CACHE[pattern] = _compile_glob(pattern)
    rx = _GLOB_CACHE[pattern]
    return rx is not None and rx.fullmatch(go_utf8(name))


class MatchKind(enum.Enum):
    """How a pattern is matched (patternmatcher's shortcuts, then its regexp)."""

    EXACT = "exact"
    PREFIX = "prefix"
    SUFFIX = "suffix"
    REGEXP = "regexp"


_EXACT, _PREFIX, _SUFFIX, _REGEXP = MatchKind


class Pattern:
    """One pattern (``!`` already stripped into :attr:`exclusion`), as patternmatcher sees it.

    :attr:`kind` and :attr:`regexp` (the Go regexp text, for :attr:`MatchKind.REGEXP`) are
    what patternmatcher's ``compile`` derives: the same shortcut detection, the same
    expression, so every quirk is kept.
    """

    __slots__ = ("cleaned", "exclusion", "kind", "regexp")

    def __init__(self, cleaned: str, exclusion: bool) -> None:
        self.cleaned = cleaned
        self.exclusion = exclusion
        self.kind, self.regexp = _translate(cleaned)

    def __repr__(self) -> str:
        return f"Pattern({'!' if self.exclusion else ''}{self.cleaned!r})"

    def without_trailing_glob(self) -> str:
        """The pattern minus a trailing ``/**`` then ``/*`` (fsutil's prefix heuristic)."""
        s = self.cleaned
        if s.endswith("/**"):
            s = s[:-3]
        if s.endswith("/*"):
            s = s[:-2]
        return s


def _translate(p: str) -> tuple[MatchKind, str]:
    """The match kind and (for regexps) the Go regexp text, as patternmatcher's compile."""
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
                    if kind is _EXACT:
                        kind = _PREFIX
                    else:
                        reg.append(".*")
                        kind = _REGEXP
                else:
                    reg.append("(.*/)?")
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
    return kind, ("".join(reg) + "$" if kind is _REGEXP else "")


class _Group:
    """Finds which patterns of one group (includes, or ``!`` exceptions) match a path itself.

    Exact patterns are looked up, prefixes and suffixes compared, and every regexp of the
    group runs in one RE2 set: one pass over the path, linear in its length.
    """

    __slots__ = ("_exact", "_prefixes", "_regexps", "_suffixes")

    def __init__(self, members: Sequence[tuple[int, Pattern]]) -> None:
        self._exact: dict[str, list[int]] = {}
        self._prefixes: list[tuple[str, int]] = []
        self._suffixes: list[tuple[str, int]] = []
        regexps: list[tuple[int, str]] = []
        for idx, pat in members:
            if pat.kind is _EXACT:
                self._exact.setdefault(pat.cleaned, []).append(idx)
            elif pat.kind is _PREFIX:
                self._prefixes.append((pat.cleaned[:-2], idx))
            elif pat.kind is _SUFFIX:
                self._suffixes.append((pat.cleaned[2:], idx))
            else:
                regexps.append((idx, pat.regexp))
        self._regexps = (
            (RegexSet([r for _, r in regexps]), [i for i, _ in regexps]) if regexps else None
        )

    def hits(self, path: str) -> set[int]:
        """Indices of the group's patterns matching ``path`` itself."""
        out = set(self._exact.get(path, ()))
        for prefix, idx in self._prefixes:
            if path.startswith(prefix):
                out.add(idx)
        for suffix, idx in self._suffixes:
            # "**/foo" also matches "foo" itself
            if path.endswith(suffix) or (suffix[0] == "/" and path == suffix[1:]):
                out.add(idx)
        if self._regexps is not None:
            rset, indices = self._regexps
            out.update(indices[i] for i in rset.matching(go_utf8(path)))
        return out


class _Index:
    """The patterns of a matcher ready to match, built on first use.

    Go compiles a regexp pattern when it is first evaluated, so one that Go's regexp
    refuses fails the match that evaluates it, no sooner: its error is kept and raised then.
    """

    __slots__ = ("erring", "errors", "exclusion", "groups")

    def __init__(self, patterns: Sequence[Pattern]) -> None:
        self.errors: dict[int, PatternError] = {}
        members: tuple[list[tuple[int, Pattern]], list[tuple[int, Pattern]]] = ([], [])
        for idx, pat in enumerate(patterns):
            if pat.kind is _REGEXP:
                try:
                    GoRegex(pat.regexp)
                except GoRegexError as exc:
                    self.errors[idx] = PatternError(BAD_PATTERN, reason=str(exc))
                    continue
            members[pat.exclusion].append((idx, pat))
        self.exclusion = tuple(pat.exclusion for pat in patterns)
        #: Includes (index 0) and ``!`` exceptions (index 1).
        self.groups = (_Group(members[0]), _Group(members[1]))
        #: The failing patterns of each group.
        self.erring = tuple(
            frozenset(i for i in self.errors if patterns[i].exclusion is excl)
            for excl in (False, True)
        )

    def hits(self, exclusion: bool, path: str, parents: Sequence[str]) -> set[int]:
        """Patterns of a group matching ``path`` or one of ``parents``."""
        group = self.groups[exclusion]
        out = group.hits(path)
        for d in parents:
            out |= group.hits(d)
        return out


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

    __slots__ = ("_index", "_prefix_only_excl", "_prefix_only_incl", "exclusions", "patterns")

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
        self._index: _Index | None = None
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
        """Whether ``path`` (or a parent dir) is matched (``MatchesOrParentMatches``).

        Raises :class:`PatternError` if a pattern it evaluates is a regexp Go refuses.
        """
        return self.matches_with_parent(path, None)[0]

    def matches_with_parent(
        self, path: str, parent: MatchInfo | None
    ) -> tuple[bool, MatchInfo]:
        """Incremental match during a walk (``MatchesUsingParentResults``).

        ``parent`` is the :class:`MatchInfo` returned for the parent directory, or ``None``
        (no information: a top-level path, or a lone query) to test the path's parent
        directories as well. Patterns are evaluated in order, the last match deciding: a
        pattern the parent matched is taken as matched; one that cannot change the verdict
        so far (an include once matched, an exception before) is skipped and recorded as not
        matched, exactly as upstream does. Raises :class:`PatternError` if a pattern it
        evaluates is a regexp Go refuses.
        """
        index = self._index
        if index is None:
            index = self._index = _Index(self.patterns)
        inherited = parent or _NOTHING
        parents = _parents(path) if parent is None else ()
        # Only patterns that match (or fail) can change anything; the rest stay unrecorded.
        candidates = inherited | index.hits(False, path, parents) | index.erring[0]
        if not candidates:
            return False, _NOTHING  # no include can match: exceptions are never evaluated
        candidates |= index.hits(True, path, parents) | index.erring[1]
        matched = False
        recorded: list[int] = []
        exclusion = index.exclusion
        for idx in sorted(candidates):
            if idx not in inherited:
                if exclusion[idx] != matched:
                    continue
                error = index.errors.get(idx)
                if error is not None:
                    raise error
            recorded.append(idx)
            matched = not exclusion[idx]
        return matched, frozenset(recorded)

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
