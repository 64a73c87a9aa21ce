"""gRPC status on the wire: the codes the session server uses, aborts, ``grpc-message``."""

from __future__ import annotations

import grpc

# grpc status codes (grpc.StatusCode values), as used on the wire.
OK = 0
CANCELLED = 1
UNKNOWN = 2
DEADLINE_EXCEEDED = 4
RESOURCE_EXHAUSTED = 8
UNIMPLEMENTED = 12
INTERNAL = 13


class RpcAbort(Exception):
    """Raised by :meth:`CallContext.abort`: ends the call with ``code`` and ``details``."""

    def __init__(self, code: int, details: str) -> None:
        super().__init__(code, details)
        self.code = code
        self.details = details


def status_code(code: grpc.StatusCode | int) -> int:
    """The integer of a ``grpc.StatusCode`` (whose value is ``(int, name)``) or an int."""
    if isinstance(code, grpc.StatusCode):
        return int(code.value[0])
    return int(code)


def percent_encode(message: str) -> bytes:
    """``grpc-message`` encoding: printable ASCII except ``%`` as is, other bytes ``%XX``."""
    out = bytearray()
    for b in message.encode("utf-8", "replace"):
        if 0x20 <= b <= 0x7E and b != 0x25:
            out.append(b)
        else:
            out += b"%%%02X" % b
    return bytes(out)
