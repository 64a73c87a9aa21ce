"""buildx builder instances, end to end: store files written by the real docker-buildx
(``create``/``use`` in a temporary BUILDX_CONFIG), builds by bxtui and by buildx on them.

Real: docker-buildx writing the store, the docker driver (a docker context → the engine),
the engine's BuildKit behind every builder, the Engine exec API (hijack, multiplexed frames)
for the docker-container driver.  Stand-ins (tests/support/dialstdio_standin.py and
buildkitd_relay.py): the remote builder's buildkitd (mutual-TLS relay to the engine's /grpc),
``buildctl dial-stdio`` inside the builder container (a script piping to that /grpc), and
``kubectl`` with its cluster.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from buildkitd_relay import TLSRelay, make_certs
from conftest import EXAMPLES, bxtui_binary
from dialstdio_standin import (
    GrpcTCPRelay,
    remove_container,
    standin_builder_container,
    write_standin_kubectl,
)
from dockerapi import DockerAPI

from tui.buildkit.address import parse_address

pytestmark = pytest.mark.daemon


class Tools:
    """bxtui and docker-buildx run with a private docker config and buildx store."""

    def __init__(self, tmp: Path, docker_host: str, buildx: str) -> None:
        self.tmp = tmp
        self.buildx = buildx
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("DOCKER_", "BUILDX_", "BUILDKIT_"))}
        self.env.update({"DOCKER_HOST": docker_host, "DOCKER_CONFIG": str(tmp / "docker"),
                         "BUILDX_CONFIG": str(tmp / "buildx"), "TMPDIR": str(tmp / "t"),
                         "BUILDX_NO_DEFAULT_ATTESTATIONS": "1"})
        (tmp / "t").mkdir()
        (tmp / "docker").mkdir()

    def run(self, argv: list[str], extra: dict[str, str] | None = None,
            drop: tuple[str, ...] = (), **kw: object) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in self.env.items() if k not in drop}
        env.update(extra or {})
        return subprocess.run(argv, env=env, capture_output=True, text=True,  # type: ignore[call-overload, no-any-return]
                              timeout=120, **kw)

    def buildx_ok(self, *args: str, **kw: object) -> str:
        res = self.run([self.buildx, *args], **kw)  # type: ignore[arg-type]
        assert res.returncode == 0, res.stderr
        return res.stdout

    def bxtui(self, *args: str, **kw: object) -> subprocess.CompletedProcess[str]:
        return self.run([bxtui_binary(), "build", "--progress=plain", *args], **kw)  # type: ignore[arg-type]


@pytest.fixture
def tools(tmp_path: Path, docker_host: str, buildx: str) -> Tools:
    return Tools(tmp_path, docker_host, buildx)


def _out(tools: Tools, name: str) -> tuple[str, Path]:
    dest = tools.tmp / name
    return f"type=local,dest={dest}", dest / "app" / "status"


def test_docker_driver_instance_is_its_context(tools: Tools, docker_host: str) -> None:
    ctx = f"bxinst-{uuid.uuid4().hex[:8]}"
    # as `docker context create CTX --docker host=...` writes it (real buildx reads it below)
    meta = tools.tmp / "docker" / "contexts" / "meta" / hashlib.sha256(ctx.encode()).hexdigest()
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(json.dumps({
        "Name": ctx, "Metadata": {},
        "Endpoints": {"docker": {"Host": docker_host, "SkipTLSVerify": False}}}))
    extra = {"DOCKER_CONTEXT": ctx}
    # buildx: the builder named after the context is its docker driver
    assert "docker" in tools.buildx_ok("inspect", ctx, extra=extra, drop=("DOCKER_HOST",))
    spec, status = _out(tools, "o1")
    res = tools.bxtui("--builder", ctx, "-o", spec, str(EXAMPLES / "success"),
                      extra={"DOCKER_HOST": "unix:///nonexistent.sock"})
    assert res.returncode == 0, res.stderr
    assert f"Docker Engine at {docker_host} (from --builder '{ctx}')" in res.stderr
    assert status.read_text() == "built ok\n"
    peer = tools.run([tools.buildx, "--builder", ctx, "build", "-q", str(EXAMPLES / "success")],
                     extra=extra, drop=("DOCKER_HOST",))
    assert peer.returncode == 0, peer.stderr
    assert not list((tools.tmp / "t").iterdir())


def test_remote_instance_with_tls_selected_by_use(tools: Tools, docker_host: str) -> None:
    certs = make_certs(tools.tmp)
    relay = TLSRelay(parse_address(docker_host, "docker", "test"), certs)
    try:
        tools.buildx_ok("create", "--name", "Rem", "--driver", "remote", "--driver-opt",
                        f"cacert={certs.ca},cert={certs.client_cert},key={certs.client_key}",
                        f"tcp://127.0.0.1:{relay.port}")
        tools.buildx_ok("use", "Rem")
        spec, status = _out(tools, "o2")
        res = tools.bxtui("-o", spec, str(EXAMPLES / "success"))  # no --builder: `use` decides
        assert res.returncode == 0, res.stderr
        assert (f"buildkitd at tcp://127.0.0.1:{relay.port} "
                f'(from docker buildx use "Rem" (remote driver))') in res.stderr
        assert status.read_text() == "built ok\n"
        seen = relay.connections
        peer = tools.run([tools.buildx, "build", "-q", str(EXAMPLES / "success")])
        assert peer.returncode == 0, peer.stderr
        assert relay.connections > seen  # buildx went to the same stand-in
        # a CA that did not sign the server: one clear line
        tools.buildx_ok("create", "--name", "remwrong", "--driver", "remote", "--driver-opt",
                        f"cacert={certs.other_ca},cert={certs.client_cert},"
                        f"key={certs.client_key}", f"tcp://127.0.0.1:{relay.port}")
        bad = tools.bxtui("--builder", "remwrong", str(EXAMPLES / "success"))
        assert bad.returncode != 0
        assert "CERTIFICATE_VERIFY_FAILED" in bad.stderr, bad.stderr  # grpc's words
        assert bad.stderr.startswith('ERROR: cannot reach buildkitd at tcp://127.0.0.1:')
        assert len(bad.stderr.strip().splitlines()) == 1
    finally:
        relay.close()


@pytest.fixture
def grpc_relay(docker_host: str) -> Iterator[GrpcTCPRelay]:
    relay = GrpcTCPRelay(parse_address(docker_host, "docker", "test"))
    yield relay
    relay.close()


def test_docker_container_instance_over_exec_api(tools: Tools, docker_host: str,
                                                 grpc_relay: GrpcTCPRelay) -> None:
    name = f"bxdc{uuid.uuid4().hex[:8]}"
    tools.buildx_ok("create", "--name", name, "--driver", "docker-container")
    container = f"buildx_buildkit_{name}0"
    api = DockerAPI(docker_host)
    missing = tools.bxtui("--builder", name, str(EXAMPLES / "success"))
    assert missing.returncode != 0
    assert f"container {container} not found" in missing.stderr
    assert "Traceback" not in missing.stderr and len(missing.stderr.strip().splitlines()) == 1
    try:
        standin_builder_container(docker_host, container, grpc_relay.port, tools.tmp / "bin")
        spec, status = _out(tools, "o3")
        res = tools.bxtui("-o", spec, "--invoke", "/bin/sh", str(EXAMPLES / "fail-run"),
                          input="cat /work/partial.txt; echo EXEC_$((40+2)); exit 0\n",
                          extra={"BUILDX_BUILDER": name})
        assert res.returncode == 1, res.stderr
        assert f'buildkitd at docker-container://{container} (from BUILDX_BUILDER "{name}"' \
            in res.stderr
        assert "EXEC_42" in res.stdout and "partial output" in res.stdout, res.stderr
        # one exec per connection: the build's channel, then the shell's own stream
        assert grpc_relay.connections >= 2
        log = tools.tmp / "debug.log"
        res = tools.bxtui("--builder", name, "-o", spec, "--debug-file", str(log),
                          str(EXAMPLES / "success"))
        assert res.returncode == 0, res.stderr
        assert status.read_text() == "built ok\n"
        # the exec's stderr came in stream-2 frames, kept out of the gRPC bytes, into the log
        assert f"dial-stdio in {container} (stream 2): stand-in dial-stdio to 127.0.0.1:" \
            in log.read_text()
        seen = grpc_relay.connections
        peer = tools.run([tools.buildx, "--builder", name, "build", "-q",
                          str(EXAMPLES / "success")])
        assert peer.returncode == 0, peer.stderr
        assert grpc_relay.connections > seen  # buildx dialled through the same stand-in
        assert not list((tools.tmp / "t").iterdir())
    finally:
        remove_container(api, container)


def test_kubernetes_instance_through_kubectl(tools: Tools, grpc_relay: GrpcTCPRelay) -> None:
    kubeconfig = tools.tmp / "kubeconfig"  # never contacted: buildx create only records it
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\nclusters:\n- cluster: {server: 'https://127.0.0.1:1'}\n"
        "  name: c\ncontexts:\n- context: {cluster: c, user: u}\n  name: c\n"
        "current-context: c\nusers:\n- name: u\n  user: {token: x}\n")
    tools.buildx_ok("create", "--name", "kube", "--driver", "kubernetes", "--driver-opt",
                    "namespace=bk", extra={"KUBECONFIG": str(kubeconfig)})
    argv_log = tools.tmp / "kubectl.log"
    bindir = tools.tmp / "kbin"
    write_standin_kubectl(bindir, grpc_relay.port, argv_log)
    spec, status = _out(tools, "o4")
    res = tools.bxtui("--builder", "kube", "-o", spec, str(EXAMPLES / "success"),
                      extra={"PATH": f"{bindir}:{os.environ['PATH']}"})
    assert res.returncode == 0, res.stderr
    assert status.read_text() == "built ok\n"
    calls = argv_log.read_text().splitlines()
    assert calls[0].startswith(f"--kubeconfig={kubeconfig} --namespace=bk get pods --selector=app=")
    assert f"--kubeconfig={kubeconfig} --namespace=bk exec -i buildkit-pod-a " \
        "--container=buildkitd -- buildctl dial-stdio" in calls[1:]
