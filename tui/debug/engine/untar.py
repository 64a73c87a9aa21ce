"""Write a tar stream of one state path onto the host, safely (blocking: run it in a thread).

The stream holds one top entry (a file, a link or a directory tree).  It is written under a
new private directory and renamed into place only when complete, so a failure leaves
nothing behind.  Rules: every entry must lie under the top one (no absolute names, no
``..``); an entry's parent must be a directory this writer created (so nothing is ever
written through a link); links are recreated verbatim and never followed; hard links must
point at a file of the same stream; devices, fifos and sockets are skipped (counted).
Permission bits and the sticky bit are kept (set-user/group-id are dropped), and
modification times; owners are not (the host user owns the copy).
"""

from __future__ import annotations

import contextlib
import io
import os
import posixpath
import queue
import shutil
import tarfile
import tempfile
from collections.abc import Callable

from tui.buildkit.fsync.receiver import make_private_dirs
from tui.debug.model.copyspec import CopyReport

__all__ = ["ChunkPipe", "CopyReport", "UntarError", "write_tree"]

_MODE_KEPT = 0o1777
_BUF = 1 << 20


class UntarError(RuntimeError):
    """The stream cannot be written where asked (one line)."""


class ChunkPipe(io.RawIOBase):
    """A readable stream fed with chunks from another thread (``feed``/``end``).

    ``on_read(queued)`` is called in the reading thread after each read.
    """

    def __init__(self, on_read: Callable[[int], None] | None = None) -> None:
        super().__init__()
        self._on_read = on_read
        self._q: queue.Queue[bytes | None] = queue.Queue()
        self._buf = b""
        self._eof = False
        self.queued = 0  # bytes fed and not yet read (for the feeder's flow control)

    def feed(self, data: bytes) -> None:
        """Add a chunk (from any thread)."""
        self.queued += len(data)
        self._q.put(data)

    def end(self) -> None:
        """No more chunks."""
        self._q.put(None)

    def readable(self) -> bool:
        """Always."""
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        """Blocks until a chunk (or the end) arrives."""
        while not self._buf and not self._eof:
            chunk = self._q.get()
            if chunk is None:
                self._eof = True
            else:
                self._buf = chunk
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        self.queued -= n
        if self._on_read is not None:
            self._on_read(self.queued)
        return n


def write_tree(stream: io.RawIOBase, top: str, dest: str, overwrite: bool,
               commit: Callable[[], bool] = lambda: True) -> CopyReport:
    """Write the tar ``stream`` whose top entry is named ``top`` to the host path ``dest``.

    Missing parents of ``dest`` are created private (0700).  An existing ``dest`` is
    refused unless ``overwrite`` (then it is replaced once the copy is complete).  Once the
    stream is written, ``commit()`` (it may block) says whether to put it in place; if not,
    or on any error, nothing is left behind.
    """
    dest = os.path.abspath(dest)
    if os.path.lexists(dest) and not overwrite:
        raise UntarError(f"{dest} already exists (not overwritten)")
    parent = os.path.dirname(dest)
    try:
        make_private_dirs(parent)
        work = tempfile.mkdtemp(prefix=".bxtui-copy-", dir=parent)
    except OSError as exc:
        raise UntarError(f"cannot create {parent}: {exc.strerror or exc}") from None
    try:
        report = _extract(stream, top, os.path.join(work, "t"))
        report.dest = dest
        if not commit():
            raise UntarError("the copy was abandoned")
        _place(os.path.join(work, "t"), dest, overwrite)
        return report
    finally:
        _remove_tree(work)


def _remove_tree(path: str) -> None:
    """Remove a tree even where its directories are read-only (never following links)."""
    for folder, dirs, _ in os.walk(path):
        for d in dirs:
            full = os.path.join(folder, d)
            if not os.path.islink(full):
                with contextlib.suppress(OSError):
                    os.chmod(full, 0o700)
    shutil.rmtree(path, ignore_errors=True)


def _place(src: str, dest: str, overwrite: bool) -> None:
    try:
        if os.path.lexists(dest):
            if not overwrite:
                raise UntarError(f"{dest} already exists (not overwritten)")
            if os.path.isdir(dest) and not os.path.islink(dest):
                _remove_tree(dest)
            else:
                os.unlink(dest)
        os.rename(src, dest)
    except OSError as exc:
        raise UntarError(f"cannot write {dest}: {exc.strerror or exc}") from None


def _extract(stream: io.RawIOBase, top: str, root: str) -> CopyReport:
    report = CopyReport(root)
    created: set[str] = {os.path.dirname(root)}
    dir_modes: list[tuple[str, int, float]] = []
    files: dict[str, str] = {}
    seen_top = False
    try:
        with tarfile.open(fileobj=io.BufferedReader(stream, _BUF), mode="r|") as tar:
            for member in tar:
                rel = _relative(member.name, top)
                target = root if not rel else os.path.join(root, rel)
                if os.path.dirname(target) not in created:
                    raise UntarError(f"{member.name}: its directory is not part of the copy")
                if rel == "":
                    seen_top = True
                _write_member(tar, member, target, report, created, dir_modes, files, root)
    except tarfile.TarError as exc:
        raise UntarError(f"the state's archive is damaged: {exc}") from None
    except OSError as exc:
        raise UntarError(f"cannot write {exc.filename or 'the copy'}: "
                         f"{exc.strerror or exc}") from None
    if not seen_top:
        raise UntarError("the state sent nothing to copy")
    for path, mode, mtime in reversed(dir_modes):  # children first: read-only dirs last
        os.chmod(path, mode)
        os.utime(path, (mtime, mtime))
    return report


def _relative(name: str, top: str) -> str:
    """``name`` relative to the top entry ("" for it); UntarError when outside."""
    norm = posixpath.normpath(name)
    if name.startswith("/") or ".." in name.split("/"):
        raise UntarError(f"{name}: the archive names a path outside the copy")
    if norm == top:
        return ""
    if top == ".":
        return norm
    if not norm.startswith(top + "/"):
        raise UntarError(f"{name}: the archive names a path outside the copy")
    return norm[len(top) + 1:]


def _write_member(tar: tarfile.TarFile, m: tarfile.TarInfo, target: str, report: CopyReport,
                  created: set[str], dir_modes: list[tuple[str, int, float]],
                  files: dict[str, str], root: str) -> None:
    mode = m.mode & _MODE_KEPT
    if m.isdir():
        os.mkdir(target, 0o700)
        created.add(target)
        dir_modes.append((target, mode, float(m.mtime)))
        report.dirs += 1
    elif m.isreg():
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as out:
            src = tar.extractfile(m)
            if src is not None:
                shutil.copyfileobj(src, out, _BUF)
            out.flush()
            os.fchmod(out.fileno(), mode)
            os.utime(out.fileno(), (m.mtime, m.mtime))
        files[posixpath.normpath(m.name)] = target
        report.files += 1
        report.bytes += m.size
    elif m.issym():
        os.symlink(m.linkname, target)
        with contextlib.suppress(OSError, NotImplementedError):
            os.utime(target, (m.mtime, m.mtime), follow_symlinks=False)
        report.links += 1
    elif m.islnk():
        source = files.get(posixpath.normpath(m.linkname))
        if source is None:
            raise UntarError(f"{m.name}: a hard link to {m.linkname}, outside the copy")
        os.link(source, target, follow_symlinks=False)
        report.files += 1
    else:
        report.skipped.append("/" + os.path.relpath(target, root).removeprefix("."))
