"""Disk side of the fsutil receiver: validate incoming STATs and materialise them.

Checks what fsutil's Validator and Hardlinks check (clean relative paths, walk order,
every parent sent as a directory before its children, hardlinks to earlier files), so a
path can never leave ``dest``: parents are always directories this receiver created or
confirmed, and an existing symlink in the way is replaced, never followed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat as _stat
from dataclasses import dataclass

from tui.buildkit.fsync.entry import (
    MODE_CHAR_DEVICE,
    MODE_DEVICE,
    MODE_DIR,
    MODE_NAMED_PIPE,
    MODE_SYMLINK,
    MODE_TYPE,
    posix_mode,
)
from tui.buildkit.fsync.errors import ProtocolError
from tui.buildkit.fsync.patterns import go_clean
from tui.buildkit.proto import fsutil_types_pb2

__all__ = ["OrderValidator", "Receiver"]

_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_OPEN_FILE = os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC


class OrderValidator:
    """fsutil's Validator: clean relative paths, parents first, names sorted per dir."""

    def __init__(self) -> None:
        self._open: list[tuple[str, str]] = [("", "")]  # (dir, last child name)
        self.files: set[str] = set()  # non-dir, non-symlink entries (hardlink targets)

    def check(self, path: str, mode: int, linkname: str) -> None:
        """Raise :class:`ProtocolError` unless ``path`` may come next."""
        if not path or path == "." or go_clean(path) != path:
            raise ProtocolError(f"unclean path {path!r}")
        if path.startswith("/"):
            raise ProtocolError(f"absolute path {path!r}")
        if path == ".." or path.startswith("../"):
            raise ProtocolError(f"path escapes the destination: {path!r}")
        parent, _, base = path.rpartition("/")
        stack = self._open
        while len(stack) > 1 and stack[-1][0] != parent:
            stack.pop()
        top_dir, last = stack[-1]
        if top_dir != parent or last >= base:
            prev = f"{top_dir}/{last}" if top_dir else last
            raise ProtocolError(f"changes out of order: {path!r} {prev!r}")
        stack[-1] = (top_dir, base)
        if mode & MODE_DIR:
            stack.append((path, ""))
        elif not mode & MODE_SYMLINK:
            if linkname:
                if linkname not in self.files:
                    raise ProtocolError(f"invalid link {path} to unknown path: {linkname!r}")
            else:
                self.files.add(path)


def make_private_dirs(path: str) -> None:
    """Create ``path`` and each missing parent with mode 0700, like Go's ``MkdirAll(p, 0700)``.

    An export can hold secrets: what bxtui creates for it is private (``os.makedirs`` gives
    the parents the default mode).
    """
    missing: list[str] = []
    folder = os.path.abspath(path)
    while not os.path.isdir(folder):
        missing.append(folder)
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:
            if not os.path.isdir(folder):
                raise


@dataclass
class _Pending:
    os_path: str
    stat: fsutil_types_pb2.Stat
    fd: int = -1


class Receiver:
    """Applies STAT and DATA packets to ``dest``; ids count every STAT."""

    def __init__(self, dest: str) -> None:
        make_private_dirs(dest)
        self.dest = os.path.abspath(dest)
        self._validator = OrderValidator()
        self._next_id = 0
        self._pending: dict[int, _Pending] = {}
        self._dirs: list[tuple[str, fsutil_types_pb2.Stat]] = []
        self._listing_done = False

    @property
    def complete(self) -> bool:
        """The listing ended and every requested file was written."""
        return self._listing_done and not self._pending

    def end_of_listing(self) -> None:
        """The empty STAT arrived."""
        if self._listing_done:
            raise ProtocolError("duplicate end of listing")
        self._listing_done = True

    def stat(self, st: fsutil_types_pb2.Stat) -> int | None:
        """Create the entry; return its id when its data must be requested."""
        if self._listing_done:
            raise ProtocolError("STAT after the end of the listing")
        file_id = self._next_id
        self._next_id += 1
        mode = st.mode
        self._validator.check(st.path, mode, st.linkname)
        target = os.path.join(self.dest, st.path)
        existing = _lstat(target)
        if mode & MODE_DIR:
            if existing is None or not _stat.S_ISDIR(existing.st_mode):
                if existing is not None:
                    os.unlink(target)
                os.mkdir(target, 0o700)
            self._dirs.append((target, st))
            return None
        if existing is not None:
            if _stat.S_ISDIR(existing.st_mode):
                shutil.rmtree(target)
            else:
                os.unlink(target)
        if mode & (MODE_DEVICE | MODE_NAMED_PIPE):
            kind = _stat.S_IFIFO
            if mode & MODE_CHAR_DEVICE:
                kind = _stat.S_IFCHR
            elif mode & MODE_DEVICE:
                kind = _stat.S_IFBLK
            os.mknod(target, kind | posix_mode(mode), os.makedev(st.devmajor, st.devminor))
            _apply(target, st)
        elif mode & MODE_SYMLINK:
            os.symlink(st.linkname, target)
            _apply(target, st)
        elif st.linkname:
            os.link(os.path.join(self.dest, st.linkname), target, follow_symlinks=False)
            _apply(target, st)
        else:
            os.close(os.open(target, _NEW_FILE, 0o600))
            if mode & MODE_TYPE:  # irregular types: nothing to request
                _apply(target, st)
                return None
            self._pending[file_id] = _Pending(target, st)
            return file_id
        return None

    def data(self, file_id: int, chunk: bytes) -> None:
        """Write one DATA chunk; an empty chunk ends the file and sets its metadata."""
        pending = self._pending.get(file_id)
        if pending is None:
            raise ProtocolError(f"invalid file request {file_id}")
        if chunk:
            if pending.fd < 0:
                pending.fd = os.open(pending.os_path, _OPEN_FILE)
            view = memoryview(chunk)
            while view:
                view = view[os.write(pending.fd, view) :]
            return
        del self._pending[file_id]
        if pending.fd >= 0:
            fd, pending.fd = pending.fd, -1
            try:
                _apply(fd, pending.stat)
            finally:
                os.close(fd)
        else:
            _apply(pending.os_path, pending.stat)

    def finish(self) -> None:
        """Set directory modes and mtimes, deepest first (after all their children)."""
        for target, st in reversed(self._dirs):
            _apply(target, st)

    def close(self) -> None:
        """Release files left open by an aborted transfer."""
        for pending in self._pending.values():
            if pending.fd >= 0:
                os.close(pending.fd)
                pending.fd = -1


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def _apply(target: str | int, st: fsutil_types_pb2.Stat) -> None:
    """Set xattrs (errors ignored, as fsutil), mode (not for symlinks), then the mtime.

    ``target`` is a path (never followed if it is a symlink) or an open file descriptor.
    """
    by_path = isinstance(target, str)
    for key, value in st.xattrs.items():
        with contextlib.suppress(OSError):
            if by_path:
                os.setxattr(target, key, value, follow_symlinks=False)
            else:
                os.setxattr(target, key, value)
    if not st.mode & MODE_SYMLINK:
        os.chmod(target, posix_mode(st.mode))
    ns = (st.modTime, st.modTime)
    if by_path:
        os.utime(target, ns=ns, follow_symlinks=False)
    else:
        os.utime(target, ns=ns)
