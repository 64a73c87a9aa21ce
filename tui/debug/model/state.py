"""Small enums every layer shares: where a build stands, which state of a step opens."""

from __future__ import annotations

import enum

__all__ = ["Phase", "StateKind"]


class StateKind(enum.StrEnum):
    """Which state of the failed step a shell opens in: after it failed, or before it ran."""

    FINAL = "final"
    INITIAL = "initial"


class Phase(enum.StrEnum):
    """Where the build stands (the status line's word)."""

    CONNECTING = "connecting"
    BUILDING = "building"
    FAILED = "failed"
    SUCCEEDED = "succeeded"
    UNREACHABLE = "unreachable"
    STOPPED = "stopped"
