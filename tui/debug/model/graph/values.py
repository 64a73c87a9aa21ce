"""Value types of the build graph: vertex states, status items, sources, warnings, changes."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from tui.debug.model.timing import ns_to_datetime

__all__ = [
    "BuildWarning",
    "Changes",
    "OpInfo",
    "ProgressGroup",
    "RunTimes",
    "SourceRange",
    "StatusItem",
    "VertexSource",
    "VertexState",
]


class VertexState(enum.StrEnum):
    """Display state of a vertex."""

    QUEUED = "queued"
    RUNNING = "running"
    CACHED = "cached"
    DONE = "done"
    ERROR = "error"
    CANCELED = "canceled"


@dataclass(slots=True, frozen=True)
class ProgressGroup:
    """A ``pb.ProgressGroup``: vertices shown together as one step."""

    id: str
    name: str
    weak: bool


class RunTimes:
    """``started`` / ``completed`` as UTC datetimes, from ``started_ns`` / ``completed_ns``."""

    __slots__ = ()
    started_ns: int | None
    completed_ns: int | None

    @property
    def started(self) -> datetime | None:
        """Start time as a UTC datetime."""
        return None if self.started_ns is None else ns_to_datetime(self.started_ns)

    @property
    def completed(self) -> datetime | None:
        """Completion time as a UTC datetime."""
        return None if self.completed_ns is None else ns_to_datetime(self.completed_ns)


@dataclass(slots=True)
class StatusItem(RunTimes):
    """A ``VertexStatus`` (e.g. ``transferring context:``), replaced on every update."""

    id: str
    vertex: str
    name: str
    current: int
    total: int
    timestamp_ns: int | None
    started_ns: int | None
    completed_ns: int | None

    @property
    def done(self) -> bool:
        """Whether the status has a completion time."""
        return self.completed_ns is not None


@dataclass(slots=True, frozen=True)
class SourceRange:
    """A ``pb.Range`` in a source file (1-based lines)."""

    start_line: int
    start_character: int
    end_line: int
    end_character: int


@dataclass(slots=True, frozen=True)
class VertexSource:
    """Where a vertex comes from in the build's source (a Dockerfile's lines)."""

    filename: str
    ranges: tuple[SourceRange, ...]

    def describe(self) -> str:
        """``Dockerfile:3`` or ``Dockerfile:3-5``."""
        if not self.ranges:
            return self.filename
        first = min(r.start_line for r in self.ranges)
        last = max(r.end_line for r in self.ranges)
        return f"{self.filename}:{first}" + (f"-{last}" if last > first else "")


@dataclass(slots=True, frozen=True)
class OpInfo:
    """What this build's own LLB definition says of a vertex.

    A vertex shared with another build on the daemon carries that build's name in the status
    stream (the daemon names it after the build that asked first); this is ours.
    """

    name: str
    inputs: tuple[str, ...]
    source: VertexSource | None


@dataclass(slots=True, frozen=True)
class BuildWarning:
    """A ``VertexWarning`` (e.g. a Dockerfile lint warning)."""

    vertex: str
    level: int
    short: str
    detail: tuple[str, ...]
    url: str
    filename: str
    source: bytes
    language: str
    ranges: tuple[SourceRange, ...]
    has_source: bool

    @property
    def line_ranges(self) -> list[tuple[int, int]]:
        """``(start_line, end_line)`` pairs, as ``format_source_error`` takes them."""
        return [(r.start_line, r.end_line) for r in self.ranges]


class Changes:
    """What one ``apply`` call changed (sets of vertex digests)."""

    __slots__ = ("logs", "new_steps", "statuses", "vertices", "warnings")

    def __init__(self) -> None:
        #: Vertices whose ``Vertex`` record was updated.
        self.vertices: set[str] = set()
        #: Vertices with updated status items.
        self.statuses: set[str] = set()
        #: Vertices that received log output.
        self.logs: set[str] = set()
        #: Vertices that received warnings.
        self.warnings: set[str] = set()
        #: Digests (or group ids) that received a step number, in numbering order.
        self.new_steps: list[str] = []

    def __repr__(self) -> str:
        return (
            f"Changes(vertices={self.vertices}, statuses={self.statuses}, logs={self.logs}, "
            f"warnings={self.warnings}, new_steps={self.new_steps})"
        )

    @property
    def digests(self) -> set[str]:
        """Every digest touched by the message."""
        return self.vertices | self.statuses | self.logs | self.warnings

    def __bool__(self) -> bool:
        return bool(self.vertices or self.statuses or self.logs or self.warnings)

    def merge(self, other: Changes) -> None:
        """Add ``other``'s changes to these (to batch several messages into one frame)."""
        self.vertices |= other.vertices
        self.statuses |= other.statuses
        self.logs |= other.logs
        self.warnings |= other.warnings
        self.new_steps.extend(other.new_steps)
