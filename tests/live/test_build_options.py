"""buildx flags on the real daemon: tags, labels, targets, named contexts, outputs, network."""

from __future__ import annotations

import secrets
import tarfile
from pathlib import Path

import pytest
from conftest import EXAMPLES
from dockerapi import DockerAPI
from plainlog import parse_plain

pytestmark = pytest.mark.daemon


def test_tags_and_labels_load_into_engine(docker_host: str, run_bxtui) -> None:  # type: ignore[no-untyped-def]
    api = DockerAPI(docker_host)
    tag = secrets.token_hex(4)
    names = [f"bxtui-test/one:{tag}", f"bxtui-test/two:{tag}"]
    try:
        res = run_bxtui(
            "build", "--progress=plain", "-t", names[0], "-t", names[1],
            "--label", "org.example.k=v1", str(EXAMPLES / "success"),
        )
        assert res.returncode == 0, res.stderr
        imgs = [api.image(n) for n in names]
        assert all(imgs), "both tags must exist in the engine's image store"
        assert imgs[0] and imgs[1] and imgs[0]["Id"] == imgs[1]["Id"]
        cfg = imgs[0]["Config"]
        assert cfg["Labels"] == {"org.example.k": "v1"}
        assert cfg["Cmd"] == ["cat", "/app/status"]
        assert cfg["WorkingDir"] == "/app"
        assert "GREETING=hello" in cfg["Env"]
    finally:
        for n in names:
            api.remove_image(n)


def _write(d: Path, name: str, text: str) -> Path:
    p = d / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def test_target_build_context_and_file_flag(tmp_path: Path, run_bxtui) -> None:  # type: ignore[no-untyped-def]
    ctx, extra, dfdir = tmp_path / "ctx", tmp_path / "extra", tmp_path / "df"
    _write(ctx, "main.txt", "from the main context\n")
    _write(extra, "named.txt", "from the named context\n")
    df = _write(dfdir, "build.Dockerfile",
                "FROM busybox:local AS first\n"
                "COPY main.txt /\n"
                "COPY --from=extra named.txt /\n"
                "RUN cat /main.txt /named.txt\n"
                "FROM first AS second\n"
                "RUN echo second-stage-ran && exit 9\n")
    res = run_bxtui(
        "build", "--progress=plain", "--no-cache", "-f", str(df), "--target", "first",
        "--build-context", f"extra={extra}", "-o", f"type=local,dest={tmp_path / 'out'}",
        str(ctx),
    )
    assert res.returncode == 0, res.stderr
    assert "from the named context" in res.stderr
    assert "second-stage-ran" not in res.stderr
    assert (tmp_path / "out" / "named.txt").read_text() == "from the named context\n"
    assert (tmp_path / "out" / "main.txt").read_text() == "from the main context\n"


def test_tar_output(tmp_path: Path, run_bxtui) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "result.tar"
    res = run_bxtui("build", "--progress=plain", "-o", f"type=tar,dest={out}",
                    str(EXAMPLES / "success"))
    assert res.returncode == 0, res.stderr
    with tarfile.open(out) as tf:
        member = tf.extractfile("app/status")
        assert member is not None and member.read() == b"built ok\n"


def test_add_host_network_none_platform(tmp_path: Path, run_bxtui) -> None:  # type: ignore[no-untyped-def]
    _write(tmp_path, "Dockerfile",
           "FROM busybox:local\n"
           "RUN grep 'myhost' /etc/hosts && grep -c : /proc/net/dev > /ifaces && cat /ifaces\n")
    res = run_bxtui(
        "build", "--progress=plain", "--no-cache", "--add-host", "myhost:10.1.2.3",
        "--network", "none", "--platform", "linux/amd64", str(tmp_path),
    )
    assert res.returncode == 0, res.stderr
    assert "10.1.2.3" in res.stderr and "myhost" in res.stderr
    # only the loopback interface exists without a network
    assert any(line.endswith(" 1") for line in res.stderr.splitlines() if line.startswith("#"))


def test_no_cache_filter_reruns_only_that_stage(tmp_path: Path, run_bxtui) -> None:  # type: ignore[no-untyped-def]
    _write(tmp_path, "Dockerfile",
           "FROM busybox:local AS a\nRUN echo stage-a > /a\n"
           "FROM busybox:local AS b\nCOPY --from=a /a /a\nRUN echo stage-b > /b\n")
    first = run_bxtui("build", "--progress=plain", str(tmp_path))
    assert first.returncode == 0, first.stderr
    again = run_bxtui("build", "--progress=plain", "--no-cache-filter", "b", str(tmp_path))
    assert again.returncode == 0, again.stderr
    steps = parse_plain(again.stderr)
    ends = {steps.names[n]: steps.ends.get(n, "") for n in steps.names}
    a_run = [e for name, e in ends.items() if "RUN echo stage-a" in name]
    b_run = [e for name, e in ends.items() if "RUN echo stage-b" in name]
    assert a_run == ["CACHED"], ends
    assert b_run and b_run[0].startswith("DONE"), ends
