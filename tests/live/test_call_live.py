"""``--call=check|outline|targets`` beside the buildx peer on the same daemon.

buildx 0.13.1 (engine 26) has no ``--call`` and BuildKit 0.13's frontend no lint request: there
bxtui's check is one "does not support" line, and outline/targets (built in since BuildKit
0.11) are checked on their own; the comparisons run where the peer has the flag (engine 28).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

DOCKERFILE = """\
ARG BASE=busybox:local
FROM ${BASE} as base
MAINTAINER someone
ARG GREETING=hi
# build runs the app
FROM base AS build
ARG FLAVOR
RUN echo $GREETING
FROM base AS release
COPY --from=build /bin/sh /x
CMD echo hi
"""

CLEAN = "FROM busybox:local AS base\nCMD [\"true\"]\n"


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("call")
    (d / "Dockerfile").write_text(DOCKERFILE)
    (d / "clean.Dockerfile").write_text(CLEAN)
    return d


@pytest.fixture(scope="module")
def peer_has_call(docker_host: str, buildx: str) -> bool:
    """Whether the buildx peer knows ``--call`` (0.15 and later)."""
    out = subprocess.run([buildx, "build", "--help"], capture_output=True, text=True,
                         timeout=60, env={"DOCKER_HOST": docker_host})
    return "--call" in out.stdout


def _strip_session(doc: Any) -> Any:
    """result.json without the lint source's definition (it names the session)."""
    for src in doc.get("sources") or []:
        if isinstance(src, dict):
            src.pop("definition", None)
    return doc


def _both(run_bxtui: Any, run_buildx: Any, *args: str
          ) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    return run_bxtui("build", "--progress=plain", *args), run_buildx("build", *args)


@pytest.mark.parametrize("call", ["outline", "targets", "targets,format=json"])
def test_outline_targets_as_buildx(ctx: Path, call: str, peer_has_call: bool,
                                   run_bxtui: Any, run_buildx: Any) -> None:
    ours, peer = _both(run_bxtui, run_buildx, f"--call={call}", str(ctx))
    assert ours.returncode == 0, ours.stderr
    if not peer_has_call:  # buildx 0.13.1: nothing to compare with
        assert "unknown flag: --call" in peer.stderr
        assert ("TARGET" in ours.stdout) if "json" not in call else json.loads(ours.stdout)
        return
    assert peer.returncode == 0, peer.stderr
    assert ours.stdout == peer.stdout
    assert "build             runs the app" in ours.stdout or call != "targets"


@pytest.mark.parametrize("call", ["check", "check,ignorestatus=true", "check,format=json"])
def test_check_as_buildx(ctx: Path, call: str, peer_has_call: bool,
                         run_bxtui: Any, run_buildx: Any) -> None:
    ours, peer = _both(run_bxtui, run_buildx, f"--call={call}", str(ctx))
    if not peer_has_call:  # BuildKit 0.13: no lint request in the daemon's frontend
        assert ours.returncode == 1 and ours.stdout == ""
        last = ours.stderr.strip().splitlines()[-1]
        assert last.startswith("ERROR: the daemon's Dockerfile frontend does not support "
                               "--call=check"), ours.stderr
        assert "Traceback" not in ours.stderr
        return
    assert (ours.returncode, peer.returncode) == ((0, 0) if "ignorestatus" in call else (1, 1))
    if "json" in call:
        assert _strip_session(json.loads(ours.stdout)) == _strip_session(json.loads(peer.stdout))
    else:
        assert ours.stdout == peer.stdout
        assert ours.stdout.startswith("Check complete, 3 warnings have been found!\n")
        assert "WARNING: FromAsCasing - " in ours.stdout


def test_check_clean_and_unknown_call(ctx: Path, peer_has_call: bool,
                                      run_bxtui: Any, run_buildx: Any) -> None:
    ours, peer = _both(run_bxtui, run_buildx, "--call=bogus", str(ctx))
    assert (ours.returncode, peer.returncode) == (1, 1)
    # BuildKit 0.13 repeats the reason ("...frontend.bogus: unsupported request ..."): as sent
    assert ours.stderr.strip().splitlines()[-1].startswith(
        "ERROR: failed to solve: unsupported request frontend.bogus")
    if not peer_has_call:  # buildx 0.13.1 refuses the flag itself; engine 26 has no lint
        assert "unknown flag: --call" in peer.stderr
        return
    assert "unsupported request frontend.bogus" in peer.stderr.strip().splitlines()[-1]
    ours, peer = _both(run_bxtui, run_buildx, "--call=check", "-f",
                       str(ctx / "clean.Dockerfile"), str(ctx))
    assert (ours.returncode, peer.returncode) == (0, 0)
    assert ours.stdout == peer.stdout == "Check complete, no warnings found.\n"


def _summary(stderr: str) -> list[str]:
    """The end-of-build warning summary lines (the heading's hint names each tool's flag)."""
    lines = stderr.replace("\x1b[33m", "").replace("\x1b[0m", "").splitlines()
    start = next((i for i, ln in enumerate(lines) if "warnings found" in ln), len(lines))
    return [ln.replace("use docker --debug", "use --debug") for ln in lines[start:]
            if ln.startswith(" ")]


def test_plain_build_warning_summary_as_buildx(ctx: Path, tmp_path: Path,
                                               run_bxtui: Any, run_buildx: Any) -> None:
    ours = run_bxtui("build", "--progress=plain", "-o", f"type=local,dest={tmp_path / 'a'}",
                     str(ctx))
    peer = run_buildx("build", "--progress=plain", "-o", f"type=local,dest={tmp_path / 'b'}",
                      str(ctx))
    assert (ours.returncode, peer.returncode) == (0, 0), ours.stderr + peer.stderr
    assert _summary(ours.stderr) == _summary(peer.stderr)
    if "warnings found" in peer.stderr:  # BuildKit 0.14 and later lint ordinary builds
        assert _summary(ours.stderr)[0] == " 3 warnings found (use --debug to expand):"
        assert " - MaintainerDeprecated: Maintainer instruction is deprecated in favor of " \
            "using label (line 3)" in _summary(ours.stderr)
