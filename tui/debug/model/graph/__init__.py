"""UI-free model of a BuildKit build, fed with ``Control.Status`` responses.

* ``values`` — the value types: vertex states, status items, Dockerfile sources, this
  build's own op info, warnings, and the ``Changes`` one message made;
* ``vertex`` — one vertex: its fields, run intervals and state;
* ``groups`` — step numbers and progress groups, as buildkit's progressui gives them;
* ``build`` — ``BuildGraph``: merges status messages, infers inputs done elsewhere, adopts
  this build's own names, counts states.

Every public name is re-exported here: import them from ``tui.debug.model.graph``.
"""

from __future__ import annotations

from tui.debug.model.graph.build import BuildGraph
from tui.debug.model.graph.groups import Group
from tui.debug.model.graph.values import (
    BuildWarning,
    Changes,
    OpInfo,
    ProgressGroup,
    SourceRange,
    StatusItem,
    VertexSource,
    VertexState,
)
from tui.debug.model.graph.vertex import Vertex
from tui.debug.model.progressui import CANCELED_SUFFIX

__all__ = [
    "CANCELED_SUFFIX",
    "BuildGraph",
    "BuildWarning",
    "Changes",
    "Group",
    "OpInfo",
    "ProgressGroup",
    "SourceRange",
    "StatusItem",
    "Vertex",
    "VertexSource",
    "VertexState",
]
