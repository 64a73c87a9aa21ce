"""Load the status streams recorded by scripts/record_status.py (see its docstring)."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tui.buildkit.proto import control_pb2
from tui.debug.model.failure import FailureInfo, SourceSnippet
from tui.debug.model.graph import BuildGraph

DATA = Path(__file__).resolve().parent / "data"
MAGIC = b"BXSTAT01"
_RECORD = struct.Struct(">II")

#: Every recording; each has NAME.status plus NAME.error.json or NAME.result.json.
NAMES = ("fail-run", "fail-run-cached", "fail-stage", "copy-missing", "syntax-error", "success")


def load_timed(name: str) -> list[tuple[int, control_pb2.StatusResponse]]:
    """(milliseconds since the build started, message) pairs of recording ``name``."""
    raw = (DATA / f"{name}.status").read_bytes()
    if not raw.startswith(MAGIC):
        raise ValueError(f"{name}.status: not a status recording")
    out: list[tuple[int, control_pb2.StatusResponse]] = []
    pos = len(MAGIC)
    while pos < len(raw):
        if pos + _RECORD.size > len(raw):
            raise ValueError(f"{name}.status: truncated record header at {pos}")
        ms, size = _RECORD.unpack_from(raw, pos)
        pos += _RECORD.size
        if pos + size > len(raw):
            raise ValueError(f"{name}.status: truncated message at {pos}")
        msg = control_pb2.StatusResponse()
        msg.ParseFromString(raw[pos : pos + size])
        out.append((ms, msg))
        pos += size
    return out


def load_stream(name: str) -> list[control_pb2.StatusResponse]:
    """The StatusResponse messages of recording ``name``, in arrival order."""
    return [msg for _, msg in load_timed(name)]


def load_error(name: str) -> dict[str, Any]:
    """The recorded build error of ``name`` (message, exit_code, vertex, sources, exec, ...)."""
    data: dict[str, Any] = json.loads((DATA / f"{name}.error.json").read_text())
    return data


def load_result(name: str) -> dict[str, Any]:
    """The recorded result of a successful build (exporter_response, image_config)."""
    data: dict[str, Any] = json.loads((DATA / f"{name}.result.json").read_text())
    return data


def apply_stream(
    messages: Iterable[control_pb2.StatusResponse], graph: BuildGraph | None = None
) -> BuildGraph:
    """Apply ``messages`` to ``graph`` (a new one by default) and return it."""
    graph = graph if graph is not None else BuildGraph()
    for msg in messages:
        graph.apply(msg)
    return graph


def load_graph(name: str) -> BuildGraph:
    """A BuildGraph fed with the whole recording ``name``."""
    return apply_stream(load_stream(name))


def sources_of(error: dict[str, Any]) -> tuple[SourceSnippet, ...]:
    """The recorded error's sources as SourceSnippets."""
    return tuple(
        SourceSnippet(
            filename=s["filename"],
            data=s["data"].encode(),
            ranges=tuple((int(a), int(b)) for a, b in s["ranges"]),
            language=s.get("language") or "Dockerfile",
        )
        for s in error["sources"]
    )


def failure_info(name: str, **overrides: Any) -> FailureInfo:
    """A realistic FailureInfo from recording ``name`` (step name from its graph)."""
    error = load_error(name)
    graph = load_graph(name)
    vertex = graph.get(error["vertex"]) if error["vertex"] else None
    ex = error.get("exec") or {}
    can_open = bool(ex) and bool(error.get("has_context"))
    fields: dict[str, Any] = {
        "message": error["message"],
        "sources": sources_of(error),
        "vertex": error["vertex"],
        "step_name": vertex.name if vertex is not None else "",
        "exit_code": error["exit_code"],
        "op_description": error.get("op_description") or "",
        "command": tuple(ex.get("args", ())),
        "env": tuple(ex.get("env", ())),
        "user": ex.get("user", ""),
        "cwd": ex.get("cwd", ""),
        "can_open": can_open,
        "cannot_open": "",
    }
    fields.update(overrides)
    return FailureInfo(**fields)
