"""One walked path: Go ``os.FileMode`` bits and the fields of ``fsutil.types.Stat``."""

from __future__ import annotations

import stat as _stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from tui.buildkit.proto import fsutil_types_pb2

__all__ = [
    "MODE_CHAR_DEVICE",
    "MODE_DEVICE",
    "MODE_DIR",
    "MODE_IRREGULAR",
    "MODE_NAMED_PIPE",
    "MODE_PERM",
    "MODE_SETGID",
    "MODE_SETUID",
    "MODE_SOCKET",
    "MODE_STICKY",
    "MODE_SYMLINK",
    "MODE_TYPE",
    "NO_XATTRS",
    "TYPE_BITS",
    "Entry",
    "go_file_mode",
    "posix_mode",
    "special_bits",
]

# Go os.FileMode bits.
MODE_DIR: Final = 1 << 31
MODE_SYMLINK: Final = 1 << 27
MODE_DEVICE: Final = 1 << 26
MODE_NAMED_PIPE: Final = 1 << 25
MODE_SOCKET: Final = 1 << 24
MODE_SETUID: Final = 1 << 23
MODE_SETGID: Final = 1 << 22
MODE_CHAR_DEVICE: Final = 1 << 21
MODE_STICKY: Final = 1 << 20
MODE_IRREGULAR: Final = 1 << 19
MODE_PERM: Final = 0o777
MODE_TYPE: Final = (
    MODE_DIR
    | MODE_SYMLINK
    | MODE_NAMED_PIPE
    | MODE_SOCKET
    | MODE_DEVICE
    | MODE_CHAR_DEVICE
    | MODE_IRREGULAR
)

TYPE_BITS: Final = {
    _stat.S_IFDIR: MODE_DIR,
    _stat.S_IFLNK: MODE_SYMLINK,
    _stat.S_IFREG: 0,
    _stat.S_IFIFO: MODE_NAMED_PIPE,
    _stat.S_IFCHR: MODE_DEVICE | MODE_CHAR_DEVICE,
    _stat.S_IFBLK: MODE_DEVICE,
    _stat.S_IFSOCK: MODE_SOCKET,
}
NO_XATTRS: Mapping[str, bytes] = MappingProxyType({})
"""Shared empty xattr map."""


def special_bits(st_mode: int) -> int:
    """Go's setuid/setgid/sticky bits for a POSIX ``st_mode``."""
    mode = 0
    if st_mode & _stat.S_ISUID:
        mode |= MODE_SETUID
    if st_mode & _stat.S_ISGID:
        mode |= MODE_SETGID
    if st_mode & _stat.S_ISVTX:
        mode |= MODE_STICKY
    return mode


def go_file_mode(st_mode: int) -> int:
    """Go's ``os.FileMode`` for a POSIX ``st_mode`` (what ``os.Lstat().Mode()`` returns)."""
    mode = (st_mode & MODE_PERM) | TYPE_BITS.get(_stat.S_IFMT(st_mode), MODE_IRREGULAR)
    return mode | special_bits(st_mode)


def posix_mode(go_mode: int) -> int:
    """Permission bits for ``chmod`` from a Go ``os.FileMode`` (as Go's ``os.Chmod``)."""
    mode = go_mode & MODE_PERM
    if go_mode & MODE_SETUID:
        mode |= _stat.S_ISUID
    if go_mode & MODE_SETGID:
        mode |= _stat.S_ISGID
    if go_mode & MODE_STICKY:
        mode |= _stat.S_ISVTX
    return mode


@dataclass(frozen=True, slots=True)
class Entry:
    """One walked path with the fields fsutil puts in ``fsutil.types.Stat``."""

    path: str
    mode: int
    uid: int
    gid: int
    size: int
    mod_time_ns: int
    linkname: str
    devmajor: int
    devminor: int
    xattrs: Mapping[str, bytes]
    os_path: str
    dev: int = field(default=0, repr=False, compare=False)
    ino: int = field(default=0, repr=False, compare=False)

    @property
    def is_dir(self) -> bool:
        """A directory."""
        return bool(self.mode & MODE_DIR)

    @property
    def is_symlink(self) -> bool:
        """A symbolic link (``linkname`` is its target)."""
        return bool(self.mode & MODE_SYMLINK)

    @property
    def is_regular(self) -> bool:
        """No type bits: the receiver may request its data (fsutil fileCanRequestData)."""
        return not self.mode & MODE_TYPE

    @property
    def is_hardlink(self) -> bool:
        """A regular file that repeats an earlier entry's inode (``linkname`` = that path)."""
        return bool(self.linkname) and not self.mode & MODE_TYPE

    def to_stat(self, *, reset_owner: bool = False) -> fsutil_types_pb2.Stat:
        """The wire ``Stat``; ``reset_owner`` sends uid/gid 0 like the Go client does."""
        st = fsutil_types_pb2.Stat(
            path=self.path,
            mode=self.mode,
            uid=0 if reset_owner else self.uid,
            gid=0 if reset_owner else self.gid,
            size=self.size,
            modTime=self.mod_time_ns,
            linkname=self.linkname,
            devmajor=self.devmajor,
            devminor=self.devminor,
        )
        if self.xattrs:
            st.xattrs.update(self.xattrs)
        return st
