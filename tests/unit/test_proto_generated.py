"""The checked-in protobuf modules are current and match BuildKit's wire contract."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import descriptor_pool
from google.protobuf.descriptor import FieldDescriptor

from tui.buildkit.proto import (
    auth_pb2,
    control_pb2,
    control_pb2_grpc,
    errdefs_pb2,
    filesync_pb2,
    filesync_pb2_grpc,
    fsutil_types_pb2,
    gateway_pb2,
    gateway_pb2_grpc,
    health_pb2,
    ops_pb2,
    rpc_status_pb2,
    secrets_pb2,
    ssh_pb2,
    worker_pb2,
)

ROOT = Path(__file__).resolve().parents[2]


def test_generated_modules_up_to_date() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "genproto.py"), "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _method_paths() -> set[str]:
    paths: set[str] = set()
    for mod in (
        control_pb2,
        gateway_pb2,
        filesync_pb2,
        auth_pb2,
        secrets_pb2,
        ssh_pb2,
        health_pb2,
    ):
        for svc in mod.DESCRIPTOR.services_by_name.values():
            for m in svc.methods:
                paths.add(f"/{svc.full_name}/{m.name}")
    return paths


@pytest.mark.parametrize(
    "path",
    [
        "/moby.buildkit.v1.Control/Solve",
        "/moby.buildkit.v1.Control/Status",
        "/moby.buildkit.v1.Control/Session",
        "/moby.buildkit.v1.Control/ListWorkers",
        "/moby.buildkit.v1.Control/ListenBuildHistory",
        "/moby.buildkit.v1.frontend.LLBBridge/Ping",
        "/moby.buildkit.v1.frontend.LLBBridge/Solve",
        "/moby.buildkit.v1.frontend.LLBBridge/Return",
        "/moby.buildkit.v1.frontend.LLBBridge/NewContainer",
        "/moby.buildkit.v1.frontend.LLBBridge/ReleaseContainer",
        "/moby.buildkit.v1.frontend.LLBBridge/ExecProcess",
        "/moby.filesync.v1.FileSync/DiffCopy",
        "/moby.filesync.v1.FileSync/TarStream",
        "/moby.filesync.v1.FileSend/DiffCopy",
        "/moby.filesync.v1.Auth/Credentials",
        "/moby.filesync.v1.Auth/GetTokenAuthority",
        "/moby.buildkit.secrets.v1.Secrets/GetSecret",
        "/moby.sshforward.v1.SSH/ForwardAgent",
        "/grpc.health.v1.Health/Check",
    ],
)
def test_method_paths(path: str) -> None:
    assert path in _method_paths()


def test_grpc_stubs_use_exact_paths() -> None:
    class Recorder:
        def __init__(self) -> None:
            self.paths: list[str] = []

        def _rec(self, path: str, *args: object, **kwargs: object) -> object:
            self.paths.append(path)
            return None

        unary_unary = unary_stream = stream_unary = stream_stream = _rec

    rec = Recorder()
    control_pb2_grpc.ControlStub(rec)  # type: ignore[no-untyped-call]
    gateway_pb2_grpc.LLBBridgeStub(rec)  # type: ignore[no-untyped-call]
    filesync_pb2_grpc.FileSyncStub(rec)  # type: ignore[no-untyped-call]
    filesync_pb2_grpc.FileSendStub(rec)  # type: ignore[no-untyped-call]
    assert "/moby.buildkit.v1.Control/Solve" in rec.paths
    assert "/moby.buildkit.v1.frontend.LLBBridge/ExecProcess" in rec.paths
    assert "/moby.filesync.v1.FileSync/DiffCopy" in rec.paths
    assert "/moby.filesync.v1.FileSend/DiffCopy" in rec.paths


def _num(desc: Any, name: str) -> int:
    field: FieldDescriptor = desc.fields_by_name[name]
    return field.number


def test_full_names() -> None:
    assert ops_pb2.Op.DESCRIPTOR.full_name == "pb.Op"
    assert rpc_status_pb2.Status.DESCRIPTOR.full_name == "google.rpc.Status"
    assert errdefs_pb2.Solve.DESCRIPTOR.full_name == "errdefs.Solve"
    assert fsutil_types_pb2.Packet.DESCRIPTOR.full_name == "fsutil.types.Packet"
    assert worker_pb2.WorkerRecord.DESCRIPTOR.full_name == "moby.buildkit.v1.types.WorkerRecord"
    assert gateway_pb2.ExecMessage.DESCRIPTOR.full_name == "moby.buildkit.v1.frontend.ExecMessage"
    pool = descriptor_pool.Default()
    assert pool.FindMessageTypeByName("moby.buildkit.v1.apicaps.APICap") is not None


def test_field_numbers() -> None:
    mount = ops_pb2.Mount.DESCRIPTOR
    assert _num(mount, "resultID") == 23
    assert _num(mount, "mountType") == 6
    assert _num(mount, "TmpfsOpt") == 19
    assert _num(mount, "contentCache") == 24

    ncr = gateway_pb2.NewContainerRequest.DESCRIPTOR
    assert [(f.name, f.number) for f in ncr.fields] == [
        ("ContainerID", 1),
        ("Mounts", 2),
        ("Network", 3),
        ("platform", 4),
        ("constraints", 5),
        ("extraHosts", 6),
        ("hostname", 7),
    ]

    solve = control_pb2.SolveRequest.DESCRIPTOR
    assert _num(solve, "Exporters") == 13
    assert _num(solve, "ExporterDeprecated") == 3
    assert _num(solve, "Session") == 5
    assert _num(solve, "ProxyNetwork") == 17

    packet = fsutil_types_pb2.Packet.DESCRIPTOR
    assert [(f.name, f.number) for f in packet.fields] == [
        ("type", 1),
        ("stat", 2),
        ("ID", 3),
        ("data", 4),
    ]
    assert fsutil_types_pb2.Packet.PACKET_ERR == 4
    stat = fsutil_types_pb2.Stat.DESCRIPTOR
    assert _num(stat, "modTime") == 6
    assert _num(stat, "xattrs") == 10

    exec_msg = gateway_pb2.ExecMessage.DESCRIPTOR
    assert [f.name for f in exec_msg.oneofs_by_name["Input"].fields] == [
        "Init",
        "File",
        "Resize",
        "Started",
        "Exit",
        "Done",
        "Signal",
    ]
    assert _num(gateway_pb2.ReturnRequest.DESCRIPTOR, "error") == 2
    assert _num(ops_pb2.Meta.DESCRIPTOR, "removeMountStubsRecursive") == 11
    assert _num(errdefs_pb2.Solve.DESCRIPTOR, "description") == 6


def test_wire_roundtrip_bytes() -> None:
    # Mount{dest:"/", resultID:"w::r"} encodes with tags 3 and 23 (0xba 0x01).
    m = ops_pb2.Mount(dest="/", resultID="w::r")
    assert m.SerializeToString() == b"\x1a\x01/\xba\x01\x04w::r"
    p = fsutil_types_pb2.Packet(type=fsutil_types_pb2.Packet.PACKET_REQ, ID=5)
    assert p.SerializeToString() == b"\x08\x01\x18\x05"
