"""``--step``: pick a build step by its ``[N/M]`` number, plain-output ``#N``, or digest.

Accepted forms: ``N`` (the ``[... N/M]`` step; an error names the stages when several
have an N), ``STAGE:N`` or ``STAGE/N`` (``builder:2`` for ``[builder 2/4]``),
``#N`` (the vertex numbered ``#N`` in plain output) and a digest prefix of at least
4 hex digits (with or without ``sha256:``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_STEP = re.compile(r"^\[(?:(?P<stage>[^\]\s]+) )?(?P<n>\d+)/(?P<m>\d+)\]")
_HEX = re.compile(r"^(?:sha256:)?(?P<hex>[0-9a-f]{4,64})$")


class StepError(ValueError):
    """A step selector that names no step, or more than one (one line)."""


@dataclass(frozen=True)
class StepRef:
    """What the selector may match: a vertex's digest, name and plain-output number."""

    digest: str
    name: str
    number: int | None


def step_label(name: str) -> tuple[str, int, int] | None:
    """``("builder", 2, 4)`` for ``[builder 2/4] RUN ...`` (stage "" when unnamed)."""
    m = _STEP.match(name)
    if m is None:
        return None
    return m.group("stage") or "", int(m.group("n")), int(m.group("m"))


def resolve_step(selector: str, candidates: Sequence[StepRef]) -> StepRef:
    """The one candidate ``selector`` names; StepError saying why otherwise."""
    sel = selector.strip()
    if not sel:
        raise StepError("--step needs a value: a step number such as 2, #5, or a digest")
    if sel.startswith("#") and sel[1:].isdigit():
        num = int(sel[1:])
        for c in candidates:
            if c.number == num:
                return c
        raise StepError(f"no step #{num} in this build")
    stage: str | None = None
    number = sel
    for sep in (":", "/"):
        if sep in sel and not sel.startswith("sha256:"):
            stage, _, number = sel.rpartition(sep)
            break
    if number.isdigit():
        return _by_number(int(number), stage, candidates, sel)
    m = _HEX.match(sel.lower())
    if m is not None:
        hits = [c for c in candidates if c.digest.removeprefix("sha256:").startswith(m["hex"])]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise StepError(f"digest prefix {sel!r} matches {len(hits)} steps: give more digits")
        raise StepError(f"no step's digest starts with {sel!r}")
    raise StepError(f"invalid --step {sel!r}: expected N, STAGE:N, #N or a digest prefix")


def _by_number(n: int, stage: str | None, candidates: Sequence[StepRef],
               sel: str) -> StepRef:
    hits: list[tuple[StepRef, str, int]] = []
    for c in candidates:
        label = step_label(c.name)
        if label is not None and label[1] == n and (stage is None or label[0] == stage):
            hits.append((c, label[0], label[2]))
    if not hits:
        where = f" in stage {stage!r}" if stage is not None else ""
        raise StepError(f"no step [{n}/...]{where} in this build (see the [N/M] numbers)")
    stages = sorted({s for _, s, _ in hits})
    if len(stages) > 1:
        example = next((s for s in stages if s), "STAGE")
        raise StepError(f"step {n} exists in stages {', '.join(stages)}: say which, "
                        f"e.g. --step {example}:{n}")
    return hits[0][0]
