"""Errors of the DiffCopy transfer."""

from __future__ import annotations

__all__ = ["DiffCopyError", "ProtocolError", "RemoteError"]


class DiffCopyError(Exception):
    """The transfer failed."""


class ProtocolError(DiffCopyError):
    """The peer broke the protocol (bad id or path, out of order, early end of stream)."""


class RemoteError(DiffCopyError):
    """The peer sent ``PACKET_ERR``; the message is the peer's text."""
