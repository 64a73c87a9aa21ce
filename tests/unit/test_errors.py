from __future__ import annotations

import base64
import json
from typing import Any

import grpc
import pytest
from google.protobuf import any_pb2

from tui.buildkit import errors
from tui.buildkit.errors import (
    BuildError,
    SourceRange,
    error_from_exit,
    error_from_rpc,
    error_from_status,
    exit_code_of,
    status_from_error,
)
from tui.buildkit.proto import gateway_pb2, ops_pb2, rpc_status_pb2

URL = "github.com/moby/buildkit/"
DOCKERFILE = b"FROM busybox\nRUN echo partial > /marker && false\n"
MESSAGE = (
    'process "/bin/sh -c echo partial > /marker && false" did not complete '
    "successfully: exit code: 1"
)


def _any(kind: str, value: Any) -> any_pb2.Any:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return any_pb2.Any(type_url=URL + kind + "+json", value=raw)


def _stack(n: int) -> any_pb2.Any:
    return _any(
        "stack.Stack",
        {
            "frames": [{"Name": f"main.f{n}", "File": "/src/x.go", "Line": 10 + n}],
            "cmdline": ["dockerd"],
            "pid": 123,
            "version": "v0.13.2",
            "revision": "abc",
        },
    )


SOLVE_EXEC = {
    "inputIDs": ["w1::in0", "", "w1::in2"],
    "mountIDs": ["w1::out0", "", "w1::out2"],
    "op": {
        "inputs": [{"digest": "sha256:1111"}],
        "exec": {
            "meta": {
                "args": ["/bin/sh", "-c", "echo partial > /marker && false"],
                "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                "cwd": "/",
                "removeMountStubsRecursive": True,
            },
            "mounts": [
                {"dest": "/"},
                {"input": "-1", "dest": "/tmp", "output": "-1", "mountType": "TMPFS"},
                {
                    "input": "-1",
                    "dest": "/root/.cache",
                    "output": "1",
                    "mountType": "CACHE",
                    "cacheOpt": {"ID": "gocache", "sharing": "LOCKED"},
                },
            ],
            "network": "HOST",
        },
        "platform": {"Architecture": "amd64", "OS": "linux"},
        "constraints": {},
        "someFutureField": {"x": 1},
    },
}

SOURCE = {
    "info": {
        "filename": "Dockerfile",
        "data": base64.b64encode(DOCKERFILE).decode(),
        "definition": {"def": ["AAAA"], "metadata": {}, "Source": None},
        "language": "Dockerfile",
    },
    "ranges": [{"start": {"line": 2}, "end": {"line": 2}}],
}

VERTEX = {"digest": "sha256:2222"}


def _live_status() -> rpc_status_pb2.Status:
    """Status shaped like the live failing build: 3x Stack, Solve, Source, Vertex, Exit."""
    return rpc_status_pb2.Status(
        code=2,
        message=MESSAGE,
        details=[
            _stack(1),
            _stack(2),
            _stack(3),
            _any("errdefs.Solve", SOLVE_EXEC),
            _any("errdefs.Source", SOURCE),
            _any("errdefs.Vertex", VERTEX),
            _any("gatewayapi.ExitMessage", {"Code": 1}),
        ],
    )


def test_decode_live_shape() -> None:
    status = _live_status()
    err = error_from_status(status)
    assert isinstance(err, Exception)
    assert err.message == MESSAGE
    assert str(err) == MESSAGE
    assert err.code == grpc.StatusCode.UNKNOWN
    assert err.status is status
    assert err.stack_count == 3
    assert err.exit_code == 1
    assert err.vertex == "sha256:2222"

    solve = err.solve
    assert solve is not None
    assert solve.input_ids == ("w1::in0", "", "w1::in2")
    assert solve.mount_ids == ("w1::out0", "", "w1::out2")
    assert solve.op_kind == "exec"
    assert solve.file_index is None
    assert solve.cache_index is None
    assert solve.description == {}
    ex = solve.exec
    assert ex is not None
    assert list(ex.meta.args) == ["/bin/sh", "-c", "echo partial > /marker && false"]
    assert ex.meta.removeMountStubsRecursive
    assert ex.network == ops_pb2.HOST
    assert len(ex.mounts) == 3
    assert ex.mounts[0].dest == "/"
    assert ex.mounts[1].mountType == ops_pb2.TMPFS
    assert ex.mounts[1].input == -1
    assert ex.mounts[2].cacheOpt.ID == "gocache"
    assert ex.mounts[2].cacheOpt.sharing == ops_pb2.LOCKED
    assert solve.op.inputs[0].digest == "sha256:1111"
    assert solve.op.platform.Architecture == "amd64"
    assert solve.op.platform.OS == "linux"
    assert solve.file_action is None

    assert len(err.sources) == 1
    src = err.sources[0]
    assert src.filename == "Dockerfile"
    assert src.language == "Dockerfile"
    assert src.data == DOCKERFILE
    assert src.ranges == (SourceRange(2, 0, 2, 0),)

    assert status_from_error(err) is status
    assert exit_code_of(status) == 1


def test_file_op_solve_with_description() -> None:
    solve_json = {
        "inputIDs": ["w::a", "w::b"],
        "mountIDs": ["w::c"],
        "op": {
            "inputs": [{"digest": "sha256:a"}, {"digest": "sha256:b", "index": "1"}],
            "file": {
                "actions": [
                    {"input": "0", "secondaryInput": "-1", "output": "-1", "mkdir": {"path": "/x"}},
                    {
                        "input": "2",
                        "secondaryInput": "1",
                        "output": "0",
                        "copy": {"src": "/a.txt", "dest": "/b.txt", "mode": -1},
                    },
                ]
            },
        },
        "file": {"index": "1"},
        "description": {"llb.customname": "[2/3] COPY a.txt /b.txt"},
    }
    st = rpc_status_pb2.Status(
        code=2, message="failed", details=[_any("errdefs.Solve", solve_json)]
    )
    err = error_from_status(st)
    assert err.solve is not None
    assert err.solve.op_kind == "file"
    assert err.solve.exec is None
    assert err.solve.file_index == 1
    assert err.solve.cache_index is None
    assert err.solve.description == {"llb.customname": "[2/3] COPY a.txt /b.txt"}
    action = err.solve.file_action
    assert action is not None
    assert action.copy.src == "/a.txt"
    assert err.solve.op.inputs[1].index == 1
    assert err.exit_code is None
    assert err.vertex is None
    assert err.sources == ()


def test_cache_subject() -> None:
    solve_json = {
        "inputIDs": ["w::x"],
        "op": {"source": {"identifier": "local://context"}},
        "cache": {"index": "0"},
    }
    err = error_from_status(
        rpc_status_pb2.Status(code=2, message="m", details=[_any("errdefs.Solve", solve_json)])
    )
    assert err.solve is not None
    assert err.solve.op_kind == "source"
    assert err.solve.cache_index == 0
    assert err.solve.file_index is None
    assert err.solve.mount_ids == ()


def test_unknown_and_malformed_details_are_skipped() -> None:
    st = rpc_status_pb2.Status(
        code=2,
        message="boom",
        details=[
            any_pb2.Any(type_url="type.googleapis.com/some.Unknown", value=b"\x08\x01"),
            _any("errdefs.Frontend", {"name": "dockerfile.v0"}),
            _any("errdefs.Solve", b'{"inputIDs": ["a", "b"], "op": {"exec": {"me'),  # truncated
            _any("errdefs.Solve", b'{"inputIDs": 5}'),  # wrong type
            _any("errdefs.Source", b'{"info": {"filename": "Dockerf'),  # truncated
            _any("errdefs.Source", b"[1, 2]"),  # not an object
            _any("errdefs.Source", {"info": "nope"}),
            _any("errdefs.Vertex", b"\xff\xfe"),  # not UTF-8/JSON
            _any("gatewayapi.ExitMessage", b"{"),
            _any("stack.Stack", b"null"),
            _any("errdefs.Vertex", {"digest": "sha256:ok"}),
            _any("errdefs.FrontendCap", {"name": "moby.buildkit.frontend.inputs"}),
            _any("errdefs.Subrequest", {"name": "frontend.outline"}),
        ],
    )
    err = error_from_status(st)
    assert err.message == "boom"
    assert err.solve is None
    assert err.sources == ()
    assert err.exit_code is None
    assert err.stack_count == 0
    assert err.vertex == "sha256:ok"
    assert err.frontend_caps == ("moby.buildkit.frontend.inputs",)
    assert err.subrequests == ("frontend.outline",)


def test_source_with_bad_base64_and_odd_ranges() -> None:
    src = {
        "info": {"filename": "Dockerfile", "data": "!!not base64!!", "language": "Dockerfile"},
        "ranges": [
            {"start": {"line": 3, "character": 4}, "end": {"line": 5, "character": 9}},
            "junk",
            {"start": {"line": "7"}},
        ],
    }
    err = error_from_status(
        rpc_status_pb2.Status(code=2, message="m", details=[_any("errdefs.Source", src)])
    )
    assert len(err.sources) == 1
    s = err.sources[0]
    assert s.data == b""
    assert s.ranges == (SourceRange(3, 4, 5, 9), SourceRange(7, 0, 0, 0))


def test_first_detail_of_a_kind_wins() -> None:
    st = rpc_status_pb2.Status(
        code=2,
        message="m",
        details=[
            _any("errdefs.Vertex", {"digest": "sha256:outer"}),
            _any("errdefs.Vertex", {"digest": "sha256:inner"}),
            _any("gatewayapi.ExitMessage", {"Code": 137}),
            _any("gatewayapi.ExitMessage", {"Code": 1}),
            _any("errdefs.Source", SOURCE),
            _any("errdefs.Source", SOURCE),
        ],
    )
    err = error_from_status(st)
    assert err.vertex == "sha256:outer"
    assert err.exit_code == 137
    assert len(err.sources) == 2


def FakeRpcError(
    code: grpc.StatusCode, details: str, trailing: tuple[tuple[str, Any], ...] = ()
) -> grpc.aio.AioRpcError:
    """The error grpc.aio raises for a failed call, with these trailers."""
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(*trailing),
                                details)


def test_error_from_rpc_with_details() -> None:
    status = _live_status()
    rpc = FakeRpcError(
        grpc.StatusCode.UNKNOWN,
        MESSAGE,
        (
            ("content-type", "application/grpc"),
            ("grpc-status-details-bin", status.SerializeToString()),
        ),
    )
    err = error_from_rpc(rpc)
    assert err.message == MESSAGE
    assert err.code == grpc.StatusCode.UNKNOWN
    assert err.exit_code == 1
    assert err.solve is not None and err.solve.op_kind == "exec"
    assert err.status == status
    assert status_from_error(err).SerializeToString() == status.SerializeToString()


def test_error_from_rpc_with_aio_metadata() -> None:
    status = rpc_status_pb2.Status(code=5, message="no such job r1", details=[_stack(1)])
    md = grpc.aio.Metadata(("grpc-status-details-bin", status.SerializeToString()))
    err = error_from_rpc(FakeRpcError(grpc.StatusCode.NOT_FOUND, "no such job r1", tuple(md)))
    assert err.code == grpc.StatusCode.NOT_FOUND
    assert err.stack_count == 1


def test_error_from_rpc_fallback() -> None:
    err = error_from_rpc(FakeRpcError(grpc.StatusCode.UNAVAILABLE, "connection refused"))
    assert err.code == grpc.StatusCode.UNAVAILABLE
    assert err.message == "connection refused"
    assert err.status is None
    assert err.solve is None
    st = status_from_error(err)
    assert st.code == grpc.StatusCode.UNAVAILABLE.value[0]
    assert st.message == "connection refused"
    assert list(st.details) == []


def test_error_from_rpc_garbage_trailer() -> None:
    rpc = FakeRpcError(
        grpc.StatusCode.INTERNAL, "oops", (("grpc-status-details-bin", b"\xff\xff\xff"),)
    )
    err = error_from_rpc(rpc)
    assert err.code == grpc.StatusCode.INTERNAL
    assert err.message == "oops"
    assert err.status is None


def test_error_from_bare_rpc_error() -> None:
    err = error_from_rpc(grpc.RpcError("plain"))
    assert err.code == grpc.StatusCode.UNKNOWN
    assert err.message == "plain"


def test_status_from_fresh_error() -> None:
    st = status_from_error(BuildError("frontend crashed"))
    assert st.code == 2
    assert st.message == "frontend crashed"
    assert status_from_error(BuildError("x", 0)).code == 2


def test_unknown_numeric_code_kept() -> None:
    err = error_from_status(rpc_status_pb2.Status(code=99, message="weird"))
    assert err.code == 99
    assert status_from_error(err).code == 99


def test_exec_exit_messages() -> None:
    assert error_from_exit(gateway_pb2.ExitMessage()) is None
    exit_status = rpc_status_pb2.Status(
        code=2,
        message="exit code: 7",
        details=[_stack(1), _any("gatewayapi.ExitMessage", {"Code": 7})],
    )
    msg = gateway_pb2.ExitMessage(Code=7, Error=exit_status)
    err = error_from_exit(msg)
    assert err is not None
    assert err.exit_code == 7
    assert err.message == "exit code: 7"
    assert exit_code_of(exit_status) == 7
    assert exit_code_of(rpc_status_pb2.Status(code=2, message="x")) is None
    bare = error_from_exit(gateway_pb2.ExitMessage(Code=255))
    assert bare is not None and bare.exit_code == 255


@pytest.mark.parametrize("name", errors.__all__)
def test_public_names_exist(name: str) -> None:
    assert hasattr(errors, name)
