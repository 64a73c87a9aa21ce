"""Time helpers for BuildKit status messages: timestamps, Go durations and run intervals."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from google.protobuf.timestamp_pb2 import Timestamp

__all__ = [
    "Interval",
    "go_seconds",
    "merge_intervals",
    "ns_to_datetime",
    "timestamp_ns",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NS = 1_000_000_000

#: A time interval in Unix nanoseconds; ``None`` as stop means "still open".
Interval = tuple[int, int | None]


def timestamp_ns(ts: Timestamp) -> int:
    """Convert a protobuf ``Timestamp`` to integer Unix nanoseconds."""
    return ts.seconds * _NS + ts.nanos


def ns_to_datetime(ns: int) -> datetime:
    """Convert Unix nanoseconds to an aware UTC ``datetime`` (microsecond precision)."""
    return _EPOCH + timedelta(microseconds=ns // 1000)


def go_seconds(ns: int) -> float:
    """Seconds as Go's ``time.Duration.Seconds`` computes them (bit-identical result)."""
    whole = abs(ns) // _NS
    if ns < 0:
        whole = -whole
    return float(whole) + float(ns - whole * _NS) / 1e9


def merge_intervals(intervals: Iterable[Interval]) -> list[Interval]:
    """Merge overlapping intervals like progressui's ``mergeIntervals``.

    An open interval (stop ``None``) swallows every interval starting after it. Touching
    intervals (stop == next start) are merged.
    """
    ivals = sorted(intervals, key=lambda iv: iv[0])
    if not ivals:
        return []
    merged: list[Interval] = []
    cur_start, cur_stop = ivals[0]
    for nxt_start, nxt_stop in ivals[1:]:
        if cur_stop is None:
            merged.append((cur_start, None))
            return merged
        if cur_stop < nxt_start:
            merged.append((cur_start, cur_stop))
            cur_start, cur_stop = nxt_start, nxt_stop
            continue
        if nxt_stop is None:
            merged.append((cur_start, None))
            return merged
        if cur_stop >= nxt_stop:
            continue
        cur_stop = nxt_stop
    merged.append((cur_start, cur_stop))
    return merged
