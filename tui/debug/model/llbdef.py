"""An LLB definition as a graph of ops: find a vertex, cut the sub-graph that ends at it.

A frontend's result carries its definition; every op in it is keyed by the digest of its
bytes, which is also the digest BuildKit names the vertex by in the status stream.  Solving
the sub-graph that ends at a completed vertex is a cache hit: it yields that vertex's state
without running anything again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass

from tui.buildkit.defs import op_blobs, ref_definition
from tui.buildkit.proto import gateway_pb2, ops_pb2
from tui.debug.model.failure import SourceSnippet
from tui.debug.model.graph import OpInfo, SourceRange, VertexSource

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def op_digest(data: bytes) -> str:
    """The digest BuildKit gives an op (and its vertex): sha256 of its marshalled bytes."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class LocalSource:
    """A ``local://`` source op: which local dir and which patterns the daemon asked for."""

    name: str
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    followpaths: tuple[str, ...]


class LLBDefinition:
    """The ops of one definition by digest, with their metadata."""

    def __init__(self, definition: ops_pb2.Definition) -> None:
        self.definition = definition
        self.raw: dict[str, bytes] = {}
        self.ops: dict[str, ops_pb2.Op] = {}
        for data in op_blobs(definition):
            op = ops_pb2.Op()
            op.ParseFromString(data)
            digest = op_digest(data)
            self.raw[digest] = data
            self.ops[digest] = op

    def __contains__(self, digest: str) -> bool:
        return digest in self.ops

    def merge(self, other: LLBDefinition) -> None:
        """Add the ops of another definition (e.g. one platform's beside another's)."""
        for digest, data in other.raw.items():
            if digest not in self.raw:
                self.raw[digest] = data
                self.ops[digest] = other.ops[digest]
        for digest, meta in other.definition.metadata.items():
            if digest not in self.definition.metadata:
                self.definition.metadata[digest].CopyFrom(meta)

    def op_infos(self) -> dict[str, OpInfo]:
        """Name, inputs and Dockerfile lines of every vertex, as this definition has them."""
        meta = self.definition.metadata
        source = self.definition.Source if self.definition.HasField("Source") else None
        out: dict[str, OpInfo] = {}
        for digest, op in self.ops.items():
            if op.WhichOneof("op") is None:
                continue  # the terminal op that only names the result: never a vertex
            m = meta.get(digest)
            name = m.description.get("llb.customname", "") if m is not None else ""
            out[digest] = OpInfo(name, tuple(i.digest for i in op.inputs),
                                 _source_of(source, digest))
        return out

    def ancestors(self, digest: str) -> list[str]:
        """``digest`` and every op it depends on (each once; ``digest`` first)."""
        seen: set[str] = set()
        order: list[str] = []
        stack = [digest]
        while stack:
            d = stack.pop()
            if d in seen or d not in self.ops:
                continue
            seen.add(d)
            order.append(d)
            stack.extend(i.digest for i in self.ops[d].inputs)
        return order

    def subgraph(self, digest: str, output: int = 0,
                 uncached: Iterable[str] | None = None) -> ops_pb2.Definition:
        """A definition whose result is output ``output`` of ``digest``.

        Cache marks (``--no-cache``) are dropped, or with ``uncached`` kept for those ops only.
        """
        keep = set(uncached) if uncached is not None else set()
        if digest not in self.ops:
            raise KeyError(digest)
        out = ops_pb2.Definition()
        body = op_blobs(out)
        for d in reversed(self.ancestors(digest)):
            body.append(self.raw[d])
            if d in self.definition.metadata:
                meta = out.metadata[d]
                meta.CopyFrom(self.definition.metadata[d])
                meta.ignore_cache = meta.ignore_cache and d in keep
        terminal = ops_pb2.Op(inputs=[ops_pb2.Input(digest=digest, index=output)])
        body.append(terminal.SerializeToString())
        if self.definition.HasField("Source"):
            out.Source.CopyFrom(self.definition.Source)
        return out

    def exec_meta(self, digest: str) -> ops_pb2.Meta | None:
        """The process config in force at ``digest``.

        Its own exec meta, else that of the nearest exec op up its first-input chain (a COPY
        after a RUN), else None.
        """
        d: str | None = digest
        seen: set[str] = set()
        while d is not None and d in self.ops and d not in seen:
            seen.add(d)
            op = self.ops[d]
            if op.HasField("exec"):
                return op.exec.meta
            d = op.inputs[0].digest if op.inputs else None
        return None

    def find_exec(self, ex: ops_pb2.ExecOp) -> list[str]:
        """Digests of the exec ops running ``ex``.

        For an error's op: its inputs' digests are the daemon's, which may differ from the
        definition's.
        """
        return [d for d, op in self.ops.items() if op.HasField("exec") and op.exec == ex]

    def source_snippets(self, digest: str) -> tuple[SourceSnippet, ...]:
        """Every source location of ``digest``, with the file's bytes (the error's fallback)."""
        source = self.definition.Source if self.definition.HasField("Source") else None
        if source is None or digest not in source.locations:
            return ()
        out: list[SourceSnippet] = []
        for loc in source.locations[digest].locations:
            if 0 <= loc.sourceIndex < len(source.infos):
                info = source.infos[loc.sourceIndex]
                ranges = tuple((r.start.line, r.end.line or r.start.line) for r in loc.ranges)
                out.append(SourceSnippet(info.filename, info.data, ranges,
                                         info.language or "Dockerfile"))
        return tuple(out)

    def platform(self, digest: str) -> ops_pb2.Platform | None:
        """The op's platform, if set."""
        op = self.ops.get(digest)
        return op.platform if op is not None and op.HasField("platform") else None

    def local_source(self, digest: str) -> LocalSource | None:
        """The ``local://`` source op at ``digest`` (None for any other op)."""
        op = self.ops.get(digest)
        if op is None or not op.HasField("source"):
            return None
        ident = op.source.identifier
        if not ident.startswith("local://"):
            return None
        attrs = op.source.attrs

        def patterns(key: str) -> tuple[str, ...]:
            raw = attrs.get(key)
            if not raw:
                return ()
            try:
                value = json.loads(raw)
            except ValueError:
                return ()
            return tuple(str(v) for v in value) if isinstance(value, list) else ()

        return LocalSource(
            name=ident.removeprefix("local://"),
            include=patterns("local.includepattern") or patterns("local.includepatterns"),
            exclude=patterns("local.excludepatterns"),
            followpaths=patterns("local.followpaths"),
        )

    def describe(self, digest: str) -> str:
        """A short name for an op: its custom name from the metadata, else its kind."""
        meta = self.definition.metadata.get(digest)
        if meta is not None and meta.description.get("llb.customname"):
            return meta.description["llb.customname"]
        op = self.ops.get(digest)
        if op is None:
            return digest[:19]
        kind = op.WhichOneof("op") or "op"
        if kind == "source":
            return op.source.identifier
        if kind == "exec":
            return " ".join(op.exec.meta.args)
        return kind


def _source_of(source: ops_pb2.Source | None, digest: str) -> VertexSource | None:
    """The first source location the definition gives for ``digest``."""
    if source is None or digest not in source.locations:
        return None
    for loc in source.locations[digest].locations:
        if 0 <= loc.sourceIndex < len(source.infos):
            ranges = tuple(SourceRange(r.start.line, r.start.character, r.end.line,
                                       r.end.character) for r in loc.ranges)
            return VertexSource(source.infos[loc.sourceIndex].filename, ranges)
    return None


def merged_definition(refs: Iterable[gateway_pb2.Ref]) -> LLBDefinition | None:
    """The definitions of a result's refs as one (None when no ref carries one)."""
    merged: LLBDefinition | None = None
    for ref in refs:
        definition = ref_definition(ref)
        if definition is None:
            continue
        one = LLBDefinition(definition)
        if merged is None:
            merged = one
        else:
            merged.merge(one)
    return merged


def step_order(definition: LLBDefinition) -> list[str]:
    """The build's steps (ops with a Dockerfile location), each after every op it needs.

    A depth-first walk from the result, inputs in order: a Dockerfile's steps come out in
    the order a reader expects, each stage before the steps that use it.
    """
    source = definition.definition.Source if definition.definition.HasField("Source") else None
    located = set(source.locations) if source is not None else set()
    heads = [i.digest for op in definition.ops.values() if op.WhichOneof("op") is None
             for i in op.inputs]
    seen: set[str] = set()
    order: list[str] = []

    def visit(start: str) -> None:
        stack: list[tuple[str, bool]] = [(start, False)]
        while stack:
            d, expanded = stack.pop()
            if expanded:
                if d in located:
                    order.append(d)
                continue
            if d in seen or d not in definition.ops:
                continue
            seen.add(d)
            stack.append((d, True))
            stack.extend((i.digest, False) for i in reversed(definition.ops[d].inputs))

    for head in heads:
        visit(head)
    return order
