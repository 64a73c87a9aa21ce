"""Breakpoints across reloads: the Dockerfile line map and carrying marks by location."""

from __future__ import annotations

from tui.debug.model.breakmarks import Carried, Location, carry, location_of, resolve
from tui.debug.model.graph import SourceRange, VertexSource
from tui.debug.model.reload import line_map

OLD = "FROM a\nRUN one\nRUN two\nRUN three\n"


def test_line_map_moves_lines_below_an_insertion() -> None:
    new = "FROM a\nRUN one\nRUN inserted\nRUN two\nRUN three\n"
    m = line_map(OLD, new)
    assert m is not None
    assert [m[1], m[2], m[3], m[4]] == [1, 2, 4, 5]


def test_line_map_drops_deleted_lines_and_keeps_edited_ones() -> None:
    m = line_map(OLD, "FROM a\nRUN three\n")
    assert m is not None and 2 not in m and 3 not in m and m[4] == 2
    edited = line_map(OLD, "FROM a\nRUN one\nRUN two fixed\nRUN three\n")
    assert edited is not None and edited[3] == 3  # the same instruction, edited in place
    uneven = line_map(OLD, "FROM a\nRUN one\nRUN x\nRUN y\nRUN three\n")
    assert uneven is not None and 3 not in uneven  # 1 line replaced by 2: ambiguous
    assert line_map(None, OLD) is None and line_map(OLD, None) is None
    assert line_map(OLD, OLD.replace("\n", "\r\n")) == {i: i for i in range(1, 6)}


def test_location_is_the_first_line() -> None:
    src = VertexSource("Dockerfile", (SourceRange(5, 0, 7, 3), SourceRange(4, 0, 4, 9)))
    assert location_of(src) == Location("Dockerfile", 4)
    assert location_of(None) is None
    assert location_of(VertexSource("Dockerfile", ())) is None


def test_carry_follows_the_line_and_drops_a_deleted_one() -> None:
    where = {"sha256:two": Location("Dockerfile", 3), "sha256:three": Location("Dockerfile", 4)}
    new = "FROM a\nRUN one\nRUN inserted\nRUN two\n"  # three deleted, one inserted above two
    carried = carry({"sha256:two", "sha256:three", "sha256:ctx"}, where, line_map(OLD, new))
    assert carried.locations == frozenset({Location("Dockerfile", 4)})
    assert carried.digests == frozenset({"sha256:ctx"})  # no Dockerfile line: by digest
    # the new build: two has a new digest (its parent changed) at line 4
    new_where = {"sha256:two-new": Location("Dockerfile", 4),
                 "sha256:ins": Location("Dockerfile", 3)}
    assert resolve(carried, new_where) == {"sha256:two-new", "sha256:ctx"}


def test_carry_without_a_line_map_keeps_digests_and_pending_locations() -> None:
    where = {"sha256:two": Location("Dockerfile", 3)}
    pending = [Location("Dockerfile", 2)]
    assert carry({"sha256:two"}, where, None, pending) == Carried(
        frozenset(pending), frozenset({"sha256:two"}))
    # a breakpoint never resolved (the build stopped early) moves with the next diff too
    moved = carry((), {}, line_map(OLD, "FROM a\nRUN zero\nRUN one\n"), pending)
    assert moved.locations == frozenset({Location("Dockerfile", 3)})
