"""Throughput and memory of BuildGraph (and PlainPrinter) on a large synthetic build.

Usage: .venv/bin/python bench/bench_graph.py [--vertices N] [--logs N] [--batch N]

Builds the StatusResponse messages up front (not timed), then feeds them:
  1. BuildGraph.apply, timed, no tracing;
  2. BuildGraph.apply again under tracemalloc for the peak of Python allocations;
  3. PlainPrinter.feed (default 100 ms pacing, real clock) into an in-memory stream.
"""

from __future__ import annotations

import argparse
import io
import random
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from google.protobuf.timestamp_pb2 import Timestamp

from tui.buildkit.proto import control_pb2 as pb
from tui.debug.headless.plain import PlainPrinter
from tui.debug.model.graph import BuildGraph

BASE = 1_790_000_000 * 10**9


def _ts(ns: int) -> Timestamp:
    t = Timestamp()
    t.seconds, t.nanos = divmod(BASE + ns, 10**9)
    return t


def make_messages(
    n_vertices: int, n_logs: int, batch: int, seed: int = 1
) -> list[pb.StatusResponse]:
    """Declare all vertices, then run them a few at a time, interleaving log messages."""
    rnd = random.Random(seed)
    digests = [f"sha256:{i:064x}" for i in range(n_vertices)]
    msgs: list[pb.StatusResponse] = []
    # declaration in chunks of 100, like the solver's first messages
    for i in range(0, n_vertices, 100):
        r = pb.StatusResponse()
        for j in range(i, min(i + 100, n_vertices)):
            r.vertexes.add(
                digest=digests[j],
                name=f"[stage-{j % 7} {j}/{n_vertices}] RUN make -j8 target-{j}",
                inputs=[digests[j - 1]] if j else [],
            )
        msgs.append(r)
    logs_per_vertex = max(1, n_logs // n_vertices)
    t = 0
    line = b"compiling src/module_%05d/file_%04d.c -O2 -Wall -Werror ... ok\n"
    logs_left = n_logs
    for j, d in enumerate(digests):
        name = f"[stage-{j % 7} {j}/{n_vertices}] RUN make -j8 target-{j}"
        start = t
        r = pb.StatusResponse()
        v = r.vertexes.add(digest=d, name=name, inputs=[digests[j - 1]] if j else [])
        v.started.CopyFrom(_ts(start))
        if j % 10 == 0:  # some cached steps
            v.completed.CopyFrom(_ts(start))
            v.cached = True
            msgs.append(r)
            continue
        if j % 25 == 1:
            s = r.statuses.add(ID="transferring context:", vertex=d, name="transferring")
            s.timestamp.CopyFrom(_ts(start))
            s.started.CopyFrom(_ts(start))
        msgs.append(r)
        n = min(logs_left, logs_per_vertex + (1 if rnd.random() < 0.2 else 0))
        for k in range(0, n, batch):
            r = pb.StatusResponse()
            for m in range(k, min(k + batch, n)):
                t += rnd.randrange(10_000, 2_000_000)
                entry = r.logs.add(vertex=d, stream=1 + (m % 7 == 0), msg=line % (j, m))
                entry.timestamp.CopyFrom(_ts(t))
            msgs.append(r)
        logs_left -= n
        t += 1_000_000
        r = pb.StatusResponse()
        v = r.vertexes.add(digest=d, name=name, inputs=[digests[j - 1]] if j else [])
        v.started.CopyFrom(_ts(start))
        v.completed.CopyFrom(_ts(t))
        msgs.append(r)
    # leftover logs go to the last vertex
    while logs_left > 0:
        r = pb.StatusResponse()
        for _ in range(min(batch, logs_left)):
            t += 1000
            entry = r.logs.add(vertex=digests[-1], stream=1, msg=line % (0, logs_left))
            entry.timestamp.CopyFrom(_ts(t))
            logs_left -= 1
        msgs.append(r)
    return msgs


def count_items(msgs: list[pb.StatusResponse]) -> tuple[int, int]:
    logs = sum(len(m.logs) for m in msgs)
    items = sum(len(m.vertexes) + len(m.statuses) + len(m.logs) + len(m.warnings) for m in msgs)
    return logs, items


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--vertices", type=int, default=5_000)
    ap.add_argument("--logs", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=1, help="log entries per message")
    ap.add_argument("--log-cap", type=int, default=1 << 20)
    args = ap.parse_args()

    t0 = time.perf_counter()
    msgs = make_messages(args.vertices, args.logs, args.batch)
    n_logs, n_items = count_items(msgs)
    log_bytes = sum(len(e.msg) for m in msgs for e in m.logs)
    print(
        f"input: {len(msgs):,} messages, {n_items:,} items ({n_logs:,} logs, "
        f"{log_bytes / 1e6:.1f} MB of log text), built in {time.perf_counter() - t0:.1f}s"
    )

    g = BuildGraph(log_cap=args.log_cap)
    t0 = time.perf_counter()
    for m in msgs:
        g.apply(m)
    dt = time.perf_counter() - t0
    print(
        f"BuildGraph.apply: {dt:.2f}s  {len(msgs) / dt:,.0f} msgs/s  {n_items / dt:,.0f} items/s"
        f"  ({len(g):,} vertices, {len(g.steps):,} steps, failed={g.failed})"
    )

    del g
    tracemalloc.start()
    g = BuildGraph(log_cap=args.log_cap)
    for m in msgs:
        g.apply(m)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"BuildGraph memory (tracemalloc): peak {peak / 2**20:.1f} MiB, "
        f"retained {current / 2**20:.1f} MiB"
    )
    del g

    out = io.StringIO()
    p = PlainPrinter(out)
    t0 = time.perf_counter()
    for m in msgs:
        p.feed(m)
    p.finish()
    dt = time.perf_counter() - t0
    print(
        f"PlainPrinter.feed: {dt:.2f}s  {len(msgs) / dt:,.0f} msgs/s  "
        f"({len(out.getvalue()) / 1e6:.1f} MB of text)"
    )


if __name__ == "__main__":
    main()
