"""Typed access to the protobuf fields named ``def`` (a Python keyword, so no attribute)."""

from __future__ import annotations

from collections.abc import MutableSequence

from tui.buildkit.proto import gateway_pb2, ops_pb2

__all__ = ["op_blobs", "ref_definition"]


def op_blobs(definition: ops_pb2.Definition) -> MutableSequence[bytes]:
    """The definition's serialized ops (its field is named ``def``, a Python keyword)."""
    ops: MutableSequence[bytes] = getattr(definition, "def")
    return ops


def ref_definition(ref: gateway_pb2.Ref) -> ops_pb2.Definition | None:
    """The definition a gateway ref carries (None when it carries none, or no op)."""
    if not ref.HasField("def"):
        return None
    definition: ops_pb2.Definition = getattr(ref, "def")
    return definition if op_blobs(definition) else None
