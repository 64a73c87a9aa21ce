"""What the app shows about a finished build: the failed step, or the successful result.

Plain data built from the build's error and result, so the UI never touches BuildKit types.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["FailureInfo", "SourceSnippet", "SuccessInfo"]


@dataclass(frozen=True)
class SourceSnippet:
    """A source file (usually the Dockerfile) and the 1-based line ranges an error points at."""

    filename: str
    data: bytes
    ranges: tuple[tuple[int, int], ...]
    language: str = "Dockerfile"

    @property
    def text(self) -> str:
        """The file's text (invalid UTF-8 replaced)."""
        return self.data.decode("utf-8", "replace")

    @property
    def first_line(self) -> int:
        """The first marked line (1 when there is none)."""
        return min((s for s, _ in self.ranges), default=1)


@dataclass(frozen=True)
class FailureInfo:
    """A failed build: the error, where it points, and what the failed step ran with.

    ``can_open`` says whether ``f``/``i`` can start a container in the failed step; when it
    cannot, ``cannot_open`` says why in one sentence.  ``command``/``env``/``user``/``cwd``
    are the failed RUN's (empty for other kinds of step).
    """

    message: str
    sources: tuple[SourceSnippet, ...] = ()
    vertex: str | None = None
    step_name: str = ""
    exit_code: int | None = None
    op_description: str = ""
    command: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    user: str = ""
    cwd: str = ""
    can_open: bool = False
    cannot_open: str = ""
    #: The failed step is a file operation (COPY/ADD...): f opens a toolbox shell on its
    #: inputs (``/dest``, ``/src``) instead of a final/initial state.
    file_op: bool = False
    #: The build's warnings (lint included), each as buildx's short line.
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class SuccessInfo:
    """A successful build: the image, its tags, timing and cache figures, its config."""

    image_id: str = ""
    tags: tuple[str, ...] = ()
    duration: float | None = None
    cached_steps: int = 0
    total_steps: int = 0
    user: str = ""
    workdir: str = ""
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: tuple[str, ...] = field(default_factory=tuple)
    #: The exporter response (``buildx.build.ref`` included), sorted by key.
    exporter: tuple[tuple[str, str], ...] = ()
    #: ``NAME@DIGEST`` of every name pushed after the build (``--push``).
    pushed: tuple[str, ...] = ()
    #: The build's warnings (lint included), each as buildx's short line.
    warnings: tuple[str, ...] = ()
