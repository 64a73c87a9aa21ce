"""The diff pane's data, no Textual: the tree of changed paths and the kinds of diff lines."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Literal

from tui.debug.model.fsmodel import ADDED, CHANGED, REMOVED, Change, FsDiff, describe_change
from tui.ui.widgets.textclean import clean_controls

__all__ = [
    "MARKS", "LineKind", "TreeNode", "build_tree", "change_details", "classify", "printable",
    "summary",
]

#: Status of a change -> (its mark, its component class).
MARKS = {ADDED: ("A", "added"), REMOVED: ("D", "removed"), CHANGED: ("M", "changed")}

#: The kind of a line of the unified view (a component class; "" for context).
LineKind = Literal["", "header", "hunk", "added", "removed", "note", "message", "error"]


def printable(text: str) -> str:
    """``text`` with tabs expanded and control characters as their pictures (names hold any)."""
    return clean_controls(text.expandtabs(8), pictures=True)


def change_details(c: Change) -> str:
    """What a change did: ``content 10 -> 24 bytes, mode -rw-r--r-- -> -rwxr-xr-x``, ...

    An added file gives its size, another added non-directory its kind; removals say nothing.
    """
    if c.status == ADDED:
        e = c.entry
        if e.kind == "file":
            return f"{e.size} bytes"
        return "" if e.kind in ("dir", "link") else e.kind
    return describe_change(c)


def summary(d: FsDiff) -> str:
    """One mount's line of the header: its label and counts of changes."""
    if not d.changes:
        return f"the step changed no files in {d.label}"
    n = d.counts()
    return f"{d.label} : {n[ADDED]} added, {n[REMOVED]} removed, {n[CHANGED]} changed"


@dataclass(slots=True)
class TreeNode:
    """One row of the tree: a mount, a directory on the way to changes, or a changed path."""

    index: int
    label: str
    path: str
    name: str
    depth: int
    parent: int
    change: Change | None
    is_dir: bool
    #: Index after this node's subtree (nodes are in depth-first order).
    end: int = 0
    added: int = 0
    removed: int = 0
    changed: int = 0
    collapsed: bool = False

    @property
    def has_children(self) -> bool:
        """Whether changes lie below this node."""
        return self.added + self.removed + self.changed > 0

    @property
    def is_text_candidate(self) -> bool:
        """Whether this is a regular file (on every side that exists): one to diff."""
        c = self.change
        return c is not None and all(e is None or e.kind == "file" for e in (c.before, c.after))


@dataclass(slots=True)
class _Build:
    name: str
    path: str
    is_dir: bool = True
    change: Change | None = None
    children: dict[str, _Build] = field(default_factory=dict)


def build_tree(diffs: list[FsDiff]) -> list[TreeNode]:
    """The rows of every mount's tree in depth-first order (directories first, then by name).

    Each mount is a root; directories that hold changes but did not change themselves are
    derived from the paths; every node counts the changes below it.
    """
    nodes: list[TreeNode] = []
    for d in diffs:
        root = _Build(d.label, "")
        index = {"": root}
        for c in d.changes:
            path = c.path.strip("/")
            if not path:
                continue
            node = index.get(path)
            if node is None:
                missing = [path]
                parent = posixpath.dirname(path)
                while parent not in index:
                    missing.append(parent)
                    parent = posixpath.dirname(parent)
                above = index[parent]
                for p in reversed(missing):
                    node = _Build(posixpath.basename(p), p)
                    above.children[node.name] = node
                    index[p] = above = node
                node = above
            node.change = c
            node.is_dir = c.entry.is_dir
        stack: list[tuple[_Build, int, int]] = [(root, -1, 0)]
        while stack:
            b, parent_index, depth = stack.pop()
            me = len(nodes)
            nodes.append(TreeNode(me, d.label, b.path, b.name, depth, parent_index, b.change,
                                  b.is_dir or bool(b.children)))
            kids = sorted(b.children.values(), key=lambda k: (not k.is_dir, k.name))
            stack.extend((k, me, depth + 1) for k in reversed(kids))
    for tn in nodes:
        tn.end = tn.index + 1
    for tn in reversed(nodes):
        if tn.parent < 0:
            continue
        up = nodes[tn.parent]
        up.end = max(up.end, tn.end)
        up.added += tn.added
        up.removed += tn.removed
        up.changed += tn.changed
        if tn.change is not None:
            status = tn.change.status
            if status == ADDED:
                up.added += 1
            elif status == REMOVED:
                up.removed += 1
            else:
                up.changed += 1
    return nodes


def classify(lines: list[str]) -> list[LineKind]:
    """The kind of each ``diff -u`` line (``---``/``+++`` are headers only before a hunk)."""
    kinds: list[LineKind] = []
    in_hunk = False
    for line in lines:
        kind: LineKind = ""
        if line.startswith("@@"):
            kind, in_hunk = "hunk", True
        elif not in_hunk and line.startswith(("--- ", "+++ ", "diff ", "index ")):
            kind = "header"
        elif line.startswith("+"):
            kind = "added"
        elif line.startswith("-"):
            kind = "removed"
        elif line.startswith("\\"):
            kind = "note"
        kinds.append(kind)
    return kinds

