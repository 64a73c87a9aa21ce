"""``-q``, ``--iidfile`` and ``--metadata-file`` agree with buildx on the same daemon."""

from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path

import pytest
from conftest import EXAMPLES
from dockerapi import DockerAPI

pytestmark = pytest.mark.daemon

_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def _files(tmp: Path, who: str) -> tuple[str, str]:
    return str(tmp / f"{who}.iid"), str(tmp / f"{who}.json")


def test_quiet_iidfile_metadata_as_buildx(run_bxtui, run_buildx, docker_host: str,  # type: ignore[no-untyped-def]
                                          tmp_path: Path) -> None:
    tag = f"bxtui-flags-{uuid.uuid4().hex[:8]}:1"
    results = {}
    try:
        for who, run in (("bx", run_buildx), ("ours", run_bxtui)):
            iid, meta = _files(tmp_path, who)
            Path(iid).write_text("stale")  # removed at start, then written
            res = run("build", "-q", "-t", tag, "--iidfile", iid, "--metadata-file", meta,
                      str(EXAMPLES / "success"))
            assert res.returncode == 0, res.stderr
            results[who] = (res, Path(iid).read_text(), Path(meta).read_text())
    finally:
        DockerAPI(docker_host).remove_image(tag)
    (bx, bx_iid, bx_meta), (ours, our_iid, our_meta) = results["bx"], results["ours"]
    assert ours.stderr == bx.stderr == ""
    assert _DIGEST.fullmatch(bx_iid)
    assert ours.stdout == bx.stdout == bx_iid + "\n"
    assert our_iid == bx_iid
    assert not our_meta.endswith("\n") and not bx_meta.endswith("\n")
    bx_doc, our_doc = json.loads(bx_meta), json.loads(our_meta)
    # buildx >= 0.14 adds the provenance it reads back from the build history: not bxtui (yet)
    bx_doc.pop("buildx.build.provenance", None)
    assert list(our_doc) == sorted(our_doc) and set(our_doc) == set(bx_doc)
    ref = our_doc.pop("buildx.build.ref")
    assert re.fullmatch(r"default/default/[0-9a-f]{26}", ref)
    assert bx_doc.pop("buildx.build.ref").startswith("default/default/")
    assert our_doc == bx_doc  # digests and image.name
    assert our_meta == json.dumps(json.loads(our_meta), indent=2)  # Go's layout
    assert oct(os.stat(_files(tmp_path, "ours")[1]).st_mode & 0o777) == "0o644"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp")] == []


def test_failed_build_leaves_no_files(run_bxtui, run_buildx, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for who, run in (("bx", run_buildx), ("ours", run_bxtui)):
        iid, meta = _files(tmp_path, who)
        Path(iid).write_text("stale")
        res = run("build", "-q", "--iidfile", iid, "--metadata-file", meta,
                  str(EXAMPLES / "fail-run"))
        assert (res.returncode, res.stdout) == (1, ""), (who, res.stderr)
        assert not os.path.exists(iid) and not os.path.exists(meta), who


@pytest.mark.parametrize("argv", [
    ["-q", "--progress=plain"],
    ["--iidfile", "{tmp}/missing/x"],
    ["--metadata-file", "{tmp}/missing/x"],
])
def test_bad_use_fails_like_buildx(argv: list[str], run_bxtui, run_buildx,  # type: ignore[no-untyped-def]
                                   tmp_path: Path) -> None:
    args = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    bx = run_buildx("build", "--progress=quiet", *args, str(EXAMPLES / "success")) \
        if "-q" not in args else run_buildx("build", *args, str(EXAMPLES / "success"))
    ours = run_bxtui("build", "--progress=quiet", *args, str(EXAMPLES / "success")) \
        if "-q" not in args else run_bxtui("build", *args, str(EXAMPLES / "success"))
    assert bx.returncode == ours.returncode == 1
    assert "Traceback" not in ours.stderr
    err = ours.stderr.splitlines()
    assert len(err) == 1 and err[0].startswith("ERROR: "), ours.stderr
    if "-q" in args:
        assert ours.stderr == bx.stderr  # "progress=plain and quiet cannot be used together"
    else:
        assert ("image ID" in err[0]) == ("--iidfile" in args) and str(tmp_path) in err[0]
    assert list(tmp_path.iterdir()) == []
