"""The buildkitd transports (unix://, tcp:// with mutual TLS) and the Docker hijack."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from buildkitd_relay import DockerTLSProxy, TLSRelay, make_certs, unix_relay
from conftest import EXAMPLES

from tui.buildkit.address import parse_address

pytestmark = pytest.mark.daemon


@pytest.fixture(scope="module")
def docker_ep(docker_host: str):  # type: ignore[no-untyped-def]
    return parse_address(docker_host, "docker", "test")


def test_buildkitd_over_unix(tmp_path: Path, docker_ep, run_bxtui) -> None:  # type: ignore[no-untyped-def]
    sock = str(tmp_path / "buildkitd.sock")
    relay = unix_relay(docker_ep, sock)
    try:
        private = tmp_path / "tmp"  # a TMPDIR of its own: others share /tmp
        private.mkdir()
        res = run_bxtui(
            "build", "--progress=plain", "--addr", f"unix://{sock}", "-o",
            f"type=local,dest={tmp_path / 'out'}", str(EXAMPLES / "success"),
            env={"DOCKER_HOST": "unix:///nonexistent.sock", "TMPDIR": str(private)},
        )
        assert res.returncode == 0, res.stderr
        assert "buildkitd at unix://" in res.stderr
        # the session ran over Control.Session: the context arrived and the export came back
        assert (tmp_path / "out" / "app" / "status").read_text() == "built ok\n"
        assert not list(private.iterdir()), "private directory left behind"
    finally:
        relay.close()


def test_buildkitd_over_tcp_with_mutual_tls(tmp_path: Path, docker_ep, run_bxtui) -> None:  # type: ignore[no-untyped-def]
    certs = make_certs(tmp_path)
    relay = TLSRelay(docker_ep, certs)
    try:
        res = run_bxtui(
            "build", "--progress=plain", "--addr", f"tcp://127.0.0.1:{relay.port}",
            "--tlscacert", certs.ca, "--tlscert", certs.client_cert, "--tlskey", certs.client_key,
            str(EXAMPLES / "fail-run"),
        )
        assert res.returncode == 1, res.stderr
        assert ">>> RUN echo \"partial output\"" in res.stderr
        assert "exit code: 3" in res.stderr
        assert relay.connections >= 1
        # a shell in the failed step: its stream is a connection of its own (TLS, ALPN h2)
        before = relay.connections
        res = run_bxtui(
            "build", "--progress=plain", "--addr", f"tcp://127.0.0.1:{relay.port}",
            "--tlscacert", certs.ca, "--tlscert", certs.client_cert, "--tlskey", certs.client_key,
            "--invoke", "/bin/sh", str(EXAMPLES / "fail-run"), input=SHELL_INPUT,
        )
        assert res.returncode == 1, res.stderr
        assert "EXEC_42" in res.stdout and "partial output" in res.stdout, res.stderr
        assert relay.connections >= before + 2  # the build's channel, the process's stream
    finally:
        relay.close()


#: Typed into a shell in fail-run's failed step: proves the process runs and reads stdin.
SHELL_INPUT = "cat /work/partial.txt; echo EXEC_$((40+2)); exit 0\n"


def test_shell_over_buildkitd_unix_socket(tmp_path: Path, docker_ep, run_bxtui) -> None:  # type: ignore[no-untyped-def]
    sock = str(tmp_path / "buildkitd.sock")
    relay = unix_relay(docker_ep, sock)
    try:
        res = run_bxtui("build", "--progress=plain", "--addr", f"unix://{sock}", "--invoke",
                        "/bin/sh", str(EXAMPLES / "fail-run"), input=SHELL_INPUT,
                        env={"DOCKER_HOST": "unix:///nonexistent.sock"})
        assert res.returncode == 1, res.stderr
        assert "EXEC_42" in res.stdout and "partial output" in res.stdout, res.stderr
        assert "debug process exited with status 0" in res.stderr
    finally:
        relay.close()


def test_tls_wrong_ca_is_one_clear_line(tmp_path: Path, docker_ep, run_bxtui) -> None:  # type: ignore[no-untyped-def]
    certs = make_certs(tmp_path)
    relay = TLSRelay(docker_ep, certs)
    try:
        # a hang would fail through the timeout; speed is not asserted here
        res = run_bxtui(
            "build", "--addr", f"tcp://127.0.0.1:{relay.port}",
            "--tlscacert", certs.other_ca, "--tlscert", certs.client_cert,
            "--tlskey", certs.client_key, str(EXAMPLES / "success"), timeout=30,
        )
    finally:
        relay.close()
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert f"127.0.0.1:{relay.port}" in lines[0]


@pytest.mark.parametrize(
    "env,args,needle",
    [
        ({"DOCKER_HOST": "unix:///nonexistent/docker.sock"}, [], "unix:///nonexistent/docker.sock"),
        ({}, ["--addr", "unix:///nonexistent/buildkitd.sock"], "unix:///nonexistent/buildkitd.sock"),
        ({}, ["--addr", "tcp://127.0.0.1:9"], "127.0.0.1:9"),
    ],
)
def test_unreachable_daemon_fails_fast(env, args, needle, run_bxtui) -> None:  # type: ignore[no-untyped-def]
    # the 2 s reach limit is the client's; a hang fails through the run's timeout
    res = run_bxtui("build", *args, str(EXAMPLES / "success"), env=env, timeout=30)
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], res.stderr
    assert "Traceback" not in res.stderr


def test_private_socket_dir_is_0700_and_removed(docker_host: str) -> None:
    import asyncio

    from tui.buildkit.client import BuildkitClient

    async def go() -> tuple[str, int, bool]:
        client = await BuildkitClient.open(parse_address(docker_host, "docker", "test"))
        path = client.private.path
        mode = stat.S_IMODE(os.stat(path).st_mode)
        sock_exists = any(p.suffix == ".sock" for p in path.iterdir())
        await client.close()
        return str(path), mode, sock_exists

    path, mode, sock_exists = asyncio.run(go())
    assert mode == 0o700
    assert sock_exists
    assert not os.path.exists(path)


def test_docker_engine_over_tcp_with_tls(tmp_path: Path, docker_ep, run_bxtui) -> None:  # type: ignore[no-untyped-def]
    certs = make_certs(tmp_path)
    certdir = tmp_path / "docker-certs"
    certdir.mkdir()
    for src, dst in ((certs.ca, "ca.pem"), (certs.client_cert, "cert.pem"),
                     (certs.client_key, "key.pem")):
        (certdir / dst).write_bytes(Path(src).read_bytes())
    proxy = DockerTLSProxy(docker_ep, certs)
    try:
        res = run_bxtui(
            "build", "--progress=plain", "-o", f"type=local,dest={tmp_path / 'out'}",
            str(EXAMPLES / "success"),
            env={"DOCKER_HOST": f"tcp://127.0.0.1:{proxy.port}", "DOCKER_TLS_VERIFY": "1",
                 "DOCKER_CERT_PATH": str(certdir)},
        )
        assert res.returncode == 0, res.stderr
        assert f"Docker Engine at tcp://127.0.0.1:{proxy.port}" in res.stderr
        assert (tmp_path / "out" / "app" / "status").read_text() == "built ok\n"
        assert proxy.connections >= 3  # ping, /grpc, /session
        res = run_bxtui(
            "build", "--progress=plain", "--invoke", "/bin/sh", str(EXAMPLES / "fail-run"),
            input=SHELL_INPUT,
            env={"DOCKER_HOST": f"tcp://127.0.0.1:{proxy.port}", "DOCKER_TLS_VERIFY": "1",
                 "DOCKER_CERT_PATH": str(certdir)},
        )
        assert res.returncode == 1, res.stderr
        assert "EXEC_42" in res.stdout and "partial output" in res.stdout, res.stderr
    finally:
        proxy.close()
