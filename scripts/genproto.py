#!/usr/bin/env python3
"""Regenerate the Python modules for tui/buildkit/proto/*.proto.

    python scripts/genproto.py            # write *_pb2.py, *_pb2.pyi, *_pb2_grpc.py in place
    python scripts/genproto.py --check    # exit 1 if the checked-in modules are stale

protoc runs with the repository root as the only include path for our files (plus
grpc_tools' bundled google/protobuf/*.proto), so imports come out as
``from tui.buildkit.proto import ops_pb2``.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_REL = Path("tui", "buildkit", "proto")
PROTO_DIR = ROOT / PROTO_REL
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


def proto_files() -> list[str]:
    """Repo-root-relative paths of every .proto, sorted for deterministic output."""
    return sorted(p.relative_to(ROOT).as_posix() for p in PROTO_DIR.glob("*.proto"))


def generated_names(directory: Path) -> set[str]:
    """Names of generated modules present in ``directory``."""
    if not directory.is_dir():
        return set()
    return {p.name for p in directory.iterdir() if p.name.endswith(GENERATED_SUFFIXES)}


def run_protoc(out_dir: Path) -> None:
    """Run grpc_tools.protoc for all protos, writing under ``out_dir`` (a root)."""
    import grpc_tools
    from grpc_tools import protoc

    include = Path(grpc_tools.__file__).resolve().parent / "_proto"
    protos = proto_files()
    if not protos:
        sys.exit(f"no .proto files in {PROTO_DIR}")
    args = [
        "grpc_tools.protoc",
        f"-I{ROOT}",
        f"-I{include}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *protos,
    ]
    # The proto paths are repo-relative: protoc resolves them from the cwd.
    old = Path.cwd()
    os.chdir(ROOT)
    try:
        rc = protoc.main(args)
    finally:
        os.chdir(old)
    if rc != 0:
        sys.exit(f"protoc failed with exit code {rc}")


def generate() -> int:
    """Regenerate in place, removing generated modules whose .proto is gone."""
    with tempfile.TemporaryDirectory(prefix="genproto-") as tmp:
        out = Path(tmp)
        run_protoc(out)
        fresh_dir = out / PROTO_REL
        fresh = generated_names(fresh_dir)
        for name in sorted(generated_names(PROTO_DIR) - fresh):
            (PROTO_DIR / name).unlink()
            print(f"removed {PROTO_REL / name}")
        for name in sorted(fresh):
            dst = PROTO_DIR / name
            if dst.exists() and filecmp.cmp(fresh_dir / name, dst, shallow=False):
                continue
            shutil.copyfile(fresh_dir / name, dst)
            print(f"wrote {PROTO_REL / name}")
    return 0


def check() -> int:
    """Return 1 (and list the offenders) if checked-in modules differ from fresh output."""
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="genproto-") as tmp:
        out = Path(tmp)
        run_protoc(out)
        fresh_dir = out / PROTO_REL
        fresh = generated_names(fresh_dir)
        current = generated_names(PROTO_DIR)
        for name in sorted(fresh | current):
            rel = PROTO_REL / name
            if name not in current:
                problems.append(f"missing: {rel}")
            elif name not in fresh:
                problems.append(f"extra: {rel}")
            elif not filecmp.cmp(fresh_dir / name, PROTO_DIR / name, shallow=False):
                problems.append(f"differs: {rel}")
    if problems:
        print("generated protobuf modules are stale; run: python scripts/genproto.py")
        for line in problems:
            print(f"  {line}")
        return 1
    print("generated protobuf modules are up to date")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--check", action="store_true", help="only verify the checked-in modules are current"
    )
    ns = parser.parse_args(argv)
    return check() if ns.check else generate()


if __name__ == "__main__":
    sys.exit(main())
