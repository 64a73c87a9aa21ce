"""The file browser's data, no Textual: a snapshot indexed by directory, and text helpers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from tui.debug.model.fsmodel import Entry, Snapshot
from tui.ui.widgets.textclean import clean_controls

__all__ = ["Tree", "clean_name", "index_snapshot"]


@dataclass(slots=True)
class Tree:
    """A loaded state: each directory's children in listing order and excluded names."""

    snapshot: Snapshot
    children: dict[str, list[Entry]]
    excluded: dict[str, list[str]]
    stats: dict[str, tuple[int, int, int]] = field(default_factory=dict)

    def dir_stats(self, path: str) -> tuple[int, int, int]:
        """Entries, bytes of regular files and the width of ``uid:gid`` in ``path``."""
        got = self.stats.get(path)
        if got is None:
            entries = self.children.get(path, [])
            total = sum(e.size for e in entries if e.kind == "file")
            uid = max((e.uid for e in entries), default=0)
            gid = max((e.gid for e in entries), default=0)
            got = self.stats[path] = (len(entries), total, len(f"{uid}:{gid}"))
        return got


def _order(e: Entry) -> tuple[bool, str]:
    return (e.kind != "dir", e.path)  # as Snapshot.children: directories first, then by name


def index_snapshot(snap: Snapshot, excluded: Sequence[str]) -> Tree:
    """Index ``snap`` by directory (run in a thread: sorting 100,000 paths takes a while)."""
    children: dict[str, list[Entry]] = {}
    for e in list(snap):
        if e.path:
            children.setdefault(e.parent, []).append(e)
    for entries in children.values():
        entries.sort(key=_order)
    names: dict[str, set[str]] = {}
    for raw in excluded:
        path = raw.strip()
        while path.startswith("./"):
            path = path[2:]
        path = path.strip("/")
        if not path or snap.get(path) is not None:
            continue
        parent, _, name = path.rpartition("/")
        names.setdefault(parent, set()).add(name + ("/" if raw.rstrip().endswith("/") else ""))
    return Tree(snap, children, {k: sorted(v) for k, v in names.items()})


def clean_name(name: str) -> str:
    """``name`` with control characters replaced (safe to draw in a terminal)."""
    return clean_controls(name)
