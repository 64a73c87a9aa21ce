"""Reload: what the engine keeps of a build to compare the next one with."""

from __future__ import annotations

import os

from tui.debug.engine.options import BuildOptions
from tui.debug.model.graph import BuildGraph, VertexState
from tui.debug.model.reload import PreviousBuild, StepChange, classify

__all__ = ["read_dockerfile", "snapshot", "step_change"]

#: A Dockerfile larger than this is not compared line by line.
MAX_DOCKERFILE = 4 << 20


def read_dockerfile(opts: BuildOptions) -> str | None:
    """The Dockerfile's text as it is on disk now (None when it cannot be read)."""
    path = os.path.join(opts.dockerfile_dir, opts.dockerfile_name)
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_DOCKERFILE + 1)
    except OSError:
        return None
    if len(data) > MAX_DOCKERFILE:
        return None
    return data.decode("utf-8", "replace")


#: States of a vertex that ran (or came from the cache) in a build: the next build's run of
#: it is a re-run. A step left queued or cancelled never ran: the next build's run is new.
_RAN = frozenset({VertexState.DONE, VertexState.CACHED, VertexState.ERROR})


def snapshot(graph: BuildGraph, dockerfile: str | None) -> PreviousBuild:
    """The build's vertices that ran, and its Dockerfile text, for the next build's comparison."""
    return PreviousBuild.of(((v.digest, v.name) for v in graph
                             if v.declared and v.state in _RAN), dockerfile)


def step_change(previous: PreviousBuild | None, graph: BuildGraph, digest: str
                ) -> StepChange | None:
    """Whether step ``digest`` of a reloaded build came from cache, ran again or is new.

    None for the first build (no ``previous``), for a vertex that is no Dockerfile step (no
    source location) and for a step that did not complete or fail.
    """
    v = graph.get(digest)
    if previous is None or v is None or v.source is None or \
            v.state in (VertexState.QUEUED, VertexState.RUNNING, VertexState.CANCELED):
        return None
    return classify(previous, digest, v.name, v.state is VertexState.CACHED)
