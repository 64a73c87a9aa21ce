"""Reload: what the engine keeps of a build to compare the next one with."""

from __future__ import annotations

import os

from tui.debug.engine.options import BuildOptions
from tui.debug.model.graph import BuildGraph
from tui.debug.model.reload import PreviousBuild

__all__ = ["read_dockerfile", "snapshot"]

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


def snapshot(graph: BuildGraph, dockerfile: str | None) -> PreviousBuild:
    """The build's named vertices and Dockerfile text, for the next build's comparison."""
    return PreviousBuild.of(((v.digest, v.name) for v in graph if v.declared), dockerfile)
