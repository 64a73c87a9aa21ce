"""The rawjson encoding of the fields a plain build rarely shows (errors, groups, warnings)."""

from __future__ import annotations

import io
import json

from google.protobuf.timestamp_pb2 import Timestamp

from tui.buildkit.proto import control_pb2, ops_pb2
from tui.debug.headless.rawjson import RawJSONWriter, go_time


def test_go_time() -> None:
    assert go_time(Timestamp(seconds=0, nanos=0)) == "1970-01-01T00:00:00Z"
    assert go_time(Timestamp(seconds=1, nanos=460078320)) == "1970-01-01T00:00:01.46007832Z"
    assert go_time(None) == "0001-01-01T00:00:00Z"


def test_every_field() -> None:
    resp = control_pb2.StatusResponse()
    v = resp.vertexes.add(digest="sha256:a", inputs=["sha256:b"], name="x", error="boom",
                          progressGroup=ops_pb2.ProgressGroup(id="g", weak=True))
    v.started.FromNanoseconds(1_500_000_000)
    resp.statuses.add(ID="s", vertex="sha256:a", total=9, current=0)
    resp.logs.add(vertex="sha256:a", stream=2, msg=b"\x00hi")
    w = resp.warnings.add(vertex="sha256:a", level=1, short=b"s", detail=[b"d"], url="u",
                          info=ops_pb2.SourceInfo(filename="Dockerfile", data=b"FROM x"))
    w.ranges.add(start=ops_pb2.Position(line=2), end=ops_pb2.Position(line=2, character=4))
    out = io.StringIO()
    RawJSONWriter(out).feed(resp)
    RawJSONWriter(out).feed(control_pb2.StatusResponse())
    first, empty = out.getvalue().splitlines()
    assert empty == "{}"
    doc = json.loads(first)
    assert doc["vertexes"] == [{"digest": "sha256:a", "inputs": ["sha256:b"], "name": "x",
                                "started": "1970-01-01T00:00:01.5Z", "error": "boom",
                                "progressGroup": {"id": "g", "weak": True}}]
    assert doc["statuses"] == [{"id": "s", "vertex": "sha256:a", "total": 9, "current": 0,
                                "timestamp": "0001-01-01T00:00:00Z"}]
    assert doc["logs"] == [{"vertex": "sha256:a", "stream": 2, "data": "AGhp",
                            "timestamp": "0001-01-01T00:00:00Z"}]
    assert doc["warnings"] == [{
        "vertex": "sha256:a", "level": 1, "short": "cw==", "detail": ["ZA=="], "url": "u",
        "sourceInfo": {"filename": "Dockerfile", "data": "RlJPTSB4"},
        "range": [{"start": {"line": 2}, "end": {"line": 2, "character": 4}}]}]
