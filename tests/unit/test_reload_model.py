"""The reload model: step classification and the Dockerfile line diff."""

from __future__ import annotations

from tui.debug.model.reload import (
    PreviousBuild,
    StepChange,
    classify,
    dockerfile_changes,
    instruction_of,
)

OLD = "FROM a\nRUN one\nRUN two\nRUN three\n"


def test_instruction_drops_the_position_prefix() -> None:
    assert instruction_of("[stage-0 2/5] RUN echo hi") == "RUN echo hi"
    assert instruction_of("[internal] load build definition") == "load build definition"
    assert instruction_of("RUN plain") == "RUN plain"


def test_classify_by_cache_digest_and_text() -> None:
    prev = PreviousBuild.of([("sha256:a", "[1/3] RUN one"), ("sha256:b", "[2/3] RUN two")], OLD)
    assert classify(prev, "sha256:x", "[1/4] RUN one", cached=True) is StepChange.CACHED
    assert classify(prev, "sha256:b", "[9/9] RUN renamed", cached=False) is StepChange.RERAN
    assert classify(prev, "sha256:y", "[3/4] RUN two", cached=False) is StepChange.RERAN
    assert classify(prev, "sha256:z", "[4/4] RUN four", cached=False) is StepChange.NEW


def test_changed_inserted_and_removed_lines() -> None:
    assert not dockerfile_changes(OLD, OLD)
    assert dockerfile_changes(OLD, OLD.replace("\n", "\r\n")).changed == ()
    edit = dockerfile_changes(OLD, "FROM a\nRUN one\nRUN 2\nRUN three\n")
    assert edit.changed == (3,) and edit.removed == 0
    assert edit.describe() == "Dockerfile since the last build: line 3 changed"
    added = dockerfile_changes(OLD, "FROM a\nRUN one\nRUN x\nRUN y\nRUN two\nRUN three\n")
    assert added.changed == (3, 4)
    assert "lines 3-4 changed" in added.describe()
    gone = dockerfile_changes(OLD, "FROM a\nRUN three\n")
    assert gone.changed == () and gone.removed == 2
    assert gone.describe() == "Dockerfile since the last build: 2 lines removed"
    both = dockerfile_changes(OLD, "FROM b\nRUN one\nRUN three\n")
    assert both.changed == (1,) and both.removed == 1


def test_unreadable_dockerfile() -> None:
    changes = dockerfile_changes(None, OLD)
    assert not changes.readable and "could not be read" in changes.describe()


def test_snapshot_keeps_only_steps_that_ran() -> None:
    """A step the failed build never reached is new when the next build runs it."""
    from google.protobuf.timestamp_pb2 import Timestamp

    from tui.buildkit.proto import control_pb2
    from tui.debug.engine.reload import snapshot
    from tui.debug.model.graph import BuildGraph

    graph = BuildGraph()
    resp = control_pb2.StatusResponse()
    t = Timestamp(seconds=1)
    resp.vertexes.add(digest="sha256:a", name="[1/3] RUN ok", started=t, completed=t)
    resp.vertexes.add(digest="sha256:b", name="[2/3] RUN bad", started=t, completed=t,
                      error="exit code: 1")
    resp.vertexes.add(digest="sha256:c", name="[3/3] RUN never", inputs=["sha256:b"])
    graph.apply(resp)
    prev = snapshot(graph, "FROM x\n")
    assert prev.digests == {"sha256:a", "sha256:b"}
    assert classify(prev, "sha256:c", "[3/3] RUN never", cached=False) is StepChange.NEW
    assert classify(prev, "sha256:b2", "[2/3] RUN bad", cached=False) is StepChange.RERAN
