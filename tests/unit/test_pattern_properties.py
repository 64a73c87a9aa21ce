"""Pattern matching against a plain reference matcher, on random and hostile input.

The reference below is written from patternmatcher's documented behaviour, independently of
tui/buildkit/fsync/patterns.py: a pattern is an exact path, a prefix (``dir/**``), a suffix
(``**/name``), or else a glob where ``*`` and ``?`` stay within a name, ``**`` followed by
more spans whole directories (``(.*/)?`` in Go: never a newline) and ``[...]`` is one
character (a ``/`` too). It matches by memoized recursion over (pattern position, path
position): polynomial on any input. The matcher under test must agree on random patterns of
``**``, ``*``, ``?``, classes and literals against deep random paths, and answer the hostile
cases (stacked ``**``, many ``*`` in one name) within the hang guard: before RE2, Python's
backtracking ``re`` took 18 s on one of them.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from patterncheck import assert_single

from tui.buildkit.fsync.patterns import PatternMatcher, go_clean, go_glob_match

pytestmark = pytest.mark.timeout(60)  # the hang guard: a backtracking engine never finishes

SPECIAL = set("*?[]\\")
Token = tuple[str, object]


def _tokens(glob: str, double_star: bool = True) -> list[Token]:
    """The glob as tokens: lit, one, star, dstar (``(.*/)?``), dstar_end (``.*``), class.

    Without ``double_star`` (Go's filepath.Match), ``**`` is two stars.
    """
    out: list[Token] = []
    i = 0
    while i < len(glob):
        ch = glob[i]
        if double_star and glob.startswith("**", i):
            i += 2
            if glob.startswith("/", i):
                i += 1
            out.append(("dstar_end", None) if i >= len(glob) else ("dstar", None))
            continue
        if ch == "*":
            out.append(("star", None))
        elif ch == "?":
            out.append(("one", None))
        elif ch == "[":
            end = glob.index("]", i + 2)
            body = glob[i + 1:end]
            negated = body.startswith("^")
            body = body[negated:]
            chars: set[str] = set()
            j = 0
            while j < len(body):
                if j + 2 < len(body) and body[j + 1] == "-":
                    chars.update(chr(c) for c in range(ord(body[j]), ord(body[j + 2]) + 1))
                    j += 3
                else:
                    chars.add(body[j])
                    j += 1
            out.append(("class", (negated, frozenset(chars))))
            i = end
        else:
            out.append(("lit", ch))
        i += 1
    return out


def _glob_matches(tokens: list[Token], path: str) -> bool:
    """Whether ``tokens`` match all of ``path``."""

    @cache
    def at(t: int, p: int) -> bool:
        if t == len(tokens):
            return p == len(path)
        kind, arg = tokens[t]
        if kind == "dstar_end":
            return "\n" not in path[p:]
        if kind == "dstar":  # nothing, or anything up to and including a '/'
            if at(t + 1, p):
                return True
            for j in range(p, len(path)):
                if path[j] == "\n":
                    return False
                if path[j] == "/" and at(t + 1, j + 1):
                    return True
            return False
        if kind == "star":
            return at(t + 1, p) or (p < len(path) and path[p] != "/" and at(t, p + 1))
        if p == len(path):
            return False
        ch = path[p]
        if kind == "lit":
            ok = ch == arg
        elif kind == "one":
            ok = ch != "/"
        else:
            negated, chars = arg  # type: ignore[misc]
            ok = (ch in chars) != negated
        return ok and at(t + 1, p + 1)

    return at(0, 0)


def ref_single(pattern: str, path: str) -> bool:
    """Whether ``pattern`` (no ``!``) matches ``path`` itself."""
    if not SPECIAL & set(pattern):
        return path == pattern
    if pattern.endswith("**") and len(pattern) > 2 and not SPECIAL & set(pattern[:-2]):
        return path.startswith(pattern[:-2])
    if pattern.startswith("**") and not SPECIAL & set(pattern[2:]):
        suffix = pattern[2:]
        return path.endswith(suffix) or (suffix.startswith("/") and path == suffix[1:])
    return _glob_matches(_tokens(pattern), path)


def ref_matches(patterns: list[str], path: str) -> bool:
    """The last pattern matching the path or one of its parent directories decides."""
    parts = path.split("/")
    candidates = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    verdict = False
    for raw in patterns:
        exclusion = raw.startswith("!")
        pattern = raw[exclusion:]
        if any(ref_single(pattern, c) for c in candidates):
            verdict = not exclusion
    return verdict


# ---------------------------------------------------------------- random input

ATOMS = ["a", "b", "x", ".", "*", "?", "**", "[ab]", "[^a]", "[a-c]", "[^b-x]"]
segment = st.lists(st.sampled_from(ATOMS), min_size=1, max_size=4).map("".join)
pattern = st.lists(st.one_of(segment, st.just("**")), min_size=1, max_size=8).map("/".join)
name = st.text(alphabet="abx.\n", min_size=1, max_size=3).filter(lambda s: s not in (".", ".."))
path = st.lists(name, min_size=1, max_size=30).map("/".join)

STACKED = "a/" + "**/" * 10 + "x"
DEEP = "a/" + "/".join(["b"] * 25) + "/y"
HOSTILE = settings(max_examples=300, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def _clean(p: str) -> bool:
    return go_clean(p) == p


@HOSTILE
@given(pattern.filter(_clean), path)
@example(STACKED, DEEP)  # 18 s with Python's re (8 stacked: 1.6 s)
@example(STACKED, DEEP[:-1] + "x")
@example("*a*a*a*a*a*a*a*a*a*a*b", "a" * 60)
@example("**/*a*a*a*a*a*a*a*a*b/**", "/".join(["a" * 30] * 10))
def test_single_pattern_agrees_with_reference(pat: str, p: str) -> None:
    assert_single(pat, p, ref_matches([pat], p))  # also as the walk asks it


@HOSTILE
@given(st.lists(st.tuples(st.booleans(), pattern.filter(_clean)), min_size=1, max_size=5), path)
@example([(False, STACKED)] * 12 + [(True, "a/**/y")], DEEP)
def test_pattern_lists_agree_with_reference(pats: list[tuple[bool, str]], p: str) -> None:
    raw = [("!" if excl else "") + pat for excl, pat in pats]
    assert PatternMatcher(raw).matches(p) is ref_matches(raw, p)


glob_atom = st.sampled_from(["a", "b", ".", "*", "?", "[ab]", "[^a]", "[a-c]", "[c-a]"])


@HOSTILE
@given(st.lists(glob_atom, min_size=1, max_size=12).map("".join),
       st.text(alphabet="abc.", min_size=0, max_size=40))
@example("*a" * 12 + "b", "a" * 200)
def test_go_glob_match_agrees_with_reference(glob: str, text: str) -> None:
    # (a reversed range, c-a, matches nothing in Go's filepath.Match: an empty class here)
    want = _glob_matches(_tokens(glob, double_star=False), text)
    assert go_glob_match(glob, text) is want


@pytest.mark.parametrize("check", [
    lambda: PatternMatcher([STACKED] * 50).matches(DEEP),
    lambda: go_glob_match("*a" * 30 + "b", "a" * 250),
])
def test_hostile_input_answers_at_once(check: Callable[[], bool]) -> None:
    assert check() is False  # under the hang guard; microseconds with RE2
