"""Resolve fsutil ``followpaths`` into include patterns, never looking outside the root.

Mirrors fsutil's FollowLinks: every path is walked component by component; each symlink
met is recorded and its target (relative targets against the link's directory, absolute
ones against the root, ``..`` clamped at the root) is walked in turn with the rest of the
path. A component with ``*``, ``?`` or ``[`` is a Go glob: matching symlinks are followed
and the glob itself is kept as a pattern. Missing paths are kept verbatim (they match
nothing). Even upstream's quirk is kept: once a symlink has been resolved, later paths
through the same link stop there.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
from collections.abc import Iterable

from tui.buildkit.fsync.errors import PathError
from tui.buildkit.fsync.patterns import dedupe_paths, go_clean, go_glob_match

__all__ = ["BeneathRoot", "go_join", "resolve_followpaths"]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# Lookups need only search permission on the directories on the way, as a path lstat.
_LOOKUP_FLAGS = (os.O_PATH if sys.platform == "linux" else os.O_RDONLY) | os.O_DIRECTORY \
    | os.O_NOFOLLOW | os.O_CLOEXEC
_MISSING = (errno.ENOENT, errno.ENOTDIR, errno.ELOOP)


def go_join(*elems: str) -> str:
    """Go's ``filepath.Join`` for '/'-separated paths."""
    joined = "/".join(e for e in elems if e)
    return go_clean(joined) if joined else ""


def _go_dir(p: str) -> str:
    idx = p.rfind("/")
    if idx < 0:
        return "."
    return go_clean(p[:idx] or "/")


def _contains_wildcards(name: str) -> bool:
    i = 0
    while i < len(name):
        ch = name[i]
        if ch == "\\":
            i += 1
        elif ch in "*?[":
            return True
        i += 1
    return False


def sort_names(names: list[str]) -> list[str]:
    """Sort names bytewise like Go (differs from ``sorted`` only for undecodable bytes)."""
    if all(n.isascii() for n in names):
        return sorted(names)
    return sorted(names, key=os.fsencode)


class BeneathRoot:
    """Lookups of relative paths inside ``root`` that never traverse a symlink."""

    def __init__(self, root: str) -> None:
        self.root = root

    def _parent_fd(self, rel: str) -> tuple[int, str] | None:
        parts = rel.split("/")
        if any(p in ("", ".", "..") for p in parts):
            return None
        fd = os.open(self.root, _LOOKUP_FLAGS)
        try:
            for comp in parts[:-1]:
                nfd = os.open(comp, _LOOKUP_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = nfd
        except OSError as exc:
            os.close(fd)
            if exc.errno in _MISSING:
                return None
            raise
        return fd, parts[-1]

    def _error(self, op: str, rel: str, exc: OSError) -> PathError:
        path = f"{self.root.rstrip('/')}/{rel}" if rel else self.root
        return PathError(op, path, exc)

    def lstat(self, rel: str) -> os.stat_result | None:
        """``lstat`` of ``rel``; ``None`` if it (or a directory on the way) is missing."""
        if rel in (".", "/", ""):
            return None
        try:
            found = self._parent_fd(rel)
        except OSError as exc:
            raise self._error("lstat", rel, exc) from exc
        if found is None:
            return None
        fd, name = found
        try:
            return os.stat(name, dir_fd=fd, follow_symlinks=False)
        except OSError as exc:
            if exc.errno in _MISSING:
                return None
            raise self._error("lstat", rel, exc) from exc
        finally:
            os.close(fd)

    def readlink(self, rel: str) -> str | None:
        """Target of the symlink ``rel`` or ``None``."""
        try:
            found = self._parent_fd(rel)
        except OSError as exc:
            raise self._error("readlink", rel, exc) from exc
        if found is None:
            return None
        fd, name = found
        try:
            return os.readlink(name, dir_fd=fd)
        except OSError as exc:
            if exc.errno in (*_MISSING, errno.EINVAL):
                return None
            raise self._error("readlink", rel, exc) from exc
        finally:
            os.close(fd)

    def listdir(self, rel: str) -> list[str] | None:
        """Names in directory ``rel`` (``"."`` is the root); ``None`` if not a directory."""
        try:
            if rel in (".", ""):
                fd = os.open(self.root, _DIR_FLAGS)
            else:
                found = self._parent_fd(rel)
                if found is None:
                    return None
                pfd, name = found
                try:
                    fd = os.open(name, _DIR_FLAGS, dir_fd=pfd)
                except OSError as exc:
                    if exc.errno in _MISSING:
                        return None
                    raise
                finally:
                    os.close(pfd)
        except OSError as exc:
            raise self._error("open", "" if rel in (".", "") else rel, exc) from exc
        try:
            return os.listdir(fd)
        finally:
            os.close(fd)


def _read_symlink(fs: BeneathRoot, p: str, allow_wildcard: bool) -> list[str]:
    base = p.rsplit("/", 1)[-1]
    if allow_wildcard and _contains_wildcards(base):
        parent = _go_dir(p)
        names = fs.listdir(parent)
        out: list[str] = []
        for name in sort_names(names or []):
            if go_glob_match(base, name):
                out.extend(_read_symlink(fs, go_join(parent, name), False))
        return out
    st = fs.lstat(p)
    if st is None or not stat.S_ISLNK(st.st_mode):
        return []
    target = fs.readlink(p)
    if target is None:
        return []
    link = go_clean(target)
    if link.startswith("/"):
        return [link]
    return [go_clean("/" + _go_dir(p) + "/" + link)]


def resolve_followpaths(root: str, paths: Iterable[str]) -> list[str] | None:
    """Include patterns for ``paths`` (sorted, deduped); ``None`` means "everything"."""
    fs = BeneathRoot(root)
    resolved: set[str] = set()
    stack = list(paths)[::-1]  # depth-first in the given order, like the Go recursion
    while stack:
        p = go_join(".", stack.pop()) or "."
        if p == ".." or p.startswith("../"):
            # Upstream would stat outside the root here; keep the path as a pattern
            # (it matches nothing) without looking at the filesystem.
            resolved.add(p)
            continue
        current = "."
        while True:
            first, _, rest = p.partition("/")
            current = go_join(current, first)
            targets = _read_symlink(fs, current, True)
            p = rest
            if (not p or targets) and current in resolved:
                break
            if targets:
                resolved.add(current)
                stack.extend(go_join(t, p) for t in reversed(targets))
                break
            if not p:
                resolved.add(current)
                break
    return dedupe_paths(sorted(resolved))
