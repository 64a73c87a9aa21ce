"""Small helpers shared by the session services."""

from __future__ import annotations

from typing import NoReturn

import grpc


async def abort(context: grpc.aio.ServicerContext, code: grpc.StatusCode, message: str) -> NoReturn:
    """End the RPC with ``code`` and ``message`` (grpc raises; this never returns)."""
    await context.abort(code, message)
    raise AssertionError("unreachable: context.abort returned")
