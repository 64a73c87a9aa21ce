"""How a build ended, as one immutable value, and which state of a step a shell opens in.

The session decides the outcome once, when the build has finished; every front-end branches
on it once (``match``).  Each case carries only what it has.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from tui.debug.model.state import Phase, StateKind

if TYPE_CHECKING:
    from tui.debug.model.failure import FailureInfo, SuccessInfo

__all__ = ["BuilderLost", "Cancelled", "Failed", "Outcome", "Phase", "StateKind", "Succeeded",
           "Unreachable"]


@dataclass(frozen=True)
class Unreachable:
    """The build could not run at all: the daemon could not be reached (one line)."""

    error: str
    phase: ClassVar[Phase] = Phase.UNREACHABLE


@dataclass(frozen=True)
class Cancelled:
    """The build was stopped before it finished."""

    phase: ClassVar[Phase] = Phase.STOPPED


@dataclass(frozen=True)
class Failed:
    """The build failed: the failed step, and what it ran with."""

    failure: FailureInfo
    phase: ClassVar[Phase] = Phase.FAILED


@dataclass(frozen=True)
class BuilderLost:
    """The connection to the builder broke during the build (it stopped or restarted)."""

    failure: FailureInfo
    phase: ClassVar[Phase] = Phase.FAILED


@dataclass(frozen=True)
class Succeeded:
    """The build succeeded: its image, tags and figures."""

    success: SuccessInfo
    phase: ClassVar[Phase] = Phase.SUCCEEDED


Outcome = Unreachable | Cancelled | Failed | BuilderLost | Succeeded
