"""Record real BuildKit status streams of the examples for replay in tests.

Re-run it (needs the test daemon, see scripts/daemon.sh up):

    DOCKER_HOST=unix:///run/bxtui-daemon/docker.sock .venv/bin/python scripts/record_status.py

Optionally name recordings to redo only those: ``... record_status.py fail-run success``.

Every build goes through bxtui's own library as ``tui/cli.py`` runs it (resolve_builder ->
BuildkitClient.open -> new_result_context -> ctx.done()). For each recording NAME it writes
into tests/support/data/:

* ``NAME.status``: the StatusResponse messages in arrival order. The file starts with the
  8-byte magic ``BXSTAT01``; then one record per message: a 4-byte big-endian arrival time
  in milliseconds since the build started, a 4-byte big-endian length, and that many bytes
  of the serialized ``control_pb2.StatusResponse``.
* ``NAME.error.json`` (failed builds): message, exit_code, vertex, sources (filename, data
  as text, language, ranges as [start_line, end_line] pairs), the failed op's kind and
  description, whether a debug context was kept open (``has_context``), and for a failed
  RUN its exec meta (args, env, user, cwd).
* ``NAME.result.json`` (successful builds): the exporter response and image config.

``tests/support/recorded.py`` loads these files.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import struct
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tui.buildkit.address import resolve_builder  # noqa: E402
from tui.buildkit.client import BuildkitClient  # noqa: E402
from tui.buildkit.errors import BuildError  # noqa: E402
from tui.buildkit.proto import control_pb2  # noqa: E402
from tui.debug.engine.options import BuildOptions  # noqa: E402
from tui.debug.engine.result import describe_op, new_result_context  # noqa: E402

DATA = REPO / "tests" / "support" / "data"
EXAMPLES = REPO / "examples"
MAGIC = b"BXSTAT01"
RECORD = struct.Struct(">II")
DEFAULT_DOCKER_HOST = "unix:///run/bxtui-daemon/docker.sock"


@dataclass(frozen=True)
class Recording:
    name: str
    example: str
    no_cache: bool


RECORDINGS = (
    Recording("fail-run", "fail-run", True),
    Recording("fail-run-cached", "fail-run", False),
    Recording("fail-stage", "fail-stage", True),
    Recording("copy-missing", "copy-missing", True),
    Recording("syntax-error", "syntax-error", True),
    Recording("success", "success", True),
)


def error_json(err: BuildError, has_context: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "has_context": has_context,
        "message": err.message,
        "exit_code": err.exit_code,
        "vertex": err.vertex,
        "sources": [
            {
                "filename": s.filename,
                "data": s.data.decode("utf-8", "replace"),
                "language": s.language,
                "ranges": [[r.start_line, r.end_line] for r in s.ranges],
            }
            for s in err.sources
        ],
        "op_kind": None,
        "op_description": None,
        "exec": None,
    }
    failure = err.solve
    if failure is not None:
        out["op_kind"] = failure.op_kind
        if failure.exec is None:
            out["op_description"] = describe_op(failure) if failure.op_kind else None
        else:
            meta = failure.exec.meta
            out["exec"] = {
                "args": list(meta.args),
                "env": list(meta.env),
                "user": meta.user,
                "cwd": meta.cwd,
            }
    return out


def result_json(resp: control_pb2.SolveResponse | None, config: Any) -> dict[str, Any]:
    exporter = dict(resp.ExporterResponse) if resp is not None else {}
    return {"exporter_response": exporter, "image_config": config}


async def record(client: BuildkitClient, rec: Recording) -> str:
    messages: list[tuple[int, bytes]] = []
    start = time.monotonic()

    def on_status(resp: control_pb2.StatusResponse) -> None:
        ms = int((time.monotonic() - start) * 1000)
        messages.append((ms, resp.SerializeToString()))

    opts = BuildOptions(context=str(EXAMPLES / rec.example), no_cache=rec.no_cache)
    ctx, resp, err = await new_result_context(client, opts, on_status)
    config = None
    if ctx is not None:
        try:
            if err is None:
                config = ctx.image_config()
        finally:
            await ctx.done()
    data = bytearray(MAGIC)
    for ms, payload in messages:
        data += RECORD.pack(ms, len(payload)) + payload
    (DATA / f"{rec.name}.status").write_bytes(bytes(data))
    for suffix in (".error.json", ".result.json"):
        (DATA / f"{rec.name}{suffix}").unlink(missing_ok=True)
    if err is not None:
        body, suffix = error_json(err, ctx is not None), ".error.json"
    else:
        body, suffix = result_json(resp, config), ".result.json"
    (DATA / f"{rec.name}{suffix}").write_text(json.dumps(body, indent=2, sort_keys=True) + "\n")
    outcome = f"failed: {err.message}" if err is not None else "succeeded"
    return f"{rec.name}: {len(messages)} messages, {len(data)} bytes, {outcome}"


async def main(names: list[str]) -> int:
    os.environ.setdefault("DOCKER_HOST", DEFAULT_DOCKER_HOST)
    chosen = [r for r in RECORDINGS if not names or r.name in names]
    unknown = set(names) - {r.name for r in RECORDINGS}
    if unknown:
        print(f"unknown recording(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    DATA.mkdir(parents=True, exist_ok=True)
    endpoint = resolve_builder(addr=None, builder=None, tls=None)
    client = await BuildkitClient.open(endpoint)
    try:
        for rec in chosen:
            print(await record(client, rec))
    finally:
        await client.close()
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="recordings to redo (default: all)")
    sys.exit(asyncio.run(main(parser.parse_args().names)))
