"""Breakpoint walking without a daemon: the step order of a definition, continue and next."""

from __future__ import annotations

from tui.buildkit.proto import ops_pb2
from tui.debug.model.llbdef import LLBDefinition, op_digest, step_order
from tui.debug.model.pause import Resume, Walk, Where


def _op(**kw: object) -> tuple[bytes, str]:
    data = ops_pb2.Op(**kw).SerializeToString()  # type: ignore[arg-type]
    return data, op_digest(data)


def _run(name: str, *inputs: str) -> tuple[bytes, str]:
    return _op(inputs=[ops_pb2.Input(digest=d) for d in inputs],
               exec=ops_pb2.ExecOp(meta=ops_pb2.Meta(args=[name])))


def test_step_order_puts_each_stage_before_its_users_and_skips_unlocated_ops() -> None:
    base, d_base = _op(source=ops_pb2.SourceOp(identifier="docker-image://x"))
    ctx, d_ctx = _op(source=ops_pb2.SourceOp(identifier="local://context"))
    a1, d_a1 = _run("a1", d_base)
    b1, d_b1 = _run("b1", d_base)
    b2, d_b2 = _run("b2", d_b1)
    copy, d_copy = _op(inputs=[ops_pb2.Input(digest=d_a1), ops_pb2.Input(digest=d_b2),
                               ops_pb2.Input(digest=d_ctx)], file=ops_pb2.FileOp())
    a2, d_a2 = _run("a2", d_copy)
    terminal = ops_pb2.Op(inputs=[ops_pb2.Input(digest=d_a2)]).SerializeToString()
    definition = ops_pb2.Definition()
    getattr(definition, "def").extend([a2, copy, b2, b1, a1, ctx, base, terminal])
    definition.Source.infos.add(filename="Dockerfile")
    for line, d in enumerate((d_base, d_a1, d_b1, d_b2, d_copy, d_a2), start=1):
        loc = definition.Source.locations[d].locations.add(sourceIndex=0)
        loc.ranges.add().start.line = line
    order = step_order(LLBDefinition(definition))
    assert order == [d_base, d_a1, d_b1, d_b2, d_copy, d_a2]  # no local://context


def test_continue_goes_from_breakpoint_to_breakpoint_then_to_the_end() -> None:
    walk = Walk().go(Resume.CONTINUE, 5, [1, 3])
    assert walk == Walk(1, Where.BEFORE)
    walk = walk.go(Resume.CONTINUE, 5, [1, 3])
    assert walk == Walk(3, Where.BEFORE)
    assert walk.go(Resume.CONTINUE, 5, [1, 3]) is None


def test_next_runs_this_step_then_one_more_stopping_before_a_breakpoint() -> None:
    walk = Walk(1, Where.BEFORE).go(Resume.NEXT, 5, [1, 3])
    assert walk == Walk(1, Where.AFTER)
    walk = walk.go(Resume.NEXT, 5, [1, 3])
    assert walk == Walk(2, Where.AFTER)
    walk = walk.go(Resume.NEXT, 5, [1, 3])
    assert walk == Walk(3, Where.BEFORE)  # a breakpoint on the way: paused before it
    walk = walk.go(Resume.NEXT, 5, [1, 3])
    assert walk == Walk(3, Where.AFTER)
    walk = walk.go(Resume.NEXT, 5, [1, 3])
    assert walk == Walk(4, Where.AFTER)
    assert walk.go(Resume.NEXT, 5, [1, 3]) is None
