"""Filesystem snapshots of build states and the differences between two of them.

A :class:`Snapshot` is read from the output of the lister run in a helper container
(:data:`LISTER_FORMAT`, one line per path); :func:`diff_snapshots` compares two, e.g. the
failed step's initial and final root.  Pure data: no I/O here.
"""

from __future__ import annotations

import stat as st
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from tui.debug.model.copyspec import CopyReport

#: ``stat -c`` format of the lister: raw mode (hex), uid, gid, size, mtime (ns text),
#: path, and the quoted name with its link target (``'a' -> 'b'``), tab-separated.
LISTER_FORMAT = "%f\t%u\t%g\t%s\t%y\t%n\t%N"

_KINDS = {
    st.S_IFDIR: "dir", st.S_IFREG: "file", st.S_IFLNK: "link", st.S_IFCHR: "char",
    st.S_IFBLK: "block", st.S_IFIFO: "fifo", st.S_IFSOCK: "socket",
}
_TYPE_CHAR = {"dir": "d", "file": "-", "link": "l", "char": "c", "block": "b", "fifo": "p",
              "socket": "s"}


@dataclass(frozen=True, slots=True)
class Entry:
    """One path of a state: ``path`` is relative to the state's root ("" is the root)."""

    path: str
    kind: str
    mode: int
    uid: int
    gid: int
    size: int
    mtime_ns: int
    link: str = ""

    @property
    def name(self) -> str:
        """The last path component ("/" for the root)."""
        return self.path.rsplit("/", 1)[-1] if self.path else "/"

    @property
    def parent(self) -> str:
        """The parent directory's path ("" for top-level entries and the root)."""
        return self.path.rsplit("/", 1)[0] if "/" in self.path else ""

    @property
    def is_dir(self) -> bool:
        """Whether this is a directory."""
        return self.kind == "dir"

    def mode_string(self) -> str:
        """``ls -l`` style mode, e.g. ``drwxr-xr-x``."""
        return _TYPE_CHAR.get(self.kind, "?") + st.filemode(self.mode)[1:]


_SECONDS: dict[str, int] = {}


def _epoch_seconds(stamp: str) -> int:
    """Seconds since the epoch of ``2026-12-03 13:01:11 +0000`` (cached: files share them)."""
    secs = _SECONDS.get(stamp)
    if secs is None:
        secs = int(datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S %z").timestamp())
        if len(_SECONDS) < 100_000:
            _SECONDS[stamp] = secs
    return secs


def parse_mtime(text: str) -> int:
    """Nanoseconds since the epoch from ``2026-12-03 13:01:11.103362782 +0000``."""
    date, _, rest = text.partition(".")
    frac, _, zone = rest.partition(" ")
    secs = _epoch_seconds(f"{date} {zone or '+0000'}")
    return secs * 1_000_000_000 + int((frac or "0").ljust(9, "0")[:9])


def _link_target(name: str, quoted: str) -> str:
    prefix = f"'{name}' -> '"
    if quoted.startswith(prefix) and quoted.endswith("'"):
        return quoted[len(prefix):-1]
    _head, sep, tail = quoted.partition(" -> ")
    return tail.strip("'") if sep else ""


def parse_line(line: str) -> Entry | None:
    """One lister line as an Entry (None for a line that cannot be read)."""
    parts = line.split("\t", 6)
    if len(parts) < 7:
        return None
    raw_mode, uid, gid, size, mtime, name, quoted = parts
    try:
        mode = int(raw_mode, 16)
        entry_kind = _KINDS.get(mode & 0o170000, "other")
        path = name[2:] if name.startswith("./") else ("" if name == "." else name)
        return Entry(path, entry_kind, mode & 0o7777, int(uid), int(gid), int(size),
                     parse_mtime(mtime),
                     _link_target(name, quoted) if entry_kind == "link" else "")
    except ValueError:
        return None


class Snapshot:
    """All paths of one state, with a per-directory index of children."""

    def __init__(self, entries: Iterable[Entry] = ()) -> None:
        self.entries: dict[str, Entry] = {}
        self._children: dict[str, list[str]] = {}
        self._sorted: set[str] = set()
        for e in entries:
            self.add(e)

    @classmethod
    def parse(cls, text: bytes | str) -> Snapshot:
        """A snapshot from the lister's whole output (unreadable lines are skipped)."""
        if isinstance(text, bytes):
            text = text.decode("utf-8", "surrogateescape")
        snap = cls()
        for line in text.splitlines():
            entry = parse_line(line)
            if entry is not None:
                snap.add(entry)
        return snap

    def add(self, entry: Entry) -> None:
        """Add (or replace) one path."""
        if entry.path not in self.entries and entry.path:
            self._children.setdefault(entry.parent, []).append(entry.path)
            self._sorted.discard(entry.parent)
        self.entries[entry.path] = entry

    def get(self, path: str) -> Entry | None:
        """The entry at ``path`` ("" or "/" for the root)."""
        return self.entries.get(path.strip("/"))

    def children(self, path: str = "") -> list[Entry]:
        """Entries directly under ``path``: directories first, then by name."""
        key = path.strip("/")
        names = self._children.get(key, [])
        if key not in self._sorted:
            names.sort(key=lambda p: (not self.entries[p].is_dir, p))
            self._sorted.add(key)
        return [self.entries[p] for p in names]

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries.values())

    @property
    def total_bytes(self) -> int:
        """Sum of regular files' sizes."""
        return sum(e.size for e in self.entries.values() if e.kind == "file")


ADDED = "added"
REMOVED = "removed"
CHANGED = "changed"


@dataclass(frozen=True, slots=True)
class Change:
    """One path that differs; ``what`` lists aspects for a change (content, mode, ...)."""

    path: str
    status: str
    what: tuple[str, ...]
    before: Entry | None
    after: Entry | None

    @property
    def entry(self) -> Entry:
        """The entry that exists after the step, else the one before."""
        e = self.after or self.before
        assert e is not None
        return e


@dataclass
class FsDiff:
    """Differences of one mount between two states, sorted by path."""

    label: str
    changes: list[Change] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Number of added, removed and changed paths."""
        out = {ADDED: 0, REMOVED: 0, CHANGED: 0}
        for c in self.changes:
            out[c.status] += 1
        return out

    def get(self, path: str) -> Change | None:
        """The change at ``path``, if any."""
        for c in self.changes:
            if c.path == path:
                return c
        return None


def _aspects(a: Entry, b: Entry, same_content: bool | None) -> tuple[str, ...]:
    what: list[str] = []
    if a.kind != b.kind:
        return ("type",)
    if a.kind == "file" and (a.size != b.size or same_content is False):
        what.append("content")
    if a.mode != b.mode:
        what.append("mode")
    if (a.uid, a.gid) != (b.uid, b.gid):
        what.append("owner")
    if a.kind == "link" and a.link != b.link:
        what.append("link")
    return tuple(what)


def content_candidates(before: Snapshot, after: Snapshot) -> list[str]:
    """Regular files present in both with equal size but another mtime: compare their bytes."""
    out = []
    for path, b in after.entries.items():
        a = before.entries.get(path)
        if (a is not None and a.kind == b.kind == "file" and a.size == b.size
                and a.mtime_ns != b.mtime_ns):
            out.append(path)
    return out


def diff_snapshots(before: Snapshot, after: Snapshot, label: str = "/",
                   same: dict[str, bool] | None = None) -> FsDiff:
    """What changed from ``before`` to ``after``.

    A file of equal size and mtime is taken as unchanged (as git's stat check); for the
    :func:`content_candidates` ``same`` tells whether their bytes are equal (missing: the
    file counts as changed).  Directory mtimes and sizes are ignored.
    """
    same = same or {}
    changes: list[Change] = []
    for path, a in before.entries.items():
        if not path:
            continue
        b = after.entries.get(path)
        if b is None:
            changes.append(Change(path, REMOVED, (), a, None))
            continue
        verdict: bool | None = None
        if a.kind == b.kind == "file" and a.size == b.size and a.mtime_ns != b.mtime_ns:
            verdict = same.get(path, False)
        what = _aspects(a, b, verdict)
        if what:
            changes.append(Change(path, CHANGED, what, a, b))
    for path, b in after.entries.items():
        if path and path not in before.entries:
            changes.append(Change(path, ADDED, (), None, b))
    changes.sort(key=lambda c: c.path)
    return FsDiff(label, changes)


def format_stat(diffs: Iterable[FsDiff]) -> str:
    """Text for the headless ``--diff``: one line per path, then a summary per mount."""
    lines: list[str] = []
    for d in diffs:
        counts = d.counts()
        lines.append(f"--- {d.label}: {counts[ADDED]} added, {counts[REMOVED]} removed, "
                     f"{counts[CHANGED]} changed")
        for c in d.changes:
            mark = {ADDED: "A", REMOVED: "D", CHANGED: "M"}[c.status]
            e = c.entry
            path = "/" + c.path + ("/" if e.is_dir else "")
            detail = describe_change(c)
            lines.append(f" {mark} {path}" + (f"  ({detail})" if detail else ""))
    return "\n".join(lines) + ("\n" if lines else "")


def describe_change(c: Change) -> str:
    """What changed in words (``mode -rw-r--r-- -> -rwxr-xr-x, content``).

    An added path gets its size or link target; a removed one "".
    """
    if c.status == ADDED:
        return _describe(c.entry)
    a, b = c.before, c.after
    if c.status == REMOVED or a is None or b is None:
        return ""
    parts = []
    for what in c.what:
        if what == "content":
            parts.append(f"content {a.size} -> {b.size} bytes" if a.size != b.size
                         else "content")
        elif what == "mode":
            parts.append(f"mode {a.mode_string()} -> {b.mode_string()}")
        elif what == "owner":
            parts.append(f"owner {a.uid}:{a.gid} -> {b.uid}:{b.gid}")
        elif what == "link":
            parts.append(f"link {a.link} -> {b.link}")
        elif what == "type":
            parts.append(f"type {a.kind} -> {b.kind}")
        else:
            parts.append(what)
    return ", ".join(parts)


def _describe(e: Entry) -> str:
    if e.kind == "file":
        return f"{e.size} bytes"
    if e.kind == "link":
        return f"-> {e.link}"
    return e.kind


def is_text(data: bytes) -> bool:
    """Whether ``data`` looks like text (no NUL byte, decodes as UTF-8 allowing a cut tail)."""
    if b"\0" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(data) - 3
    return True


def unified_diff(path: str, before: bytes | None, after: bytes | None,
                 context: int = 3) -> list[str] | None:
    """``diff -u`` lines for one file (None when either side is not text)."""
    import difflib  # only when a diff is asked for: keeps start-up light

    old = before or b""
    new = after or b""
    if not (is_text(old) and is_text(new)):
        return None
    a = old.decode("utf-8", "replace").splitlines()
    b = new.decode("utf-8", "replace").splitlines()
    name = "/" + path.strip("/")
    return list(difflib.unified_diff(
        a, b, fromfile=("a" + name) if before is not None else "/dev/null",
        tofile=("b" + name) if after is not None else "/dev/null", n=context, lineterm=""))


class StateFiles(Protocol):
    """A browsable state: its snapshot and ranged reads of its files (for the file browser)."""

    label: str

    @property
    def excluded(self) -> Sequence[str]:
        """Paths the state lacks because the build context did not send them (.dockerignore)."""
        ...

    @property
    def note(self) -> str:
        """One line about the state to show above its files ("" for none)."""
        ...

    async def snapshot(self) -> Snapshot:
        """Every path of the state (walked once, then kept)."""
        ...

    async def read(self, path: str, offset: int = 0, length: int = 65536) -> bytes:
        """Up to ``length`` bytes of the file at ``path`` from ``offset``."""
        ...

    async def copy_out(self, path: str, dest: str, overwrite: bool = False) -> CopyReport:
        """Copy ``path`` (absolute in the state) to the host path ``dest``; one-line errors."""
        ...


class DiffSource(Protocol):
    """The failed step's differences (for the diff pane)."""

    async def diffs(self) -> list[FsDiff]:
        """One FsDiff per writable mount, the root first."""
        ...

    async def unified(self, label: str, path: str) -> list[str] | None:
        """``diff -u`` lines of one changed file of the mount ``label`` (None: not text)."""
        ...
