"""``--progress=rawjson`` writes what buildx writes for the same build on the same daemon."""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections import defaultdict
from pathlib import Path

import pytest

pytestmark = pytest.mark.daemon

#: The Go structs' field order (BuildKit client/graph.go); absent fields are left out.
ORDER = {
    "vertexes": ["digest", "inputs", "name", "started", "completed", "cached", "error",
                 "progressGroup"],
    "statuses": ["id", "vertex", "name", "total", "current", "timestamp", "started",
                 "completed"],
    "logs": ["vertex", "stream", "data", "timestamp"],
}
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?Z")


def _docs(text: str) -> list[dict[str, list[dict[str, object]]]]:
    """The JSON documents of a stream (buildx 0.13 indents them; ours are one per line)."""
    dec, i, out = json.JSONDecoder(), 0, []
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i == len(text):
            return out
        doc, i = dec.raw_decode(text, i)
        out.append(doc)


def _check_shape(docs: list[dict[str, list[dict[str, object]]]]) -> None:
    for doc in docs:
        assert list(doc) == [k for k in ("vertexes", "statuses", "logs", "warnings") if k in doc]
        for kind, order in ORDER.items():
            for item in doc.get(kind, ()):
                assert list(item) == [k for k in order if k in item], (kind, item)
                for key in ("started", "completed", "timestamp"):
                    assert key not in item or _TIME.fullmatch(str(item[key])), item[key]


def _summary(docs):  # type: ignore[no-untyped-def]
    steps = {str(v["name"]): (v["digest"], bool(v.get("cached"))) for d in docs
             for v in d.get("vertexes", ()) if "completed" in v}
    logs: dict[tuple[str, object], bytes] = defaultdict(bytes)
    for d in docs:
        for entry in d.get("logs", ()):
            logs[(str(entry["vertex"]), entry.get("stream"))] += base64.b64decode(
                str(entry["data"]))
    return steps, dict(logs)


def test_rawjson_as_buildx(tmp_path: Path, run_bxtui, run_buildx) -> None:  # type: ignore[no-untyped-def]
    token = uuid.uuid4().hex[:8]
    (tmp_path / "Dockerfile").write_text(
        "FROM busybox:local\n"
        f"RUN echo out-{token} && echo 'err <&>' >&2\n"
        "RUN echo second\n")
    runs = {}
    for label, extra in (("fresh", ["--no-cache"]), ("cached", [])):
        for who, run in (("bx", run_buildx), ("ours", run_bxtui)):
            res = run("build", "--progress=rawjson", *extra, str(tmp_path))
            assert (res.returncode, res.stdout) == (0, ""), res.stderr[-2000:]
            runs[label, who] = res.stderr
    ours_lines = runs["fresh", "ours"].splitlines()
    assert ours_lines and all(json.loads(line) for line in ours_lines)  # one per line
    for label in ("fresh", "cached"):
        bx_docs, our_docs = _docs(runs[label, "bx"]), _docs(runs[label, "ours"])
        _check_shape(bx_docs)
        _check_shape(our_docs)
        bx_steps, bx_logs = _summary(bx_docs)
        our_steps, our_logs = _summary(our_docs)
        ours_by_digest = {d: c for n, (d, c) in our_steps.items()
                          if n.startswith("[") and not n.startswith("[internal]")}
        assert sorted(n for n in our_steps if not n.startswith("[internal]")) == [
            "[1/3] FROM docker.io/library/busybox:local",
            f"[2/3] RUN echo out-{token} && echo 'err <&>' >&2", "[3/3] RUN echo second",
            "exporting to image"]
        # The same steps with the same digests; a name may differ: BuildKit 0.25 names a
        # vertex another build asked for first after that build (bxtui renames its own).
        bx_by_digest = {d: c for d, c in bx_steps.values() if d in ours_by_digest}
        assert bx_by_digest == ours_by_digest
        assert our_logs == bx_logs
    step = next(d for n, (d, _) in _summary(_docs(runs["fresh", "ours"]))[0].items()
                if "RUN echo out-" in n)
    logs = _summary(_docs(runs["fresh", "ours"]))[1]
    assert logs[(step, 1)] == f"out-{token}\n".encode()
    assert logs[(step, 2)] == b"err <&>\n"
    assert "\\u003c\\u0026\\u003e" in runs["fresh", "ours"]  # names escaped as Go does
