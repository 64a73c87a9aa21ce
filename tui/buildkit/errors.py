"""Typed BuildKit errors decoded from gRPC status details.

A failed BuildKit RPC carries the trailing metadata ``grpc-status-details-bin``: a
serialized ``google.rpc.Status`` whose ``details`` are ``Any`` messages with *JSON*
values (type URLs end in ``+json``). ``errdefs.Solve`` uses the canonical proto3 JSON
mapping; every other detail is plain Go struct JSON. Unknown or malformed details are
skipped, never fatal.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from tui.buildkit.proto import gateway_pb2, ops_pb2, rpc_status_pb2

__all__ = [
    "STATUS_DETAILS_KEY",
    "BuildError",
    "SolveFailure",
    "SourceLocation",
    "SourceRange",
    "error_from_exit",
    "error_from_rpc",
    "error_from_status",
    "exit_code_of",
    "status_from_error",
]

STATUS_DETAILS_KEY = "grpc-status-details-bin"
"""Trailing metadata key holding the serialized google.rpc.Status."""

# Detail kinds, keyed by the type URL's last path segment without "+json".
_STACK = "stack.Stack"
_SOLVE = "errdefs.Solve"
_SOURCE = "errdefs.Source"
_VERTEX = "errdefs.Vertex"
_EXIT = "gatewayapi.ExitMessage"
_FRONTEND_CAP = "errdefs.FrontendCap"
_SUBREQUEST = "errdefs.Subrequest"


@dataclass(frozen=True)
class SourceRange:
    """A range in a source file; lines are 1-based as sent, omitted values are 0."""

    start_line: int
    start_col: int
    end_line: int
    end_col: int


@dataclass(frozen=True)
class SourceLocation:
    """Source file (e.g. the Dockerfile) and the ranges an error points at."""

    filename: str
    data: bytes
    language: str
    ranges: tuple[SourceRange, ...]


@dataclass(frozen=True)
class SolveFailure:
    """The ``errdefs.Solve`` detail: which op failed and the result ids around it.

    For an exec failure ``input_ids[i]`` / ``mount_ids[i]`` are the states of
    ``op.exec.mounts[i]`` before / after the command ran ("" when there is none).
    For a file op ``file_index`` names the failing action. Ids are only valid while
    the gateway is still open.
    """

    input_ids: tuple[str, ...]
    mount_ids: tuple[str, ...]
    op: ops_pb2.Op
    file_index: int | None
    cache_index: int | None
    description: dict[str, str]

    @property
    def op_kind(self) -> str:
        """Kind of the failed op: "exec", "file", "source", "build", "merge", ...; "" if unset."""
        return self.op.WhichOneof("op") or ""

    @property
    def exec(self) -> ops_pb2.ExecOp | None:
        """The failed ExecOp, or None for other op kinds."""
        return self.op.exec if self.op.HasField("exec") else None

    @property
    def file_action(self) -> ops_pb2.FileAction | None:
        """The failing FileOp action, when the op is a file op and the index is valid."""
        if self.file_index is None or not self.op.HasField("file"):
            return None
        actions = self.op.file.actions
        if 0 <= self.file_index < len(actions):
            return actions[self.file_index]
        return None


class BuildError(Exception):
    """A BuildKit RPC failure with its decoded typed details.

    ``status`` is the raw ``google.rpc.Status`` (pass it unchanged to
    ``LLBBridge.Return(error=...)``); it is None when the error carried none.
    """

    def __init__(
        self,
        message: str,
        code: grpc.StatusCode | int = grpc.StatusCode.UNKNOWN,
        *,
        status: rpc_status_pb2.Status | None = None,
        solve: SolveFailure | None = None,
        sources: tuple[SourceLocation, ...] = (),
        exit_code: int | None = None,
        vertex: str | None = None,
        stack_count: int = 0,
        frontend_caps: tuple[str, ...] = (),
        subrequests: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.solve = solve
        self.sources = sources
        self.exit_code = exit_code
        self.vertex = vertex
        self.stack_count = stack_count
        self.frontend_caps = frontend_caps
        self.subrequests = subrequests

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        code = self.code.name if isinstance(self.code, grpc.StatusCode) else self.code
        return f"BuildError({self.message!r}, code={code})"


def connection_lost(err: BuildError) -> bool:
    """Whether ``err`` is the connection to the builder breaking, not an answer from it."""
    return err.code == grpc.StatusCode.UNAVAILABLE and err.status is None


def _status_code(code: int) -> grpc.StatusCode | int:
    for sc in grpc.StatusCode:
        if sc.value[0] == code:
            return sc
    return code


def _code_number(code: grpc.StatusCode | int) -> int:
    if isinstance(code, int):
        return code
    number: int = code.value[0]  # a grpc.StatusCode's value is (number, name)
    return number


def _kind(type_url: str) -> str:
    name = type_url.rsplit("/", 1)[-1]
    return name.removesuffix("+json")


def _json_object(value: bytes) -> dict[str, Any] | None:
    try:
        obj = json.loads(value)
    except (ValueError, UnicodeDecodeError):
        return None
    return obj if isinstance(obj, dict) else None


def _int(value: object) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return 0
    return 0


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _parse_solve(type_url: str, value: bytes) -> SolveFailure | None:
    from google.protobuf import json_format  # only needed here; slow to import

    from tui.buildkit.proto import errdefs_pb2  # only a failed build needs it

    msg = errdefs_pb2.Solve()
    try:
        if type_url.endswith("+json"):
            json_format.Parse(value, msg, ignore_unknown_fields=True)
        else:  # tolerate a binary-encoded detail
            msg.ParseFromString(value)
    except (json_format.ParseError, DecodeError, ValueError, TypeError, UnicodeDecodeError):
        return None
    subject = msg.WhichOneof("subject")
    return SolveFailure(
        input_ids=tuple(msg.inputIDs),
        mount_ids=tuple(msg.mountIDs),
        op=msg.op,
        file_index=msg.file.index if subject == "file" else None,
        cache_index=msg.cache.index if subject == "cache" else None,
        description=dict(msg.description),
    )


def _position(obj: object) -> tuple[int, int]:
    if not isinstance(obj, Mapping):
        return 0, 0
    return _int(obj.get("line")), _int(obj.get("character"))


def _parse_source(obj: Mapping[str, Any]) -> SourceLocation | None:
    info = obj.get("info")
    if info is not None and not isinstance(info, Mapping):
        return None
    info = info or {}
    data = b""
    raw = info.get("data")
    if isinstance(raw, str):
        try:
            data = base64.b64decode(raw)
        except (binascii.Error, ValueError):
            data = b""
    ranges: list[SourceRange] = []
    raw_ranges = obj.get("ranges")
    if isinstance(raw_ranges, list):
        for r in raw_ranges:
            if not isinstance(r, Mapping):
                continue
            sl, sc = _position(r.get("start"))
            el, ec = _position(r.get("end"))
            ranges.append(SourceRange(sl, sc, el, ec))
    return SourceLocation(
        filename=_str(info.get("filename")),
        data=data,
        language=_str(info.get("language")),
        ranges=tuple(ranges),
    )


def exit_code_of(status: rpc_status_pb2.Status) -> int | None:
    """Exit code from a ``gatewayapi.ExitMessage`` detail of ``status``, or None."""
    for detail in status.details:
        if _kind(detail.type_url) != _EXIT:
            continue
        obj = _json_object(detail.value)
        if obj is not None:
            return _int(obj.get("Code"))
    return None


def error_from_status(status: rpc_status_pb2.Status) -> BuildError:
    """Decode a ``google.rpc.Status`` into a BuildError.

    When a detail kind appears more than once the first one wins (BuildKit lists
    details outermost first); all Source details are kept in order.
    """
    solve: SolveFailure | None = None
    sources: list[SourceLocation] = []
    exit_code: int | None = None
    vertex: str | None = None
    stacks = 0
    caps: list[str] = []
    subrequests: list[str] = []
    for detail in status.details:
        kind = _kind(detail.type_url)
        if kind == _SOLVE:
            if solve is None:
                solve = _parse_solve(detail.type_url, detail.value)
            continue
        obj = _json_object(detail.value)
        if obj is None:
            continue
        if kind == _STACK:
            stacks += 1
        elif kind == _SOURCE:
            src = _parse_source(obj)
            if src is not None:
                sources.append(src)
        elif kind == _VERTEX:
            digest = _str(obj.get("digest"))
            if vertex is None and digest:
                vertex = digest
        elif kind == _EXIT:
            if exit_code is None:
                exit_code = _int(obj.get("Code"))
        elif kind == _FRONTEND_CAP and (name := _str(obj.get("name"))):
            caps.append(name)
        elif kind == _SUBREQUEST and (name := _str(obj.get("name"))):
            subrequests.append(name)
    return BuildError(
        status.message,
        _status_code(status.code),
        status=status,
        solve=solve,
        sources=tuple(sources),
        exit_code=exit_code,
        vertex=vertex,
        stack_count=stacks,
        frontend_caps=tuple(caps),
        subrequests=tuple(subrequests),
    )


def _details_bin(metadata: Iterable[Any] | None) -> bytes | None:
    if metadata is None:
        return None
    for item in metadata:
        try:
            key, value = item
        except (TypeError, ValueError):
            continue
        if isinstance(key, str) and key.lower() == STATUS_DETAILS_KEY:
            if isinstance(value, bytes):
                return value
            if isinstance(value, str):
                return value.encode("latin-1", "replace")
    return None


def error_from_rpc(err: grpc.RpcError) -> BuildError:
    """Decode a grpc (aio or sync) RpcError, using ``grpc-status-details-bin`` if present.

    Falls back to the call's code and details when the trailer is absent or unparsable.
    """
    code: grpc.StatusCode | None = None
    details: str | None = None
    raw: bytes | None = None
    # a failed call (aio's AioRpcError, the sync API's errors are grpc.Call too) tells its
    # status; a bare RpcError only its text
    if isinstance(err, (grpc.aio.AioRpcError, grpc.Call)):
        code, details = err.code(), err.details()
        raw = _details_bin(err.trailing_metadata())
    message = details if isinstance(details, str) else str(err)
    if raw is not None:
        status = rpc_status_pb2.Status()
        try:
            status.ParseFromString(raw)
        except DecodeError:
            pass
        else:
            if not status.message:
                status.message = message
            if status.code == 0 and code is not None:
                status.code = _code_number(code)
            return error_from_status(status)
    if code is None:
        code = grpc.StatusCode.UNKNOWN
    return BuildError(message, code)


def status_from_error(err: BuildError) -> rpc_status_pb2.Status:
    """The raw status of ``err``, or a fresh one with its code (UNKNOWN if OK) and message."""
    if err.status is not None:
        return err.status
    code = _code_number(err.code)
    if code == 0:
        code = grpc.StatusCode.UNKNOWN.value[0]
    return rpc_status_pb2.Status(code=code, message=err.message)


def error_from_exit(msg: gateway_pb2.ExitMessage) -> BuildError | None:
    """BuildError for an ``ExecMessage.Exit``; None for a clean exit (code 0, no Error)."""
    if msg.HasField("Error") and msg.Error.code != 0:
        err = error_from_status(msg.Error)
        if err.exit_code is None:
            err.exit_code = msg.Code
        return err
    if msg.Code == 0:
        return None
    return BuildError(f"exit code: {msg.Code}", exit_code=msg.Code)


def error_message(err: BuildError) -> str:
    """The one-line error as buildx words it (a lost connection said plainly)."""
    msg = err.message.strip()
    if connection_lost(err):
        return f"lost the connection to the builder (did the daemon stop or restart?): {msg}"
    if isinstance(err, PostSolveError):
        return msg
    return msg if msg.startswith("failed to solve") else f"failed to solve: {msg}"


class PostSolveError(BuildError):
    """A failure after a successful solve (pushing the image): not a "failed to solve"."""
