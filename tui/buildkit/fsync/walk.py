"""Walk a local directory exactly like fsutil's sender (FilterFS over the host FS).

Order: depth-first pre-order, the entries of each directory sorted bytewise by name, root
not emitted, paths relative and '/'-separated. Symlinks are reported, never followed; the
walk opens every directory with ``O_NOFOLLOW`` and checks it is the inode seen in its
parent, so nothing outside the root is ever listed, stat'ed or read.
"""

from __future__ import annotations

import errno
import os
import stat as _stat
import threading
from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Final

from tui.buildkit.fsync.entry import (
    MODE_DIR,
    MODE_IRREGULAR,
    MODE_PERM,
    MODE_SOCKET,
    MODE_SYMLINK,
    NO_XATTRS,
    TYPE_BITS,
    Entry,
    special_bits,
)
from tui.buildkit.fsync.errors import PathError
from tui.buildkit.fsync.followpaths import resolve_followpaths, sort_names
from tui.buildkit.fsync.opener import DIR_FLAGS, RootFd
from tui.buildkit.fsync.patterns import MatchInfo, PatternError, PatternMatcher, dedupe_paths

__all__ = ["Filter", "WalkStopped", "open_filter", "walk", "walk_filter"]

_GONE: Final = (errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.EXDEV)
_PROC_FD: Final = os.path.isdir("/proc/self/fd")
_PATH_MAX: Final = 4096


class WalkStopped(Exception):
    """The walk's ``stop`` event was set (see :func:`walk_filter`)."""


class Filter:
    """The include/exclude matchers of one walk, built like fsutil's NewFilterFS.

    Bad patterns raise :class:`PatternError` worded as fsutil words them
    (``invalid excludepatterns: [!]: illegal exclusion pattern: "!"``); resolving
    followpaths may raise :class:`OSError`.
    """

    __slots__ = ("exclude", "include", "root")

    def __init__(
        self,
        root: str,
        include_patterns: Iterable[str] = (),
        exclude_patterns: Iterable[str] = (),
        followpaths: Iterable[str] = (),
    ) -> None:
        self.root = root
        includes: list[str] | None = list(include_patterns)
        follow = list(followpaths)
        if follow:
            targets = resolve_followpaths(root, follow)
            if targets is not None:  # None: a followpath resolved to the root itself
                includes = dedupe_paths([*(includes or []), *targets])
        excludes = list(exclude_patterns)
        self.include = _matcher("include", includes) if includes else None
        self.exclude = _matcher("exclude", excludes) if excludes else None

    @property
    def active(self) -> bool:
        """Whether any matching is needed at all."""
        return self.include is not None or self.exclude is not None


def _matcher(kind: str, patterns: list[str]) -> PatternMatcher:
    try:
        return PatternMatcher(patterns)
    except PatternError as exc:
        # Go's "%s" of a []string: the patterns between brackets, separated by spaces.
        raise PatternError(f"invalid {kind}patterns: [{' '.join(patterns)}]: {exc}",
                           exc.reason) from None


def _matches(
    kind: str, matcher: PatternMatcher, rel: str, parent: MatchInfo | None
) -> tuple[bool, MatchInfo]:
    try:
        return matcher.matches_with_parent(rel, parent)
    except PatternError as exc:
        raise PatternError(f"failed to match {kind}patterns: {exc}", exc.reason) from None


class _Item:
    """A directory child that survived filtering (emitted, or a directory to walk)."""

    __slots__ = ("entry", "exc", "inc", "is_dir", "nlink", "skip")

    def __init__(
        self,
        entry: Entry,
        nlink: int,
        skip: bool,
        inc: MatchInfo | None,
        exc: MatchInfo | None,
    ) -> None:
        self.entry = entry
        self.nlink = nlink
        self.is_dir = entry.is_dir
        self.skip = skip
        self.inc = inc
        self.exc = exc


class _Frame:
    """A directory on the walk stack."""

    __slots__ = ("emitted", "entry", "exc", "idx", "inc", "items")

    def __init__(self, item: _Item | None, items: list[_Item]) -> None:
        self.items = items
        self.idx = 0
        self.entry = item.entry if item else None
        self.inc = item.inc if item else None
        self.exc = item.exc if item else None
        self.emitted = item is None or not item.skip


class _Walker:
    def __init__(self, flt: Filter, stop: threading.Event) -> None:
        self.root = flt.root
        self.stop = stop
        self.root_fd: RootFd | None = None
        self.include = flt.include
        self.exclude = flt.exclude
        self.filtered = flt.active
        self.no_xattr_devs: set[int] = set()

    def _xattrs(self, fd: int, name: str, os_path: str, dev: int) -> Mapping[str, bytes]:
        target = f"/proc/self/fd/{fd}/{name}" if _PROC_FD else os_path
        try:
            keys = os.listxattr(target, follow_symlinks=False)
        except OSError as exc:
            if exc.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
                self.no_xattr_devs.add(dev)
                return NO_XATTRS
            raise PathError("failed to xattr", os_path, exc) from exc  # fsutil's wording
        if not keys:
            return NO_XATTRS
        out: dict[str, bytes] = {}
        for key in keys:
            if key.startswith("com.apple."):
                continue
            try:
                out[key] = os.getxattr(target, key, follow_symlinks=False)
            except OSError:
                continue
        return MappingProxyType(out) if out else NO_XATTRS

    def _entry(self, fd: int, de: os.DirEntry[str], rel: str, os_path: str) -> _Item:
        try:
            if len(os.fsencode(os_path)) >= _PATH_MAX:
                # fsutil lstats the absolute path: the kernel refuses it (we would not).
                raise OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG))
            st = de.stat(follow_symlinks=False)
        except OSError as exc:
            raise PathError("lstat", os_path, exc) from exc
        m = st.st_mode
        fmt = m & 0o170000
        mode = m & MODE_PERM
        if fmt != _stat.S_IFREG:
            # fsutil clears the socket bit: sockets travel as (empty) regular files.
            mode |= TYPE_BITS.get(fmt, MODE_IRREGULAR) & ~MODE_SOCKET
        if m & 0o7000:
            mode |= special_bits(m)
        is_dir = fmt == _stat.S_IFDIR
        rdev = 0 if is_dir else st.st_rdev
        dev = st.st_dev
        entry = Entry(
            rel,
            mode,
            st.st_uid,
            st.st_gid,
            0 if is_dir else st.st_size,
            st.st_mtime_ns,
            _readlink(fd, de.name, os_path) if fmt == _stat.S_IFLNK else "",
            # fsutil's (old-style) major/minor split of st_rdev.
            (rdev >> 8) & 0xFFF,
            (rdev & 0xFF) | ((rdev >> 12) & 0xFFF00),
            NO_XATTRS if dev in self.no_xattr_devs else self._xattrs(fd, de.name, os_path, dev),
            os_path,
            dev,
            st.st_ino,
        )
        return _Item(entry, st.st_nlink, False, None, None)

    def _decide(
        self, rel: str, is_dir: bool, parent: _Frame
    ) -> tuple[bool, bool, MatchInfo | None, MatchInfo | None]:
        """(keep, skip, include info, exclude info) as fsutil's filterFS.Walk decides."""
        skip = False
        inc_info = exc_info = None
        include, exclude = self.include, self.exclude
        if include is not None:
            m, inc_info = _matches("include", include, rel, parent.inc)
            if not m:
                if is_dir and not include.could_include_below(rel):
                    return False, True, None, None
                skip = True
        if exclude is not None:
            m, exc_info = _matches("exclude", exclude, rel, parent.exc)
            if m:
                if is_dir and not exclude.could_except_below(rel):
                    return False, True, None, None
                skip = True
        return True, skip, inc_info, exc_info

    def scan(self, os_dir: str, prefix: str, ident: tuple[int, int], frame: _Frame) -> list[_Item]:
        """The surviving children of ``frame``'s directory, in walk order."""
        try:
            if prefix and self.root_fd is not None:
                fd = self.root_fd.open(prefix[:-1], os_dir, DIR_FLAGS)
            else:
                fd = os.open(os_dir, DIR_FLAGS)
        except OSError as exc:
            if exc.errno in _GONE:
                return []  # vanished, or replaced by a symlink: never follow it
            if exc.errno == errno.EACCES and not frame.emitted:
                return []  # fsutil ignores permission errors on filtered-out dirs
            raise PathError("open", os_dir, exc) from exc
        try:
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) != ident:
                return []
            try:
                with os.scandir(fd) as it:
                    children = {de.name: de for de in it}
            except OSError as exc:
                raise PathError("readdirent", os_dir, exc) from exc
            items: list[_Item] = []
            for name in sort_names(list(children)):
                if self.stop.is_set():
                    raise WalkStopped
                de = children[name]
                rel = prefix + name
                try:
                    is_dir = de.is_dir(follow_symlinks=False)
                except OSError:
                    is_dir = False
                skip, inc, exc_ = False, None, None
                if self.filtered:
                    keep, skip, inc, exc_ = self._decide(rel, is_dir, frame)
                    if not keep or (skip and not is_dir):
                        continue
                try:
                    item = self._entry(fd, de, rel, f"{os_dir}/{name}")
                except OSError as exc:
                    if exc.errno in _GONE:
                        continue
                    raise
                if item.is_dir != is_dir:
                    continue  # changed type since readdir: skip rather than guess
                item.skip, item.inc, item.exc = skip, inc, exc_
                items.append(item)
            return items
        finally:
            os.close(fd)

    def run(self) -> Iterator[Entry]:
        self.root_fd = RootFd(self.root)
        try:
            yield from self._run()
        finally:
            self.root_fd.close()

    def _run(self) -> Iterator[Entry]:
        st = os.fstat(self.root_fd.fd) if self.root_fd else os.stat(self.root)
        top = _Frame(None, [])
        top.items = self.scan(self.root, "", (st.st_dev, st.st_ino), top)
        stack = [top]
        seen: dict[tuple[int, int], str] = {}
        unemitted = 0  # frames on the stack whose directory was not sent yet
        while stack:
            frame = stack[-1]
            if frame.idx >= len(frame.items):
                stack.pop()
                unemitted -= not frame.emitted
                continue
            item = frame.items[frame.idx]
            frame.idx += 1
            entry = item.entry
            if not item.skip:
                if unemitted:  # parents that did not match go out right before a child
                    for anc in stack:
                        if not anc.emitted and anc.entry is not None:
                            anc.emitted = True
                            yield anc.entry
                    unemitted = 0
                if item.nlink > 1 and not entry.mode & (MODE_DIR | MODE_SYMLINK):
                    key = (entry.dev, entry.ino)
                    first = seen.get(key)
                    if first is None:
                        seen[key] = entry.path
                    else:
                        entry = _relink(entry, first)
                yield entry
            if item.is_dir:
                child = _Frame(item, [])
                ident = (entry.dev, entry.ino)
                child.items = self.scan(entry.os_path, entry.path + "/", ident, child)
                if child.items:
                    stack.append(child)
                    unemitted += not child.emitted


def _readlink(fd: int, name: str, os_path: str) -> str:
    try:
        return os.readlink(name, dir_fd=fd)
    except OSError as exc:
        raise PathError("readlink", os_path, exc) from exc


def _relink(entry: Entry, first: str) -> Entry:
    """The hardlink form of ``entry``: ``linkname`` = first path (size kept, as fsutil)."""
    return Entry(
        path=entry.path,
        mode=entry.mode,
        uid=entry.uid,
        gid=entry.gid,
        size=entry.size,
        mod_time_ns=entry.mod_time_ns,
        linkname=first,
        devmajor=entry.devmajor,
        devminor=entry.devminor,
        xattrs=entry.xattrs,
        os_path=entry.os_path,
        dev=entry.dev,
        ino=entry.ino,
    )


def open_filter(
    root: str,
    include_patterns: Iterable[str] = (),
    exclude_patterns: Iterable[str] = (),
    followpaths: Iterable[str] = (),
) -> Filter:
    """The :class:`Filter` of a walk of ``root``: patterns compiled, followpaths resolved.

    Raises what fsutil refuses before sending anything: :class:`PatternError` for a bad
    pattern, :class:`OSError` for a root that is not a directory or a followpath that
    cannot be resolved.
    """
    real = os.path.realpath(root)
    if not _stat.S_ISDIR(os.stat(real).st_mode):
        raise NotADirectoryError(errno.ENOTDIR, "not a directory", root)
    return Filter(real, include_patterns, exclude_patterns, followpaths)


def walk_filter(flt: Filter, stop: threading.Event | None = None) -> Iterator[Entry]:
    """Entries under ``flt.root`` in fsutil's order, as ``flt`` lets them through.

    Filesystem errors, and :class:`PatternError` for a regexp pattern Go refuses (Go
    compiles each when first evaluated), surface while iterating. Once ``stop`` is set,
    the walk raises :class:`WalkStopped` at its next entry: a thread walking a huge
    directory for a consumer that is gone is released at once.
    """
    return _Walker(flt, stop or threading.Event()).run()


def walk(
    root: str,
    include_patterns: Iterable[str] = (),
    exclude_patterns: Iterable[str] = (),
    followpaths: Iterable[str] = (),
) -> Iterator[Entry]:
    """Entries under ``root`` in fsutil's order with its include/exclude/followpaths rules.

    Patterns are compiled (and followpaths resolved) before returning, as by
    :func:`open_filter`; see :func:`walk_filter` for the errors while iterating.
    """
    return walk_filter(open_filter(root, include_patterns, exclude_patterns, followpaths))
