"""Reload: how a rebuilt step relates to the previous build, and what changed in the Dockerfile.

Pure values: the engine snapshots the previous build (:class:`PreviousBuild`), the
front-ends ask :func:`classify` for each step of the new one and show
:class:`DockerfileChanges`.
"""

from __future__ import annotations

import difflib
import enum
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "DockerfileChanges",
    "PreviousBuild",
    "StepChange",
    "classify",
    "dockerfile_changes",
    "instruction_of",
    "line_map",
]

#: ``[stage-0 2/5] `` or ``[2/5] ``: the position prefix of a Dockerfile step's vertex name.
_POSITION = re.compile(r"^\[[^\]]*\]\s*")


class StepChange(enum.StrEnum):
    """What a step of the reloaded build did compared with the previous build."""

    CACHED = "cached"
    RERAN = "re-ran"
    NEW = "new"


def instruction_of(name: str) -> str:
    """A step's instruction text without its ``[stage i/n]`` position (positions shift)."""
    return _POSITION.sub("", name, count=1).strip()


@dataclass(frozen=True)
class PreviousBuild:
    """What the previous build was: its vertex digests, instructions and Dockerfile text."""

    digests: frozenset[str]
    instructions: frozenset[str]
    dockerfile: str | None

    @classmethod
    def of(cls, steps: Iterable[tuple[str, str]], dockerfile: str | None) -> PreviousBuild:
        """From ``(digest, vertex name)`` pairs and the Dockerfile's text (None: unreadable)."""
        digests: set[str] = set()
        instructions: set[str] = set()
        for digest, name in steps:
            digests.add(digest)
            text = instruction_of(name)
            if text:
                instructions.add(text)
        return cls(frozenset(digests), frozenset(instructions), dockerfile)


def classify(previous: PreviousBuild, digest: str, name: str, cached: bool) -> StepChange:
    """Cached (solved from the cache), re-ran (the previous build had it), or new.

    A step is the previous build's when its vertex digest or its instruction text matches.
    """
    if cached:
        return StepChange.CACHED
    if digest in previous.digests or instruction_of(name) in previous.instructions:
        return StepChange.RERAN
    return StepChange.NEW


@dataclass(frozen=True)
class DockerfileChanges:
    """The Dockerfile's lines that changed since the previous build (1-based, new file)."""

    changed: tuple[int, ...]
    removed: int
    readable: bool = True

    def __bool__(self) -> bool:
        return bool(self.changed or self.removed)

    def describe(self) -> str:
        """One line for the step pane."""
        if not self.readable:
            return "the Dockerfile could not be read: no line comparison"
        if not self:
            return "Dockerfile unchanged since the last build"
        parts: list[str] = []
        if self.changed:
            word = "line" if len(self.changed) == 1 else "lines"
            parts.append(f"{word} {_spans(self.changed)} changed")
        if self.removed:
            parts.append(f"{self.removed} line{'s' if self.removed != 1 else ''} removed")
        return "Dockerfile since the last build: " + ", ".join(parts)


def _spans(lines: tuple[int, ...]) -> str:
    """``1-3, 6`` for 1, 2, 3, 6."""
    out: list[str] = []
    start = prev = lines[0]
    for n in (*lines[1:], None):
        if n is not None and n == prev + 1:
            prev = n
            continue
        out.append(str(start) if start == prev else f"{start}-{prev}")
        if n is not None:
            start = prev = n
    return ", ".join(out)


def dockerfile_changes(old: str | None, new: str | None) -> DockerfileChanges:
    """Lines of ``new`` that differ from ``old`` (inserted or replaced), and lines removed.

    Line endings are ignored (a CRLF file re-saved as LF changes nothing the frontend sees).
    """
    if old is None or new is None:
        return DockerfileChanges((), 0, readable=False)
    changed: list[int] = []
    removed = 0
    for tag, i1, i2, j1, j2 in _opcodes(old, new):
        if tag in ("replace", "insert"):
            changed.extend(range(j1 + 1, j2 + 1))
        if tag == "delete" or (tag == "replace" and i2 - i1 > j2 - j1):
            removed += (i2 - i1) - (j2 - j1 if tag == "replace" else 0)
    return DockerfileChanges(tuple(changed), removed)


def _opcodes(old: str, new: str) -> Sequence[tuple[str, int, int, int, int]]:
    """The difflib opcodes between the two texts' lines (line endings ignored)."""
    a = [line.rstrip("\r") for line in old.split("\n")]
    b = [line.rstrip("\r") for line in new.split("\n")]
    return difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()


def line_map(old: str | None, new: str | None) -> dict[int, int] | None:
    """Where each line of ``old`` is in ``new`` (1-based), through the same diff.

    A line kept as it was maps to its new place (lines inserted above it move it down); a
    block of lines replaced by as many lines maps line by line (an edited instruction is
    still there); a deleted line, or one of a block replaced by a different number of lines,
    has no place.  None when either text could not be read.
    """
    if old is None or new is None:
        return None
    out: dict[int, int] = {}
    for tag, i1, i2, j1, j2 in _opcodes(old, new):
        if tag == "equal" or (tag == "replace" and i2 - i1 == j2 - j1):
            out.update((i1 + k + 1, j1 + k + 1) for k in range(i2 - i1))
    return out
