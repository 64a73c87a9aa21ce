"""Method tables: which handler and message codecs serve each gRPC method path."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class RpcMethod:
    """One served method: its handler and message codecs (``None``: raw bytes)."""

    handler: Callable[..., Any]
    decode: Callable[[bytes], Any] | None
    encode: Callable[[Any], bytes] | None
    streaming: bool
    """Stream-stream when true, else unary-unary."""


def _serialize(message: Any) -> bytes:
    data: bytes = message.SerializeToString()
    return data


def unary(
    handler: Callable[..., Any],
    decode: Callable[[bytes], Any] | None,
    encode: Callable[[Any], bytes] | None = _serialize,
) -> RpcMethod:
    """A unary-unary method (``decode``/``encode`` ``None``: raw bytes; default protobuf)."""
    return RpcMethod(handler, decode, encode, streaming=False)


def bidi(
    handler: Callable[..., Any],
    decode: Callable[[bytes], Any] | None,
    encode: Callable[[Any], bytes] | None = _serialize,
) -> RpcMethod:
    """A stream-stream method (``decode``/``encode`` ``None``: raw bytes)."""
    return RpcMethod(handler, decode, encode, streaming=True)


def method_table(entries: Sequence[tuple[str, RpcMethod]]) -> dict[str, RpcMethod]:
    """A method table from ``(full path, method)`` pairs, refusing duplicate paths."""
    table: dict[str, RpcMethod] = {}
    for path, method in entries:
        if not path.startswith("/") or path in table:
            raise ValueError(f"bad or duplicate method path {path!r}")
        table[path] = method
    return table
