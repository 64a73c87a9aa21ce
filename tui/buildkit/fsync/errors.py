"""Errors of the DiffCopy transfer."""

from __future__ import annotations

import os

__all__ = ["DiffCopyError", "PathError", "ProtocolError", "RemoteError"]


class DiffCopyError(Exception):
    """The transfer failed."""


class ProtocolError(DiffCopyError):
    """The peer broke the protocol (bad id or path, out of order, early end of stream)."""


class RemoteError(DiffCopyError):
    """The peer sent ``PACKET_ERR``; the message is the peer's text."""


class PathError(OSError):
    """An :class:`OSError` worded like Go's ``os.PathError``: ``open /abs/path: permission denied``.

    The sender's walk raises these so that the daemon shows the same message as for buildx.
    """

    def __init__(self, op: str, path: str, exc: OSError) -> None:
        err = exc.errno or 0
        super().__init__(err, exc.strerror or os.strerror(err), path)
        self.op = op

    def __str__(self) -> str:
        text = self.strerror or ""
        return f"{self.op} {self.filename}: {text[:1].lower()}{text[1:]}"
