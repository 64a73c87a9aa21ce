"""Open walked files for reading without ever resolving a path outside the root."""

from __future__ import annotations

import ctypes
import errno
import os
import stat as _stat
import sys
from typing import Final

from tui.buildkit.fsync.entry import Entry

__all__ = ["FileOpener"]

_DIR_FLAGS: Final = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS: Final = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class _OpenHow(ctypes.Structure):
    _fields_ = (
        ("flags", ctypes.c_uint64),
        ("mode", ctypes.c_uint64),
        ("resolve", ctypes.c_uint64),
    )


_SYS_OPENAT2: Final = 437  # same number on every Linux architecture that has it
_RESOLVE_NO_SYMLINKS: Final = 0x04
_RESOLVE_BENEATH: Final = 0x08


def _load_libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _load_libc()


class FileOpener:
    """Opens walked regular files for reading without ever leaving ``root``.

    Uses Linux ``openat2`` with ``RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`` from a root
    descriptor, so no symlink (final or intermediate) is ever followed; without it, an
    ``O_NOFOLLOW`` open by path. Either way the opened file must be the very inode the
    walk reported, else :class:`OSError` (``ESTALE``).
    """

    def __init__(self, root: str) -> None:
        self._root_fd = os.open(os.path.realpath(root), _DIR_FLAGS)
        self._openat2 = _LIBC is not None

    def close(self) -> None:
        """Release the root descriptor."""
        if self._root_fd >= 0:
            os.close(self._root_fd)
            self._root_fd = -1

    def __enter__(self) -> FileOpener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open_beneath(self, rel: str) -> int:
        """``openat2`` below the root; -1 if the kernel (or seccomp) does not offer it."""
        assert _LIBC is not None
        how = _OpenHow(_FILE_FLAGS, 0, _RESOLVE_BENEATH | _RESOLVE_NO_SYMLINKS)
        fd = int(
            _LIBC.syscall(
                ctypes.c_long(_SYS_OPENAT2),
                ctypes.c_int(self._root_fd),
                ctypes.c_char_p(os.fsencode(rel)),
                ctypes.byref(how),
                ctypes.c_size_t(ctypes.sizeof(how)),
            )
        )
        if fd >= 0:
            return fd
        err = ctypes.get_errno()
        if err in (errno.ENOSYS, errno.EPERM):
            self._openat2 = False
            return -1
        raise OSError(err, os.strerror(err), rel)

    def open(self, entry: Entry) -> int:
        """A read-only descriptor of ``entry``'s data (the caller closes it)."""
        fd = self._open_beneath(entry.path) if self._openat2 else -1
        if fd < 0:
            fd = os.open(entry.os_path, _FILE_FLAGS)
        try:
            st = os.fstat(fd)
            if not _stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != (entry.dev, entry.ino):
                raise OSError(errno.ESTALE, "file changed during the walk", entry.os_path)
        except BaseException:
            os.close(fd)
            raise
        return fd
