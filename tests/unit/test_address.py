import hashlib
import json
from pathlib import Path

import pytest

from tui.buildkit.address import AddressError, TLSFiles, parse_address, resolve_builder


def test_addr_flag_wins_and_is_buildkitd() -> None:
    env = {"BUILDKIT_HOST": "tcp://b:1", "DOCKER_HOST": "unix:///d.sock"}
    ep = resolve_builder(addr="unix:///run/buildkit/buildkitd.sock", env=env)
    assert (ep.kind, ep.scheme, ep.location, ep.source) == (
        "buildkitd", "unix", "/run/buildkit/buildkitd.sock", "--addr")


def test_buildkit_host_before_docker_host() -> None:
    ep = resolve_builder(env={"BUILDKIT_HOST": "tcp://10.0.0.1:1234", "DOCKER_HOST": "unix:///x"})
    assert (ep.kind, ep.location, ep.source) == ("buildkitd", "10.0.0.1:1234", "BUILDKIT_HOST")


def test_docker_host_is_docker() -> None:
    ep = resolve_builder(env={"DOCKER_HOST": "unix:///tmp/d.sock", "HOME": "/nonexistent"})
    assert (ep.kind, ep.scheme, ep.location) == ("docker", "unix", "/tmp/d.sock")
    assert ep.url == "unix:///tmp/d.sock"


def test_default_socket(tmp_path: Path) -> None:
    ep = resolve_builder(env={"HOME": str(tmp_path)})
    assert ep.url == "unix:///var/run/docker.sock"
    assert "default Docker socket" in ep.describe()


def _write_context(home: Path, name: str, host: str, current: bool = True) -> None:
    cfg = home / ".docker"
    meta = cfg / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest()
    meta.mkdir(parents=True)
    doc = {"Name": name, "Endpoints": {"docker": {"Host": host}}}
    (meta / "meta.json").write_text(json.dumps(doc))
    if current:
        (cfg / "config.json").write_text(json.dumps({"currentContext": name}))


def test_current_docker_context(tmp_path: Path) -> None:
    _write_context(tmp_path, "remote", "tcp://192.0.2.1:2375")
    ep = resolve_builder(env={"HOME": str(tmp_path)})
    assert (ep.kind, ep.location) == ("docker", "192.0.2.1:2375")
    assert "docker context" in ep.source


def test_builder_flag_names_context(tmp_path: Path) -> None:
    _write_context(tmp_path, "other", "unix:///tmp/other.sock", current=False)
    ep = resolve_builder(builder="other", env={"HOME": str(tmp_path), "DOCKER_HOST": "unix:///x"})
    assert ep.location == "/tmp/other.sock"
    with pytest.raises(AddressError, match=r"^no builder \"missing\" found"):
        resolve_builder(builder="missing", env={"HOME": str(tmp_path)})


def test_builder_default_means_docker_host() -> None:
    ep = resolve_builder(builder="default", env={"DOCKER_HOST": "unix:///y.sock"})
    assert ep.location == "/y.sock"


@pytest.mark.parametrize("bad", ["ssh://host", "tcp://", "unix://", "tcp://h:notaport"])
def test_bad_addresses(bad: str) -> None:
    with pytest.raises(AddressError):
        parse_address(bad, "buildkitd", "--addr")


def test_tcp_default_port_and_tls(tmp_path: Path) -> None:
    tls = TLSFiles(str(tmp_path / "ca.pem"))
    ep = parse_address("tcp://127.0.0.1", "buildkitd", "--addr", tls)
    assert ep.location == "127.0.0.1:1234" and ep.tls is tls
    with pytest.raises(AddressError, match="cannot read TLS file"):
        tls.read()


def test_docker_cert_path_leaves_out_missing_files(tmp_path: Path) -> None:
    # as the docker CLI does: a missing cert.pem/key.pem means no client certificate
    (tmp_path / "ca.pem").write_text("x")
    ep = resolve_builder(env={"DOCKER_HOST": "tcp://127.0.0.1", "DOCKER_TLS_VERIFY": "1",
                              "DOCKER_CERT_PATH": str(tmp_path)})
    assert ep.location == "127.0.0.1:2376" and ep.tls is not None
    assert ep.tls.ca == str(tmp_path / "ca.pem") and ep.tls.cert is None and ep.tls.key is None


def test_docker_tls_without_verify(tmp_path: Path) -> None:
    # DOCKER_TLS alone: TLS (client certificate if present) without checking the server
    env = {"DOCKER_HOST": "tcp://127.0.0.1:1", "DOCKER_TLS": "1", "DOCKER_CERT_PATH": str(tmp_path)}
    tls = resolve_builder(env=env).tls
    assert tls is not None and not tls.verify
    tls = resolve_builder(env=env | {"DOCKER_TLS_VERIFY": "1"}).tls
    assert tls is not None and tls.verify
    assert resolve_builder(env={"DOCKER_HOST": "tcp://127.0.0.1:1"}).tls is None
