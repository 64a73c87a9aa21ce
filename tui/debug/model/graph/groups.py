"""Step numbers and progress groups, as buildkit's progressui gives them.

A vertex carrying a ``progressGroup`` is shown with the other members of its group as one
step; the group appears once one of its non-weak members has started (or one of them
failed). Every other vertex is its own step.

Step numbers follow the order in which progressui's trace first sees a step start (a cached
step counts: BuildKit sends it with ``started == completed``). That is the order of buildx's
tty view and of its error-log block. ``--progress=plain`` numbers a step when it first
*prints* it, which is the same order unless steps run concurrently; see
``tui.debug.headless.plain.PlainPrinter.step_of`` for that exact numbering.
"""

from __future__ import annotations

from collections.abc import Mapping

from tui.debug.model.graph.values import Changes, ProgressGroup
from tui.debug.model.graph.vertex import Vertex

__all__ = ["Group", "StepNumbering"]


class Group:
    """A progress group: member vertices shown (and numbered) as one step.

    Hidden until a non-weak member has started; ``cached`` when all members are, ``error``
    is the first member error.
    """

    __slots__ = ("cached", "error", "hidden", "id", "intervals", "members", "name", "step")

    def __init__(self, group: ProgressGroup) -> None:
        self.id = group.id
        self.name = group.name
        self.members: dict[str, None] = {}
        self.hidden = True
        self.step: int | None = None
        self.cached = False
        self.error = ""
        self.intervals: dict[int, int | None] = {}

    def __repr__(self) -> str:
        return f"Group({self.id!r}, {self.name!r}, step={self.step}, members={len(self.members)})"

    def refresh(self, vertices: Mapping[str, Vertex]) -> None:
        """Recompute the group's fields from its members (progressui ``vertexGroup.refresh``).

        Cached iff all members are cached, the first error wins, revealed once a non-weak
        member started (or a second member brought an error).
        """
        cached = True
        error = self.error
        for d in self.members:
            m = vertices[d]
            if m.started_ns is not None:
                self.intervals[m.started_ns] = m.completed_ns
                pg = m.progress_group
                if pg is not None and not pg.weak:
                    self.hidden = False
            cached = cached and m.cached
            if not error:
                error = m.error
            else:
                self.hidden = False
        self.cached = cached
        self.error = error


class StepNumbering:
    """Which vertex or progress group is step #n, in the order progressui numbers them."""

    __slots__ = ("groups", "steps")

    def __init__(self) -> None:
        #: Progress groups by id.
        self.groups: dict[str, Group] = {}
        #: Step keys (vertex digest or group id) by number; ``steps[n - 1]`` is #n.
        self.steps: list[str] = []

    def number(self, key: str, ch: Changes) -> int:
        """Give ``key`` the next step number, note it in ``ch`` and return it."""
        self.steps.append(key)
        ch.new_steps.append(key)
        return len(self.steps)

    def join(self, digest: str, group: ProgressGroup) -> None:
        """Make vertex ``digest`` a member of ``group``."""
        g = self.groups.get(group.id)
        if g is None:
            g = self.groups[group.id] = Group(group)
        g.members[digest] = None

    def refresh(self, group_id: str, vertices: Mapping[str, Vertex], ch: Changes) -> None:
        """Refresh a group after its members changed: number it once it is revealed."""
        g = self.groups[group_id]
        g.refresh(vertices)
        if not g.hidden and g.step is None:
            g.step = self.number(g.id, ch)
        if g.step is not None:
            for d in g.members:
                vertices[d].step = g.step

    def step_of(self, key: str, vertices: Mapping[str, Vertex]) -> int | None:
        """Step number of a vertex digest or group id."""
        v = vertices.get(key)
        if v is not None:
            return v.step
        g = self.groups.get(key)
        return g.step if g is not None else None

    def vertex_for_step(self, step: int, vertices: Mapping[str, Vertex]) -> Vertex | None:
        """The vertex numbered ``step``; for a group, its first member."""
        if not 1 <= step <= len(self.steps):
            return None
        key = self.steps[step - 1]
        v = vertices.get(key)
        if v is not None:
            return v
        g = self.groups[key]
        return vertices.get(next(iter(g.members)))
