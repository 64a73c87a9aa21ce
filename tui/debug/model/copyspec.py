"""Copying files out of a build state: the ``STATE:PATH=DEST`` request and in-state paths.

Pure logic, no I/O.  A path inside a state is resolved the way the state's own shell sees it
(absolute link targets start at the state's root), except that a ``..`` or a link that would
climb above the root is refused rather than clamped: nothing outside the state is ever read.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum

from tui.debug.model.usage import OptionsError

__all__ = ["MAX_LINKS", "CopyReport", "CopyRequest", "Kind", "PathError", "ResolveSteps",
           "default_dest", "parse_copy_out", "resolve_steps"]

#: Links followed at most while resolving one path (Linux's limit).
MAX_LINKS = 40


class PathError(ValueError):
    """A path cannot be copied out of a state (one line)."""


class Kind(Enum):
    """What a probed path is in the state."""

    MISSING = "-"
    DIR = "D"
    OTHER = "F"  # a file, device, fifo...: anything but a directory or a link
    LINK = "L"


@dataclass(frozen=True)
class CopyRequest:
    """``--copy-out STATE:PATH=DEST``: which state, the path in it, where on the host."""

    state: str  # "final", "initial" or a --step selector
    path: str
    dest: str

    @property
    def selector(self) -> str | None:
        """The --step selector, or None for the failed step's final/initial state."""
        return None if self.state in ("final", "initial") else self.state


@dataclass
class CopyReport:
    """What a copy-out wrote."""

    dest: str
    files: int = 0
    dirs: int = 0
    links: int = 0
    bytes: int = 0
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line: counts and size."""
        parts = [f"{self.files} file(s)", f"{self.dirs} dir(s)", f"{self.links} link(s)",
                 f"{self.bytes} bytes"]
        text = ", ".join(parts)
        if self.skipped:
            text += f"; {len(self.skipped)} special file(s) skipped ({self.skipped[0]}...)"
        return text


_STEP = re.compile(r"\[(?:(\S+) )?(\d+)/\d+\]")


def default_dest(state_label: str, path: str, base: str = "bxtui-out") -> str:
    """Where the app proposes to copy ``path`` of a state: ``./bxtui-out/<step>/<path>``.

    ``<step>`` names the state briefly: its kind (final, initial, output, ...) and the
    step's ``[N/M]`` number with its stage, e.g. ``final-3`` or ``output-build-2``.
    """
    words = state_label.split()
    kind = words[0].rstrip(":") if words else "state"
    m = _STEP.search(state_label)
    step = kind if m is None else "-".join(p for p in (kind, m[1], m[2]) if p)
    step = re.sub(r"[^A-Za-z0-9._-]+", "-", step).strip("-.") or "state"
    rel = path.strip("/") or "root"
    return f"./{base}/{step}/{rel}"


def parse_copy_out(value: str) -> CopyRequest:
    """Parse ``STATE:PATH=DEST`` (PATH absolute; STATE may itself contain ':')."""
    state, sep, rest = value.partition(":/")
    if not sep or not state:
        raise OptionsError(f"--copy-out {value!r}: expected STATE:/PATH=DEST (STATE: final, "
                           "initial or a --step selector; PATH absolute)")
    path, eq, dest = ("/" + rest).partition("=")
    if not eq or not dest:
        raise OptionsError(f"--copy-out {value!r}: expected STATE:/PATH=DEST (no DEST given)")
    return CopyRequest(state, path, dest)


def _walk(parts: list[str], start: list[str], shown: str) -> list[str]:
    """``start`` + ``parts`` with ``.``/``..`` applied; PathError when it climbs above ``/``."""
    out = list(start)
    for part in parts:
        if part in ("", "."):
            continue
        if part == "..":
            if not out:
                raise PathError(f"{shown} leads outside the state (through '..')")
            out.pop()
        else:
            out.append(part)
    return out


def _split(path: str) -> list[str]:
    return [p for p in path.split("/") if p]


def resolve_steps(path: str) -> ResolveSteps:
    """A resolver of ``path``: feed it probe answers until it is done (see ResolveSteps)."""
    return ResolveSteps(path)


class ResolveSteps:
    """Resolve a state path with links in its directories followed inside the state.

    ``pending()`` lists the paths to probe (every prefix of the current candidate);
    ``answer()`` takes their kinds; repeat until ``done``.  The last component is not
    followed: a link is copied as a link.  Raises PathError for a missing path, a file used
    as a directory, ``..`` or a link climbing out of the state, or too many links.
    """

    def __init__(self, path: str) -> None:
        self.shown = path
        if not path.startswith("/"):
            raise PathError(f"{path}: the path in the state must be absolute")
        self._parts = _walk(_split(path), [], path)
        self._links = 0
        self.result: tuple[str, Kind] | None = None

    @property
    def done(self) -> bool:
        """Whether :attr:`result` (the resolved path and its kind) is known."""
        return self.result is not None

    def pending(self) -> list[str]:
        """The prefixes of the current candidate to probe, shortest first."""
        return ["/".join(self._parts[:i]) for i in range(1, len(self._parts) + 1)]

    def answer(self, kinds: Sequence[tuple[Kind, str]]) -> None:
        """Take the probe's answer for :meth:`pending`'s paths."""
        parts = self._parts
        if not parts:
            self.result = ("", Kind.DIR)
            return
        for i, (kind, target) in enumerate(kinds):
            last = i == len(parts) - 1
            if kind is Kind.MISSING:
                raise PathError(f"{self.shown}: no such file or directory in the state")
            if last:
                self.result = ("/".join(parts), kind)
                return
            if kind is Kind.OTHER:
                raise PathError(f"{self.shown}: /{'/'.join(parts[:i + 1])} is not a directory")
            if kind is Kind.LINK:
                self._links += 1
                if self._links > MAX_LINKS:
                    raise PathError(f"{self.shown}: too many levels of symbolic links")
                base = [] if target.startswith("/") else parts[:i]
                try:
                    self._parts = _walk(_split(target) + parts[i + 1:], base, self.shown)
                except PathError:
                    raise PathError(f"{self.shown} leads outside the state (through the link "
                                    f"/{'/'.join(parts[:i + 1])} -> {target})") from None
                if not self._parts:
                    self.result = ("", Kind.DIR)
                return
        raise PathError(f"{self.shown}: the state could not be probed")
