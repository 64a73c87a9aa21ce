"""Breakpoints: the build's steps in the order they are walked, and a pause at one of them.

Pure: what a front-end shows of a paused build (the step, its Dockerfile lines, command,
user, working directory, environment and mounts) and how ``continue`` / ``next`` move on.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from tui.debug.model.graph import VertexSource


class Where(enum.StrEnum):
    """Whether the build is paused before the step ran or after it."""

    BEFORE = "before"
    AFTER = "after"


class Resume(enum.StrEnum):
    """How a paused build goes on."""

    CONTINUE = "continue"  # to the next breakpoint, a failure, or the end
    NEXT = "next"  # run just the next step and pause after it


@dataclass(frozen=True, slots=True)
class PausedStep:
    """A build paused at a step: where, and the step as it will run (or ran)."""

    digest: str
    name: str
    where: Where
    source: VertexSource | None
    args: tuple[str, ...] = ()
    user: str = ""
    cwd: str = ""
    env: tuple[str, ...] = ()
    #: ``dest (kind[, ro])`` per mount, as the step sees them.
    mounts: tuple[str, ...] = ()
    breakpoint: bool = False

    def headline(self) -> str:
        """``paused before [2/3] RUN touch /file (Dockerfile:3)``."""
        where = f" ({self.source.describe()})" if self.source is not None else ""
        return f"paused {self.where} {self.name or self.digest[:19]}{where}"

    def details(self) -> str:
        """The step as it will run (or ran): lines, command, user, workdir, env, mounts."""
        lines = []
        if self.source is not None:
            lines.append(f"lines:   {self.source.describe()}")
        if self.args:
            lines.append(f"command: {' '.join(self.args)}")
        lines.append(f"user:    {self.user or '(default)'}")
        lines.append(f"workdir: {self.cwd or '/'}")
        lines.extend(f"env:     {e}" for e in self.env)
        lines.extend(f"mount:   {m}" for m in self.mounts)
        return "\n".join(lines)

    def state_words(self) -> str:
        """The state a shell at this pause opens in."""
        if self.where is Where.BEFORE:
            return f"the initial state of {self.name or 'the step'}"
        return f"the state after {self.name or 'the step'}"


@dataclass(frozen=True, slots=True)
class Walk:
    """Where the walk through the build's steps stands (``index`` into the step order)."""

    index: int = -1
    where: Where = Where.AFTER

    def go(self, how: Resume, steps: int, breakpoints: Sequence[int]) -> Walk | None:
        """The next pause after ``how`` (None: run to the end).

        ``continue`` stops before the next breakpoint after this step; ``next`` runs this
        step (paused before it) or the following one, stopping before a breakpoint on the way.
        """
        if how is Resume.CONTINUE:
            later = [b for b in sorted(breakpoints) if b > self.index]
            return Walk(later[0], Where.BEFORE) if later else None
        if self.where is Where.BEFORE:
            return Walk(self.index, Where.AFTER)
        nxt = self.index + 1
        if nxt >= steps:
            return None
        return Walk(nxt, Where.BEFORE if nxt in breakpoints else Where.AFTER)
