"""``-D/--debug``: what a bug report needs, with every secret redacted.

Everything goes through the ``bxtui`` logger.  :func:`enable` sends it to a stream or a file
through a formatter that redacts: secret values seen by this process (``--secret`` sources
and registry credentials, registered with :func:`register_secret` when they are read),
``KEY=value`` pairs whose key looks secret (tokens, passwords, keys), ``Authorization``
headers and ``user:password@`` in URLs.  :func:`interceptors` time every gRPC call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, TextIO

import grpc

__all__ = ["LOG", "enable", "enabled", "flush", "interceptors", "redact", "register_secret"]

LOG = logging.getLogger("bxtui")
MASK = "***"
#: A value is redacted only from this length on (shorter ones would mask ordinary words).
MIN_SECRET_LEN = 4

_SECRET_KEY = r"[\w.-]*(?:TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|API_?KEY|PRIVATE_?KEY|" \
              r"CREDENTIAL|AUTH)[\w.-]*"
# Compiled on first use (re caches them): only a debug log redacts anything.
_PATTERNS = [
    # KEY=value (build args, env entries, frontend attrs "build-arg:API_TOKEN=...")
    rf"(?i)\b({_SECRET_KEY}=)([^\s,;'\"]+)",
    # "password": "value" in JSON or a Python repr ('build-arg:API_TOKEN': 'value')
    rf"(?i)(['\"][\w:.-]*{_SECRET_KEY}['\"]\s*:\s*['\"])([^'\"]*)",
    # Authorization: Bearer xxx / Basic xxx
    r"(?i)(authorization:\s*(?:bearer|basic)?\s*)(\S+)",
    # scheme://user:password@host
    r"(?i)(\b[a-z][\w+.-]*://[^:/\s@]+:)([^@\s]+)(?=@)",
]
_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | bytes) -> None:
    """Redact ``value`` from everything logged from now on."""
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    for candidate in {text, text.strip()}:
        if len(candidate) >= MIN_SECRET_LEN:
            with _lock:
                _secrets.add(candidate)


def redact(text: str) -> str:
    """``text`` with registered secret values and secret-looking fields masked."""
    with _lock:
        values = sorted(_secrets, key=len, reverse=True)
    for value in values:
        if value in text:
            text = text.replace(value, MASK)
    for pattern in _PATTERNS:
        text = re.sub(pattern, lambda m: m.group(1) + (MASK if m.group(2) else ""), text)
    return text


class _RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def enabled() -> bool:
    """Whether debug logging is on."""
    return LOG.isEnabledFor(logging.DEBUG)


def enable(stream: TextIO | None = None, path: str | None = None) -> logging.Handler:
    """Log everything at DEBUG to ``path`` (appended, 0600) or ``stream``, redacted."""
    handler: logging.Handler
    if path is not None:
        import os

        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        handler = logging.StreamHandler(os.fdopen(fd, "a", encoding="utf-8"))
    else:
        handler = logging.StreamHandler(stream)
    handler.setFormatter(_RedactingFormatter(
        "%(asctime)s.%(msecs)03d %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    LOG.addHandler(handler)
    LOG.setLevel(logging.DEBUG)
    LOG.propagate = False
    return handler


def flush() -> None:
    """Write out what the debug log's handlers still hold (before a fast exit)."""
    for handler in LOG.handlers:
        handler.flush()


# -- gRPC calls --------------------------------------------------------------------------------
def _method(details: Any) -> str:
    method = details.method
    if isinstance(method, bytes):
        method = method.decode()
    return str(method).rsplit(".", 1)[-1]


def _code(exc: BaseException) -> str:
    if isinstance(exc, grpc.aio.AioRpcError):
        return f"{exc.code().name}: {exc.details()}"
    return type(exc).__name__


class _Unary(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    async def intercept_unary_unary(self, continuation: Callable[..., Any], details: Any,
                                    request: Any) -> Any:
        start = time.perf_counter()
        name = _method(details)
        LOG.debug("rpc %s ->", name)
        try:
            call = await continuation(details, request)
            await call
        except BaseException as exc:
            LOG.debug("rpc %s failed after %.1f ms: %s", name,
                      (time.perf_counter() - start) * 1e3, _code(exc))
            raise
        LOG.debug("rpc %s ok in %.1f ms", name, (time.perf_counter() - start) * 1e3)
        return call


class _UnaryStream(grpc.aio.UnaryStreamClientInterceptor):  # type: ignore[misc]
    async def intercept_unary_stream(self, continuation: Callable[..., Any], details: Any,
                                     request: Any) -> Any:
        name = _method(details)
        LOG.debug("stream %s opened", name)
        call = await continuation(details, request)
        _log_end(call, name, time.perf_counter())
        return call


class _StreamStream(grpc.aio.StreamStreamClientInterceptor):  # type: ignore[misc]
    async def intercept_stream_stream(self, continuation: Callable[..., Any], details: Any,
                                      request_iterator: AsyncIterator[Any] | None) -> Any:
        name = _method(details)
        LOG.debug("stream %s opened", name)
        call = await continuation(details, request_iterator)
        _log_end(call, name, time.perf_counter())
        return call


def _log_end(call: Any, name: str, start: float) -> None:
    def done(c: Any) -> None:
        elapsed = (time.perf_counter() - start) * 1e3
        if c.cancelled():
            LOG.debug("stream %s cancelled after %.1f ms", name, elapsed)
            return
        with contextlib.suppress(RuntimeError):  # the loop is closing: no status line
            asyncio.get_running_loop().create_task(_log_status(c, name, elapsed))

    with contextlib.suppress(Exception):  # an intercepted call without callbacks: no end line
        call.add_done_callback(done)


async def _log_status(call: Any, name: str, elapsed: float) -> None:
    try:
        code = await call.code()
        text = code.name if code == grpc.StatusCode.OK else f"{code.name}: {await call.details()}"
    except Exception:
        text = "ended"
    LOG.debug("stream %s closed after %.1f ms: %s", name, elapsed, text)


def interceptors() -> list[Any]:
    """Interceptors timing every call, when debug logging is on (none otherwise)."""
    return [_Unary(), _UnaryStream(), _StreamStream()] if enabled() else []
