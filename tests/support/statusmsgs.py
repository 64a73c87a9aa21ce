"""Build ``Control.Status`` messages by hand for tests (times are ns offsets from BASE)."""

from __future__ import annotations

from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from tui.buildkit.proto import control_pb2 as pb
from tui.debug.model.logbuffer import STDOUT

SEC = 1_000_000_000
BASE = 1_790_000_000 * 10**9  # Unix ns; message times below are offsets from it
MS = 1_000_000


def ts(off: int) -> Timestamp:
    t = Timestamp()
    t.seconds, t.nanos = divmod(BASE + off, 10**9)
    return t


def vtx(
    digest: str,
    name: str = "",
    *,
    inputs: tuple[str, ...] = (),
    started: int | None = None,
    completed: int | None = None,
    cached: bool = False,
    error: str = "",
    group: tuple[str, str, bool] | None = None,
) -> pb.Vertex:
    v = pb.Vertex(digest=digest, name=name or digest, inputs=inputs, cached=cached, error=error)
    if started is not None:
        v.started.CopyFrom(ts(started))
    if completed is not None:
        v.completed.CopyFrom(ts(completed))
    if group is not None:
        v.progressGroup.id, v.progressGroup.name, v.progressGroup.weak = group
    return v


def status(
    digest: str,
    sid: str,
    *,
    current: int = 0,
    total: int = 0,
    at: int = 0,
    started: int | None = None,
    completed: int | None = None,
) -> pb.VertexStatus:
    s = pb.VertexStatus(ID=sid, vertex=digest, name=sid.split(" ")[0], current=current, total=total)
    s.timestamp.CopyFrom(ts(at))
    if started is not None:
        s.started.CopyFrom(ts(started))
    if completed is not None:
        s.completed.CopyFrom(ts(completed))
    return s


def log(digest: str, at: int, data: bytes, stream: int = STDOUT) -> pb.VertexLog:
    entry = pb.VertexLog(vertex=digest, stream=stream, msg=data)
    entry.timestamp.CopyFrom(ts(at))
    return entry


def resp(*items: Any) -> pb.StatusResponse:
    r = pb.StatusResponse()
    for it in items:
        if isinstance(it, pb.Vertex):
            r.vertexes.append(it)
        elif isinstance(it, pb.VertexStatus):
            r.statuses.append(it)
        elif isinstance(it, pb.VertexLog):
            r.logs.append(it)
        elif isinstance(it, pb.VertexWarning):
            r.warnings.append(it)
        else:  # pragma: no cover
            raise TypeError(it)
    return r
