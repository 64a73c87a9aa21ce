"""``--progress=rawjson``: each status update as BuildKit's ``client.SolveStatus`` JSON.

The fields, their order and what is left out follow the Go structs of BuildKit's
``client/graph.go`` as progressui's raw JSON display encodes them: byte fields in base64,
times in RFC 3339 with nanoseconds (trailing zeros dropped, UTC). One compact document per
line, as BuildKit 0.14+ writes them (0.13, i.e. buildx 0.13.1, indented them).
"""

from __future__ import annotations

import base64
import time
from typing import TYPE_CHECKING, TextIO

from tui.buildkit.defs import op_blobs
from tui.debug.model.gojson import go_dumps

if TYPE_CHECKING:
    from google.protobuf.timestamp_pb2 import Timestamp

    from tui.buildkit.proto import control_pb2, ops_pb2

__all__ = ["RawJSONWriter", "go_time", "solve_status"]

Doc = dict[str, object]


def go_time(ts: Timestamp | None) -> str:
    """``ts`` as Go's ``time.Time`` marshals it (None or unset: the zero time)."""
    if ts is None:
        return "0001-01-01T00:00:00Z"
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts.seconds))
    frac = f".{ts.nanos:09d}".rstrip("0") if ts.nanos else ""
    return f"{base}{frac}Z"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _put(doc: Doc, key: str, value: object) -> None:
    """``omitempty``: only a non-empty value is written."""
    if value:
        doc[key] = value


def _vertex(v: control_pb2.Vertex) -> Doc:
    doc: Doc = {}
    _put(doc, "digest", v.digest)
    _put(doc, "inputs", list(v.inputs))
    _put(doc, "name", v.name)
    if v.HasField("started"):
        doc["started"] = go_time(v.started)
    if v.HasField("completed"):
        doc["completed"] = go_time(v.completed)
    _put(doc, "cached", v.cached)
    _put(doc, "error", v.error)
    if v.HasField("progressGroup"):
        group: Doc = {}
        _put(group, "id", v.progressGroup.id)
        _put(group, "name", v.progressGroup.name)
        _put(group, "weak", v.progressGroup.weak)
        doc["progressGroup"] = group
    return doc


def _status(s: control_pb2.VertexStatus) -> Doc:
    doc: Doc = {"id": s.ID}
    _put(doc, "vertex", s.vertex)
    _put(doc, "name", s.name)
    _put(doc, "total", s.total)
    doc["current"] = s.current
    doc["timestamp"] = go_time(s.timestamp if s.HasField("timestamp") else None)
    if s.HasField("started"):
        doc["started"] = go_time(s.started)
    if s.HasField("completed"):
        doc["completed"] = go_time(s.completed)
    return doc


def _log(entry: control_pb2.VertexLog) -> Doc:
    doc: Doc = {}
    _put(doc, "vertex", entry.vertex)
    _put(doc, "stream", entry.stream)
    doc["data"] = _b64(entry.msg)
    doc["timestamp"] = go_time(entry.timestamp if entry.HasField("timestamp") else None)
    return doc


def _position(p: ops_pb2.Position) -> Doc:
    doc: Doc = {}
    _put(doc, "line", p.line)
    _put(doc, "character", p.character)
    return doc


def _source_info(info: ops_pb2.SourceInfo) -> Doc:
    doc: Doc = {}
    _put(doc, "filename", info.filename)
    _put(doc, "data", _b64(info.data) if info.data else "")
    ops = op_blobs(info.definition)
    if ops:
        doc["definition"] = {"def": [_b64(op) for op in ops]}
    _put(doc, "language", info.language)
    return doc


def _warning(w: control_pb2.VertexWarning) -> Doc:
    doc: Doc = {}
    _put(doc, "vertex", w.vertex)
    _put(doc, "level", w.level)
    _put(doc, "short", _b64(w.short) if w.short else "")
    _put(doc, "detail", [_b64(d) for d in w.detail])
    _put(doc, "url", w.url)
    if w.HasField("info"):
        doc["sourceInfo"] = _source_info(w.info)
    _put(doc, "range", [{"start": _position(r.start), "end": _position(r.end)}
                        for r in w.ranges])
    return doc


def solve_status(resp: control_pb2.StatusResponse) -> Doc:
    """One status update as ``client.SolveStatus`` (empty lists left out)."""
    doc: Doc = {}
    _put(doc, "vertexes", [_vertex(v) for v in resp.vertexes])
    _put(doc, "statuses", [_status(s) for s in resp.statuses])
    _put(doc, "logs", [_log(entry) for entry in resp.logs])
    _put(doc, "warnings", [_warning(w) for w in resp.warnings])
    return doc


class RawJSONWriter:
    """A status callback writing each update to ``out`` as one JSON line."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def feed(self, resp: control_pb2.StatusResponse) -> None:
        """Write ``resp`` (an update with nothing in it is written as ``{}``, as Go does)."""
        self.out.write(go_dumps(solve_status(resp)) + "\n")
        self.out.flush()
