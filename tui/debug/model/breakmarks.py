"""Breakpoints across reloads: a breakpoint stays on its Dockerfile instruction.

A step's vertex digest changes when anything it depends on changes (an earlier line edited),
so a breakpoint is carried to the next build by where the step is in the Dockerfile: its
first line, moved through the diff between the two Dockerfiles (:func:`line_map`).  A
breakpoint whose line was deleted is dropped.  Pure values and functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from tui.debug.model.graph import VertexSource

__all__ = ["Carried", "Location", "carry", "location_of", "resolve"]


@dataclass(frozen=True, slots=True)
class Location:
    """A step's place in the build's source: its file and first line (1-based)."""

    filename: str
    line: int


def location_of(source: VertexSource | None) -> Location | None:
    """The first line of a step's source (None: the vertex has no Dockerfile line)."""
    if source is None or not source.ranges:
        return None
    return Location(source.filename, min(r.start_line for r in source.ranges))


@dataclass(frozen=True, slots=True)
class Carried:
    """The breakpoints handed to the next build: by location, and by digest where none."""

    locations: frozenset[Location] = frozenset()
    digests: frozenset[str] = frozenset()


def carry(digests: Iterable[str], where: Mapping[str, Location],
          lines: Mapping[int, int] | None,
          pending: Iterable[Location] = ()) -> Carried:
    """The breakpoints for the next build: ``digests``, and ``pending`` locations never resolved.

    ``where`` holds the steps' locations in this build, ``lines`` the old → new line map of
    the Dockerfile (None: it could not be compared, every breakpoint stays by digest).  A
    breakpoint on a vertex with no location stays by digest.
    """
    digests = list(digests)
    if lines is None:
        return Carried(frozenset(pending), frozenset(digests))
    locations: set[Location] = set()
    keep: set[str] = set()
    for d in digests:
        loc = where.get(d)
        if loc is None:
            keep.add(d)
        else:
            locations.add(loc)
    locations.update(pending)
    moved = frozenset(Location(loc.filename, lines[loc.line])
                      for loc in locations if loc.line in lines)
    return Carried(moved, frozenset(keep))


def resolve(carried: Carried, where: Mapping[str, Location]) -> set[str]:
    """The digests of the new build the carried breakpoints land on (by location, by digest)."""
    return {d for d, loc in where.items() if loc in carried.locations} | carried.digests
