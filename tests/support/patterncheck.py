"""Asking a PatternMatcher one question both ways: a lone query and the walker's form."""

from __future__ import annotations

from tui.buildkit.fsync.patterns import PatternMatcher


def assert_single(pattern: str, path: str, expected: bool) -> None:
    """One pattern on one path, asked as a lone query and as the walk asks it."""
    pm = PatternMatcher([pattern])
    assert pm.matches(path) is expected
    # the walker's incremental form agrees when fed every parent first
    info = None
    parts = path.split("/")
    for i in range(1, len(parts)):
        _, info = pm.matches_with_parent("/".join(parts[:i]), info)
    assert pm.matches_with_parent(path, info)[0] is expected
    assert pm.matches_with_parent(path, None)[0] is expected
