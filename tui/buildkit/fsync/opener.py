"""Open walked files for reading without ever resolving a path outside the root."""

from __future__ import annotations

import errno
import functools
import os
import stat as _stat
import sys
from typing import TYPE_CHECKING, Any, Final

from tui.buildkit.fsync.entry import Entry
from tui.buildkit.fsync.errors import PathError

if TYPE_CHECKING:
    import ctypes

__all__ = ["DIR_FLAGS", "FILE_FLAGS", "FileOpener", "RootFd"]

DIR_FLAGS: Final = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
FILE_FLAGS: Final = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


_SYS_OPENAT2: Final = 437  # same number on every Linux architecture that has it
_RESOLVE_NO_SYMLINKS: Final = 0x04
_RESOLVE_BENEATH: Final = 0x08


@functools.cache
def _libc() -> tuple[ctypes.CDLL, Any] | None:
    """Libc's ``syscall`` and the ``open_how`` struct type, loaded on first use (or None)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    class OpenHow(ctypes.Structure):
        _fields_ = (
            ("flags", ctypes.c_uint64),
            ("mode", ctypes.c_uint64),
            ("resolve", ctypes.c_uint64),
        )

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
    except (OSError, AttributeError):
        return None
    return libc, OpenHow


class RootFd:
    """A descriptor of ``root`` to open paths below it without following any symlink.

    Uses Linux ``openat2`` with ``RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS``, so neither a
    final nor an intermediate symlink is ever resolved. Where the kernel (or a seccomp
    filter) lacks it, falls back to an ``O_NOFOLLOW`` open of the absolute path, which
    only protects the last component; callers then check the inode they get.
    """

    def __init__(self, root: str) -> None:
        real = os.path.realpath(root)
        try:
            self.fd = os.open(real, DIR_FLAGS)
        except OSError as exc:
            raise PathError("open", real, exc) from exc
        self.beneath = _libc() is not None

    def close(self) -> None:
        """Release the descriptor."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def _openat2(self, rel: str, flags: int) -> int:
        import ctypes

        loaded = _libc()
        assert loaded is not None
        libc, open_how = loaded
        how = open_how(flags, 0, _RESOLVE_BENEATH | _RESOLVE_NO_SYMLINKS)
        fd = int(
            libc.syscall(
                ctypes.c_long(_SYS_OPENAT2),
                ctypes.c_int(self.fd),
                ctypes.c_char_p(os.fsencode(rel)),
                ctypes.byref(how),
                ctypes.c_size_t(ctypes.sizeof(how)),
            )
        )
        if fd >= 0:
            return fd
        err = ctypes.get_errno()
        if err in (errno.ENOSYS, errno.EPERM):  # not offered: fall back for good
            self.beneath = False
            return -1
        raise OSError(err, os.strerror(err), rel)

    def open(self, rel: str, os_path: str, flags: int) -> int:
        """Open ``rel`` (whose absolute form is ``os_path``) below the root."""
        fd = self._openat2(rel, flags) if self.beneath else -1
        return fd if fd >= 0 else os.open(os_path, flags)


class FileOpener:
    """Opens walked regular files for reading without ever leaving ``root``.

    The opened file must also be the very inode the walk reported, else
    :class:`OSError` (``ESTALE``): a path swapped after the walk is never read.
    """

    def __init__(self, root: str) -> None:
        self.root = RootFd(root)

    def close(self) -> None:
        """Release the root descriptor."""
        self.root.close()

    def __enter__(self) -> FileOpener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self, entry: Entry) -> int:
        """A read-only descriptor of ``entry``'s data (the caller closes it)."""
        fd = self.root.open(entry.path, entry.os_path, FILE_FLAGS)
        try:
            st = os.fstat(fd)
            if not _stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != (entry.dev, entry.ino):
                raise OSError(errno.ESTALE, "file changed during the walk", entry.os_path)
        except BaseException:
            os.close(fd)
            raise
        return fd
