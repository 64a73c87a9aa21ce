"""Dockerignore pattern semantics (moby/patternmatcher behaviour)."""

from __future__ import annotations

import os

import pytest
from patterncheck import assert_single

from tui.buildkit.fsync.patterns import (
    PatternError,
    PatternMatcher,
    dedupe_paths,
    go_clean,
    go_glob_match,
)

SINGLE = [
    ("**", "file", True),
    ("**", "dir/file", True),
    ("**/", "file", True),
    ("**/**", "dir/file", True),
    ("dir/**", "dir/file", True),
    ("dir/**", "dir/dir2/file", True),
    ("**/dir", "dir", True),
    ("**/dir", "dir/file", True),
    ("**/dir2/*", "dir/dir2/file", True),
    ("**/dir2/**", "dir/dir2/dir3/file", True),
    ("**file", "file", True),
    ("**file", "dir/file", True),
    ("**file", "dir/dir/file", True),
    ("**/file", "dir/dir/file", True),
    ("**/file*", "dir/dir/file.txt", True),
    ("**/file*txt", "dir/dir/file.txt", True),
    ("**/**/*.txt", "dir/dir/file.txt", True),
    ("**/**/*.txt2", "dir/dir/file.txt", False),
    ("**/*.txt", "file.txt", True),
    ("a**/*.txt", "a/file.txt", True),
    ("a**/*.txt", "a/dir/dir/file.txt", True),
    ("a/*.txt", "a/dir/file.txt", False),
    ("a/*.txt", "a/file.txt", True),
    ("a/*.txt**", "a/file.txt", True),
    ("a[b-d]e", "ae", False),
    ("a[b-d]e", "ace", True),
    ("a[^b-d]e", "aze", True),
    (".*", ".foo", True),
    (".*", "foo", False),
    ("abc.def", "abcdef", False),
    ("abc.def", "abc.def", True),
    ("abc?def", "abcZdef", True),
    ("abc?def", "abcdef", False),
    ("a\\\\", "a\\", True),
    ("a\\*b", "a*b", True),
    ("a\\*b", "ab", False),
    ("**/foo/bar", "foo/bar", True),
    ("**/foo/bar", "dir/dir2/foo/bar", True),
    ("abc/**", "abc", False),
    ("abc/**", "abc/def/ghi", True),
    ("**/.foo", ".foo", True),
    ("**/.foo", "bar.foo", False),
    ("a(b)c/def", "a(b)c/def", True),
    ("a.|)$(}+{bc", "a.|)$(}+{bc", True),
    ("dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", True),
    ("*", "abc", True),
    ("a*", "ab/c", True),  # via the parent "ab"
    ("a*/b", "a/c/b", False),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/f", True),
    ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", False),
    ("a*b?c*x", "abxbbxdbxebxczzx", True),
    ("ab[^c]", "abc", False),
    ("a?b", "a☺b", True),
    ("a???b", "a☺b", False),
    ("[a-ζ]*", "\u03b1", True),  # alpha
    ("a?b", "a/b", False),
    ("a*b", "a/b", False),
    ("[\\]a]", "]", True),
    ("[x\\-]", "-", True),
    ("[\\-x]", "a", False),
    ("*x", "xxx", True),
    ("/abs", "abs", False),  # Clean keeps the leading slash; paths never have one
]


@pytest.mark.parametrize(("pattern", "path", "expected"), SINGLE)
def test_single_pattern(pattern: str, path: str, expected: bool) -> None:
    assert_single(pattern, path, expected)


MULTI = [
    (["**", "!util/docker/web"], "util/docker/web/foo", False),
    (["**", "!util/docker/web", "util/docker/web/foo"], "util/docker/web/foo", True),
    (["**", "!dist/*.whl"], "dist/x-1.whl", False),
    (["*.go", "!fileutils.go"], "fileutils.go", False),
    (["!fileutils.go", "*.go"], "fileutils.go", True),  # last match wins
    (["docs", "!docs/README.md"], "docs/README.md", False),
    (["docs/", "!docs/README.md"], "docs/README.md", False),
    (["docs/*", "!docs/README.md"], "docs/README.md", False),
    (["docs", "!docs/README.md"], "docs/other.md", True),
    (["*.log", "!keep.log", "sub/secret*"], "keep.log", False),
    (["*.log", "!keep.log", "sub/secret*"], "sub/secret.txt", True),
]


@pytest.mark.parametrize(("patterns", "path", "expected"), MULTI)
def test_pattern_lists(patterns: list[str], path: str, expected: bool) -> None:
    assert PatternMatcher(patterns).matches(path) is expected


@pytest.mark.parametrize(
    "bad", ["!", "[", "[^", "[^bc", "a[", "[]a]", "[-]", "[x-]", "[-x]", "\\", "[a-b-c]"]
)
def test_malformed_patterns_are_rejected(bad: str) -> None:
    with pytest.raises(PatternError):
        PatternMatcher([bad])


def test_whitespace_and_empty_patterns() -> None:
    pm = PatternMatcher(["", "   ", "  !docs/README.md  ", " docs "])
    assert [(p.cleaned, p.exclusion) for p in pm.patterns] == [
        ("docs/README.md", True),
        ("docs", False),
    ]
    assert pm.exclusions
    assert PatternMatcher(["a/./b/../c/"]).patterns[0].cleaned == "a/c"


def test_incremental_matching_keeps_upstream_quirk() -> None:
    # MatchesUsingParentResults only re-tests the path itself for patterns the parent did
    # not record; fsutil's walker uses it, so "d/x" stays excluded although
    # MatchesOrParentMatches (parent "d" hits "!d") says otherwise.
    pm = PatternMatcher(["d/x", "!d"])
    matched_d, info = pm.matches_with_parent("d", None)
    assert not matched_d
    assert pm.matches_with_parent("d/x", info)[0] is True
    assert pm.matches("d/x") is False


def test_pruning_helpers() -> None:
    inc = PatternMatcher(["a/b/c", "x/*", "y/**"])
    assert inc.could_include_below("a")
    assert inc.could_include_below("a/b")
    assert inc.could_include_below("x")
    assert inc.could_include_below("y")
    assert not inc.could_include_below("a/c")
    assert not inc.could_include_below("b")
    # a glob anywhere but the tail makes pruning impossible
    assert PatternMatcher(["*/foo"]).could_include_below("anything")

    exc = PatternMatcher(["node_modules", "build", "!build/keep"])
    assert not exc.could_except_below("node_modules")
    assert exc.could_except_below("build")
    assert not PatternMatcher(["x"]).could_except_below("x")
    assert PatternMatcher(["x", "!*/keep"]).could_except_below("x")


def test_go_clean() -> None:
    cases = {
        "": ".",
        ".": ".",
        "a/../..": "..",
        "../../a": "../../a",
        "/..": "/",
        "//a//b/": "/a/b",
        "./a/./b": "a/b",
        "a/b/../../..": "..",
    }
    for raw, clean in cases.items():
        assert go_clean(raw) == clean, raw


def test_go_glob_match() -> None:
    assert go_glob_match("Dockerfile*", "Dockerfile.dev")
    assert go_glob_match("[Dd]ocker?ile", "dockerfile")
    assert go_glob_match("a\\*", "a*")
    assert not go_glob_match("a\\*", "ab")
    assert not go_glob_match("*", "a/b")
    assert not go_glob_match("[", "[")  # malformed: no match, no error


def test_dedupe_paths() -> None:
    assert dedupe_paths(["a", "a/b", "a.txt", "b"]) == ["a", "a.txt", "b"]
    assert dedupe_paths(["a", ".", "b"]) is None
    assert dedupe_paths([]) == []


# -- Go regexp semantics (patternmatcher compiles each pattern lazily, with Go's regexp) -----
def test_bad_range_fails_only_when_the_pattern_is_evaluated() -> None:
    pm = PatternMatcher(["keep", "![z-a]"])  # an exception is skipped until something matched
    assert not pm.matches("other")
    with pytest.raises(PatternError, match=r"^syntax error in pattern$") as info:
        pm.matches("keep")  # now the exception must be evaluated
    assert info.value.reason == "error parsing regexp: invalid character class range: `z-a`"
    with pytest.raises(PatternError):
        pm.matches_with_parent("keep", None)  # every evaluation fails, as in Go


def test_posix_classes_and_go_escapes() -> None:
    pm = PatternMatcher(["[[:alpha:]]x"])
    assert pm.matches("ax") and pm.matches("Bx") and not pm.matches("1x")
    assert PatternMatcher(["[[:^digit:]]x"]).matches("ax")
    pm = PatternMatcher(["a\\z"])  # Go: \z is the end of the text, so this is just "a"
    assert pm.matches("a") and not pm.matches("az") and not pm.matches("a\\z")
    assert PatternMatcher(["a\\x2ez"]).matches("a.z")
    assert not PatternMatcher(["a\\x2ez"]).matches("abz")
    assert PatternMatcher(["\\Qa.b\\E*"]).matches("a\\.bcd")  # patternmatcher escaped the dot
    assert PatternMatcher(["\\Qa*"]).matches("a[^/]*$")  # no \E: the rest (and $) is quoted
    assert PatternMatcher(["a\\_b"]).matches("a_b")  # Go allows \_
    assert PatternMatcher(["\\pL?"]).matches("éx") and not PatternMatcher(["\\pL"]).matches("1")
    assert PatternMatcher(["a^b"]).matches("a^b")  # exact: no regexp
    assert not PatternMatcher(["a^b*"]).matches("a^bc")  # ^ is an anchor in Go's regexp


@pytest.mark.parametrize(("pattern", "reason"), [
    ("a\\Z", "invalid escape sequence: `\\Z`"),
    ("a\\C", "invalid escape sequence: `\\C`"),  # RE2's any byte: Go refuses it
    ("[\\C]", "invalid escape sequence: `\\C`"),
    ("[[:foo:]]", "invalid character class range: `[:foo:]`"),
    ("[[:alpha:]", "missing closing ]: `[[:alpha:]$`"),
    ("a\\1", "invalid escape sequence: `\\1`"),
    ("a\\é", "invalid escape sequence: `\\é`"),
])
def test_regexps_go_refuses(pattern: str, reason: str) -> None:
    pm = PatternMatcher([pattern])  # accepted up front (filepath.Match syntax is fine)
    with pytest.raises(PatternError, match=r"^syntax error in pattern$") as info:
        pm.matches("a")
    assert info.value.reason == f"error parsing regexp: {reason}"
    assert PatternMatcher(["\\Qa\\C\\E"]).matches("a\\C")  # quoted: a literal


def test_undecodable_bytes_read_as_replacement_characters() -> None:
    name = os.fsdecode(b"caf\xe9x")  # surrogate escapes; Go's regexp sees U+FFFD
    assert PatternMatcher(["caf?x"]).matches(name)
    assert PatternMatcher(["caf\ufffd*"]).matches(name)
    assert PatternMatcher([os.fsdecode(b"caf\xe8*")]).matches(name)  # any bad byte is U+FFFD
    assert not PatternMatcher(["caf[a-z]x"]).matches(name)
    assert PatternMatcher([name]).matches(name)  # exact: bytes compared, as in Go
    assert not PatternMatcher([os.fsdecode(b"caf\xe8x")]).matches(name)
    assert go_glob_match("caf?x", name) and go_glob_match("caf[^a-z]*", name)


# -- the RE2 sets -------------------------------------------------------------------------------
def test_regex_sets_in_chunks_and_their_fallbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    from tui.buildkit.fsync import goregex

    sources = [f"^t{i:03d}/(.*/)?(.*/)?[^/]*\\.[ch]$" for i in range(300)]  # three chunks
    text = b"t257/a/b/x.c"
    assert goregex.RegexSet(sources).matching(text) == [257]

    class DfaOutOfMemory:  # what RE2 answers then: no match at all, not even the canary
        def Match(self, text: bytes) -> None:
            return None

    monkeypatch.setattr(goregex, "_compile_set", lambda sources: DfaOutOfMemory())
    assert goregex.RegexSet(sources).matching(text) == [257]
    monkeypatch.setattr(goregex, "_compile_set", lambda sources: None)  # RE2 refused the set
    assert goregex.RegexSet(sources).matching(text) == [257]
    assert goregex.RegexSet(sources).matching(b"t257/x.o") == []


def test_many_regexp_patterns() -> None:
    pm = PatternMatcher([f"t{i:04d}/**/*.[ch]x*y" for i in range(1000)] + ["!t0999/keep*"])
    assert pm.matches("t0999/a/b.cxzy") and not pm.matches("t0999/a/b.cxz")
    assert not pm.matches("t0999/keep.cxzy") and pm.matches("t0998/keep.cxzy")
