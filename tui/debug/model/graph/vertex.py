"""One build vertex as the status stream describes it: fields, run intervals, state."""

from __future__ import annotations

import time

from tui.debug.model.graph.values import (
    BuildWarning,
    ProgressGroup,
    RunTimes,
    StatusItem,
    VertexSource,
    VertexState,
)
from tui.debug.model.logbuffer import LogBuffer
from tui.debug.model.progressui import CANCELED_SUFFIX
from tui.debug.model.timing import Interval, go_seconds, merge_intervals

__all__ = ["Vertex"]


class Vertex(RunTimes):
    """A build vertex and everything the status stream said about it."""

    __slots__ = (
        "_merged",
        "cached",
        "completed_ns",
        "declared",
        "digest",
        "error",
        "inferred",
        "inputs",
        "intervals",
        "logs",
        "name",
        "progress_group",
        "seq",
        "source",
        "started_ns",
        "state",
        "statuses",
        "step",
        "warnings",
    )

    def __init__(self, digest: str, seq: int, log_cap: int) -> None:
        self.digest = digest
        #: Position in first-seen order (0-based).
        self.seq = seq
        #: False while only logs/statuses referenced this digest (no Vertex item yet).
        self.declared = False
        self.name = ""
        self.inputs: tuple[str, ...] = ()
        self.cached = False
        #: Done elsewhere: a dependent started although this build's status never showed
        #: this vertex run (shared with another build, or not needed thanks to the cache).
        self.inferred = False
        #: Its lines in the Dockerfile, from this build's definition.
        self.source: VertexSource | None = None
        self.error = ""
        self.started_ns: int | None = None
        self.completed_ns: int | None = None
        self.progress_group: ProgressGroup | None = None
        #: start ns -> stop ns (or None), one entry per distinct ``started`` value.
        self.intervals: dict[int, int | None] = {}
        self._merged: list[Interval] = []
        self.state = VertexState.QUEUED
        #: Group number (1-based) once started; group members use their group's number.
        self.step: int | None = None
        self.logs = LogBuffer(log_cap)
        self.statuses: dict[str, StatusItem] = {}
        self.warnings: list[BuildWarning] = []

    def __repr__(self) -> str:
        return f"Vertex({self.digest[:19]!r}, {self.name!r}, {self.state.value}, step={self.step})"

    @property
    def merged_intervals(self) -> list[Interval]:
        """Run intervals merged as progressui merges them."""
        return self._merged

    @property
    def is_started(self) -> bool:
        """Whether the vertex has started at least once."""
        return bool(self._merged)

    @property
    def is_completed(self) -> bool:
        """Whether the newest run interval has ended."""
        return bool(self._merged) and self._merged[-1][1] is not None

    @property
    def first_started_ns(self) -> int | None:
        """Start of the earliest run interval."""
        return self._merged[0][0] if self._merged else None

    def duration(self, now_ns: int | None = None) -> float | None:
        """Run time in seconds (sum of merged intervals, as ``#N DONE 1.2s`` shows it).

        An open interval counts up to ``now_ns`` (default: the current time).
        """
        if not self._merged:
            return None
        total = 0.0
        for start, stop in self._merged:
            if stop is None:
                stop = now_ns if now_ns is not None else time.time_ns()
            total += go_seconds(stop - start)
        return total

    def record_run(self, start: int, stop: int | None) -> None:
        """Take a ``started`` (and ``completed``) update: it opens or closes a run interval."""
        self.started_ns = start
        self.completed_ns = stop
        if start not in self.intervals or self.intervals[start] != stop:
            self.intervals[start] = stop
            self._merged = merge_intervals(self.intervals.items())

    def forget_runs(self) -> None:
        """Drop the run intervals taken so far (another build's, standing in for this one)."""
        self.intervals.clear()
        self._merged = []
        self.started_ns = None
        self.completed_ns = None

    def derived_state(self) -> VertexState:
        """The state its error, run intervals and flags give it."""
        if self.error:
            canceled = self.error.endswith(CANCELED_SUFFIX)
            return VertexState.CANCELED if canceled else VertexState.ERROR
        if self._merged:
            if self._merged[-1][1] is not None:
                return VertexState.CACHED if self.cached else VertexState.DONE
            return VertexState.RUNNING
        return VertexState.CACHED if self.inferred else VertexState.QUEUED
